"""Drives cases as departments and the window would, while their servers die under them.

Unlike ``onechain simulate`` (which reads open tasks from the read model and gives up
on an action that timed out), this driver must know, for every action, whether the
case took it: the chaos test later compares each case with exactly that. So it

* reads each case's authoritative state with a Query (never the read model),
* decides each department part as :class:`simulator.policy.Policy` says for the run's
  seed (``slow`` is 0: nobody waits for a red card here),
* sends every action with its own request id and, when the call fails for a reason
  that is not the workflow's refusal (server down, no worker, timeout), sends the SAME
  action again (same id, so Temporal applies it once) until it gets an answer,
* takes a refusal that comes after such a retry ("already decided") as success only
  when the case's history shows this very action applied by this service account;
  otherwise it counts as refused and the test fails on it.

Everything it does is counted (:class:`Tally`) and every accepted action is kept
(:class:`Applied`) for the end checks.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from client.facade import ActionRejected, CaseAlreadyExists, CaseDesk, CaseError, CaseRequest
from domain.actions import Action, Decide, RecordSupplement, ReportApplicantEvent, SupplyMaterials
from domain.case import Applicant, CaseState, Event, Task, TaskKind, TaskStatus, Verdict
from domain.casefile import NOT_DECIDED_KINDS
from simulator.actors import WINDOW, reviewer
from simulator.policy import Choice, Policy

T = TypeVar("T")

#: A Query's patience: one that gets no answer in this time is sent again (the facade's
#: own Query timeout is 15 s).
QUERY_TIMEOUT = 20.0
#: An action's patience, shorter than a worker's restart (5-10 s here), so that actions in
#: flight when a worker dies are sent again with the same id: Temporal must apply them once.
ACTION_TIMEOUT = 5.0
#: Pause between attempts of one call while the server or the worker is down.
RETRY_PAUSE = 0.5
VERDICTS = {
    Choice.APPROVE: Verdict.APPROVE,
    Choice.RETURN: Verdict.RETURN,
    Choice.REJECT: Verdict.REJECT,
}
#: The history event each kind of action leaves (``domain.casefile`` / ``domain.intake``).
EVENT_KIND = {
    "approve": "decided",
    "reject": "decided",
    "return": "returned",
    "supplement": "supplemented",
    "materials": "materials_supplied",
    "event": "applicant_event",
}


#: Temporal's answer when no worker polled the case's queue lately. The facade now
#: raises ``WorkerUnavailable`` for it; a refusal that says it (an older facade worded
#: every FAILED_PRECONDITION as "case … is closed") is still not taken as a refusal.
NO_POLLER = "no poller seen for task queue recently"


def worker_down(refused: Exception) -> bool:
    """A "refusal" that only says no worker is polling (see ``NO_POLLER``)."""
    return NO_POLLER in str(refused)


def _gist(error: Exception) -> str:
    """The part of a message that says what happened, without the case number."""
    if worker_down(error):
        return NO_POLLER
    text = str(error)
    return (text.split(": ", 1)[1] if text.startswith("case ") and ": " in text else text)[:50]


class Stuck(AssertionError):
    """A case did not reach its end within the run's patience."""


@dataclass(frozen=True)
class Applied:
    """One action the case took, as this driver learnt it."""

    case_no: str
    what: str  # approve / reject / return / supplement / materials / event
    task_id: str | None
    department: str | None  # the deciding department (None for the window)
    request_id: str
    attempts: int
    how: str  # "answer" (the Update's own reply) or "history" (confirmed after a refusal)


@dataclass
class Tally:
    """What the driver did, for the run's printed counts."""

    counts: Counter[str] = field(default_factory=Counter)
    #: Exceptions that made the driver send a call again, by type.
    transient: Counter[str] = field(default_factory=Counter)
    refusals: list[str] = field(default_factory=list)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n


def event_signature(event: Event) -> tuple[str, str | None, str | None, str | None]:
    """(kind, task, department, verdict) of a history event an action leaves."""
    verdict = event.data.get("verdict") if event.kind == "decided" else None
    return (event.kind, event.task_id, event.department, verdict)


def action_signature(
    what: str, task_id: str | None, department: str | None
) -> tuple[str, str | None, str | None, str | None]:
    verdict = what if what in ("approve", "reject") else None
    dept = department if what in ("approve", "reject", "return") else None
    return (EVENT_KIND[what], task_id, dept, verdict)


