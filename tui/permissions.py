"""Who may take which action: the one place the console decides what to offer.

This mirrors the workflow's rules in ``domain/casefile.py`` (the ``check_*``
methods) only to *hide* what a role may not do. The workflow still checks every
action it receives; anything this module lets through that the workflow refuses
is shown with the workflow's own message.

* decide, return for supplement: a reviewer, for the reviewer's own department
* approve / reject on behalf: a supervisor
* extend, reassign, urge: a coordinator or a supervisor
* start / end a special procedure: a coordinator, a supervisor, or a reviewer of
  a department with a part in the task
* record a supplement: a window clerk
* withdraw: a window clerk or a coordinator
"""

from __future__ import annotations

from enum import StrEnum

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


COORDINATING = frozenset({Role.COORDINATOR, Role.SUPERVISOR})

ROLES: dict[Act, frozenset[Role]] = {
    Act.DECIDE: frozenset({Role.REVIEWER}),
    Act.RETURN: frozenset({Role.REVIEWER}),
    Act.EXTEND: COORDINATING,
    Act.REASSIGN: COORDINATING,
    Act.URGE: COORDINATING,
    Act.SPECIAL_START: COORDINATING | {Role.REVIEWER},
    Act.SPECIAL_END: COORDINATING | {Role.REVIEWER},
    Act.SUPPLEMENT: frozenset({Role.WINDOW_CLERK}),
    Act.APPROVE_ON_BEHALF: frozenset({Role.SUPERVISOR}),
    Act.REJECT_ON_BEHALF: frozenset({Role.SUPERVISOR}),
    Act.WITHDRAW: frozenset({Role.WINDOW_CLERK, Role.COORDINATOR}),
}

#: Actions that can be sent to several marked cases at once.
BULK: tuple[Act, ...] = (Act.URGE, Act.REASSIGN)

#: The key each action has on the case screen and in the case list.
KEYS: dict[Act, str] = {
    Act.DECIDE: "d",
    Act.RETURN: "b",
    Act.EXTEND: "e",
    Act.REASSIGN: "r",
    Act.URGE: "u",
    Act.SPECIAL_START: "t",
    Act.SPECIAL_END: "T",
    Act.SUPPLEMENT: "m",
    Act.APPROVE_ON_BEHALF: "a",
    Act.REJECT_ON_BEHALF: "x",
    Act.WITHDRAW: "w",
}

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
        tasks = [t for t in tasks if t.status is TaskStatus.OPEN]
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
