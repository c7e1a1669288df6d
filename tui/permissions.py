"""Who may take which action: the one place the console decides what to offer.

Who may take an action is declared once, in ``domain/action_catalog.py`` (roles and
the department rule); the role gate (``ROLES``, :func:`may`, :func:`offered`) and the
keys (``KEYS``) are derived from it. The console only *hides* what a role may not do:
the workflow still checks every action it receives (``domain/casefile.py``), and
anything this module lets through that the workflow refuses is shown with the
workflow's own message. Which tasks a form may target (:func:`tasks_for`,
:func:`applicable`) is the console's own business and lives here.
"""

from __future__ import annotations

from enum import StrEnum

from domain.action_catalog import console_forms
from domain.case import CaseState, CaseStatus, SuspensionKind, Task, TaskKind, TaskStatus
from domain.roles import Actor, Role


class Act(StrEnum):
    DECIDE = "decide"
    RETURN = "return"
    EXTEND = "extend"
    REASSIGN = "reassign"
    URGE = "urge"
    SPECIAL_START = "special_start"
    SPECIAL_END = "special_end"
    SUPPLEMENT = "supplement"
    APPROVE_ON_BEHALF = "approve_on_behalf"
    REJECT_ON_BEHALF = "reject_on_behalf"
    WITHDRAW = "withdraw"


#: Who may open each form: the roles declared for the action it sends.
ROLES: dict[Act, frozenset[Role]] = {Act(form.act): spec.roles for spec, form in console_forms()}

#: Actions that can be sent to several marked cases at once.
BULK: tuple[Act, ...] = (Act.URGE, Act.REASSIGN)

#: The key each action has on the case screen and in the case list (declared with it).
KEYS: dict[Act, str] = {Act(form.act): form.key for _, form in console_forms()}

if set(ROLES) != set(Act):
    raise RuntimeError(
        "tui.permissions.Act and the console forms in domain/action_catalog.py differ"
    )

#: Kinds a person may start by hand (a supplement stop starts with a return).
MANUAL_SUSPENSIONS: tuple[SuspensionKind, ...] = tuple(
    k for k in SuspensionKind if k not in (SuspensionKind.SUPPLEMENT, SuspensionKind.APPLICANT)
)


def may(actor: Actor, act: Act) -> bool:
    """Whether the actor's role may take this action at all."""
    return actor.role in ROLES[act]


def offered(actor: Actor) -> list[Act]:
    """The actions to show this actor, in menu order."""
    return [act for act in Act if may(actor, act)]


def _decidable(task: Task) -> bool:
    return task.status is TaskStatus.OPEN and task.kind is not TaskKind.APPLICANT_EVENT


def _undecided(task: Task) -> list[str]:
    return [p.department for p in task.parts if p.verdict is None]


def waits_on_applicant(task: Task) -> bool:
    """The task waits for the applicant (returned for supplement, the window's
    补齐材料, an applicant's event): urging its department changes nothing."""
    return task.status is TaskStatus.RETURNED or task.kind in (
        TaskKind.MATERIALS,
        TaskKind.APPLICANT_EVENT,
    )


def tasks_for(actor: Actor, act: Act, state: CaseState) -> list[Task]:
    """The tasks of ``state`` the form for ``act`` may target, for this actor."""
    if state.status is not CaseStatus.RUNNING or not may(actor, act):
        return []
    tasks = state.open_tasks
    if act in (Act.DECIDE, Act.RETURN):
        own = actor.department or ""
        return [t for t in tasks if _decidable(t) and own in _undecided(t)]
    if act in (Act.APPROVE_ON_BEHALF, Act.REJECT_ON_BEHALF):
        return [t for t in tasks if _decidable(t) and _undecided(t)]
    if act is Act.EXTEND:
        return [t for t in tasks if t.clock is not None and not t.clock.extended]
    if act in (Act.REASSIGN, Act.URGE):
        return [t for t in tasks if _undecided(t)]
    if act is Act.SPECIAL_START:
        from domain.casefile import CASE_CLOCK_ONLY_KINDS

        running = {
            s.task_id
            for s in state.suspensions
            if s.end is None and s.kind not in CASE_CLOCK_ONLY_KINDS
        }
        tasks = [t for t in tasks if t.status is TaskStatus.OPEN and t.id not in running]
        if actor.role is Role.REVIEWER:
            tasks = [t for t in tasks if t.part(actor.department or "") is not None]
        return tasks
    if act is Act.SUPPLEMENT:
        return [t for t in tasks if t.status is TaskStatus.RETURNED]
    return tasks


def open_special_procedures(actor: Actor, state: CaseState) -> list:
    """Running special procedures this actor could end."""
    if not may(actor, Act.SPECIAL_END) or state.status is not CaseStatus.RUNNING:
        return []
    result = []
    for suspension in state.suspensions:
        if suspension.end is not None or suspension.kind in (
            SuspensionKind.SUPPLEMENT,
            SuspensionKind.APPLICANT,
        ):
            continue
        if actor.role is Role.REVIEWER:
            task = state.task(suspension.task_id) if suspension.task_id else None
            if task is None or task.part(actor.department or "") is None:
                continue
        result.append(suspension)
    return result


def applicable(actor: Actor, act: Act, state: CaseState) -> bool:
    """Whether the action has something to act on in this case for this actor."""
    if not may(actor, act) or state.status is not CaseStatus.RUNNING:
        return False
    if act is Act.WITHDRAW:
        return True
    if act is Act.EXTEND:
        return True  # the whole case's limit, or a task's
    if act is Act.SPECIAL_END:
        return bool(open_special_procedures(actor, state))
    return bool(tasks_for(actor, act, state))