class ChaosDriver:
    """Starts cases and moves them to their end through a signed service account."""

    def __init__(
        self,
        desk: CaseDesk,
        policy: Policy,
        *,
        account_id: str,
        think: float,
        seed: int,
        gate: asyncio.Semaphore,
    ) -> None:
        self.desk = desk
        self.policy = policy
        self.account_id = account_id
        self.think = think
        self.rng = random.Random(seed)
        self.gate = gate
        self.tally = Tally()
        self.applied: list[Applied] = []

    # ------------------------------------------------------------- retrying calls
    async def _answer(
        self,
        what: str,
        call: Callable[[], Awaitable[T]],
        deadline: float,
        *,
        refusals: bool = True,
        timeout: float = ACTION_TIMEOUT,
    ) -> T:
        """``call()``'s answer, asked again after every failure that is not a refusal
        (with ``refusals``, ActionRejected and CaseAlreadyExists go to the caller) until
        ``deadline``."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with self.gate:
                    return await asyncio.wait_for(call(), timeout)
            except (ActionRejected, CaseAlreadyExists) as refused:
                if refusals and not worker_down(refused):
                    raise
                self.tally.transient[f"{what}: {type(refused).__name__}: {_gist(refused)}"] += 1
                if loop.time() > deadline:
                    raise Stuck(f"{what}: no answer before the deadline ({refused!r})") from None
                await asyncio.sleep(RETRY_PAUSE)
            except Exception as error:  # server down, no worker, timeout: try again
                gist = f": {_gist(error)}" if isinstance(error, CaseError) else ""
                self.tally.transient[f"{what}: {type(error).__name__}{gist}"] += 1
                if loop.time() > deadline:
                    raise Stuck(f"{what}: no answer before the deadline ({error!r})") from error
                await asyncio.sleep(RETRY_PAUSE)

    async def state(self, case_no: str, deadline: float) -> CaseState:
        return await self._answer(
            "query",
            lambda: self.desk.state(case_no),
            deadline,
            refusals=False,
            timeout=QUERY_TIMEOUT,
        )

    # ------------------------------------------------------------------- starting
    async def start(self, request: CaseRequest, deadline: float) -> None:
        """Start a case; a start whose reply was lost and that is refused as existing
        on the next try was this driver's own (case numbers are unique to the run)."""
        attempts = 0

        async def once() -> Any:
            nonlocal attempts
            attempts += 1
            return await self.desk.start_case(request)

        try:
            await self._answer("start", once, deadline)
        except CaseAlreadyExists:
            if attempts == 1:
                raise
            self.tally.add("starts confirmed after a retry")
        self.tally.add("cases started")
        self.tally.add("start attempts", attempts)

    # -------------------------------------------------------------------- driving
    async def drive(self, case_no: str, deadline: float) -> CaseState:
        """Act on the case until it concludes; returns its last state."""
        loop = asyncio.get_running_loop()
        while True:
            state = await self.state(case_no, deadline)
            if state.concluded:
                return state
            action = self.next_action(state)
            if action is None:  # nothing for a department or the window: an activity runs
                if loop.time() > deadline:
                    raise Stuck(f"{case_no}: running with nothing to act on ({state.stage})")
                await asyncio.sleep(0.2)
                continue
            await asyncio.sleep(self.rng.uniform(0, self.think))
            await self.send(state, *action, deadline=deadline)

    def next_action(self, state: CaseState) -> tuple[str, Action, Task, str | None] | None:
        """(what, action, task, department) of the first thing to do, if any."""
        for task in state.open_tasks:
            if task.status is TaskStatus.RETURNED and task.missing_items:
                return (
                    "supplement",
                    RecordSupplement(
                        actor=WINDOW, task_id=task.id, items=list(task.missing_items), reason="补齐"
                    ),
                    task,
                    None,
                )
            if task.kind is TaskKind.APPLICANT_EVENT and task.awaits_event:
                return (
                    "event",
                    ReportApplicantEvent(
                        actor=WINDOW, event=task.awaits_event, reason="申请人告知"
                    ),
                    task,
                    None,
                )
            if task.kind is TaskKind.MATERIALS and state.missing_materials:
                items = [m.code for m in state.missing_materials]
                return (
                    "materials",
                    SupplyMaterials(actor=WINDOW, items=items, reason="申请人补齐材料"),
                    task,
                    None,
                )
            if task.kind in NOT_DECIDED_KINDS or task.status is not TaskStatus.OPEN:
                continue
            for part in task.parts:
                if part.verdict is not None:
                    continue
                returned = sum(
                    1
                    for e in state.events
                    if e.kind == "returned"
                    and e.task_id == task.id
                    and e.department == part.department
                )
                decision = self.policy.decide(
                    state.case_no,
                    task.id,
                    part.department,
                    may_return=returned == 0 and task.kind is not TaskKind.VERIFICATION,
                )
                reason = decision.reason or ""
                missing = list(decision.missing_items)
                if decision.choice is Choice.RETURN:
                    missing = [f"{part.department}补充说明材料{len(state.events)}"]
                    reason = f"一次告知需补正：{missing[0]}"
                action = Decide(
                    actor=reviewer(part.department),
                    task_id=task.id,
                    verdict=VERDICTS[decision.choice],
                    reason=reason,
                    missing_items=missing,
                )
                return decision.choice.value, action, task, part.department
        return None

    async def send(
        self,
        before: CaseState,
        what: str,
        action: Action,
        task: Task,
        department: str | None,
        *,
        deadline: float,
    ) -> None:
        """Send one action until the case answers; record it if the case took it."""
        case_no = before.case_no
        action = action.model_copy(update={"request_id": uuid.uuid4().hex})
        signature = action_signature(what, task.id, department)
        seen_before = sum(1 for e in before.events if event_signature(e) == signature)
        attempts = 0

        async def once() -> Any:
            nonlocal attempts
            attempts += 1
            return await self.desk.act(case_no, action)

        self.tally.add("actions sent")
        self.tally.add(f"{what} sent")
        how = "answer"
        try:
            await self._answer(what, once, deadline)
        except ActionRejected as refused:
            after = await self.state(case_no, deadline)
            mine = [
                e
                for e in after.events
                if event_signature(e) == signature and e.actor.user_id == self.account_id
            ]
            if attempts > 1 and len(mine) > seen_before:
                how = "history"
                self.tally.add("refused after a retry, confirmed by history")
            else:
                self.tally.add("refused")
                self.tally.refusals.append(
                    f"{case_no} {what} {task.id} {department or ''} after {attempts} attempt(s): "
                    f"{refused}"
                )
                return
        self.tally.add("actions accepted")
        self.tally.add("attempts", attempts)
        if attempts > 1:
            self.tally.add("actions retried")
        self.applied.append(
            Applied(case_no, what, task.id, department, action.request_id, attempts, how)
        )


def new_request(
    case_no: str, chain: str, form: dict[str, Any], applicant: Applicant, materials: list[str]
) -> CaseRequest:
    return CaseRequest(
        case_no=case_no, chain=chain, applicant=applicant, form=form, materials=materials
    )
