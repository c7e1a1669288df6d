"""The department simulator: watches open tasks in the read model and acts on them
through the facade, as the departments' reviewers and the window would.

* A department part of an open review-like task is decided by a reviewer of that
  department (``Role.REVIEWER``) as :class:`simulator.policy.Policy` says: mostly
  approved, some returned for supplement, a few rejected; "slow" parts are left
  alone until the task is overdue.
* A task returned for supplement gets the missing items recorded by a window clerk
  ``supplement_after`` seconds after the return (``RecordSupplement``).
* A case waiting for materials (一次告知 / 容缺受理) gets them from the window after
  the same delay (``SupplyMaterials``).
* A wait for the applicant (e.g. ``construction_completed``) is reported by the window
  ``complete_after`` seconds after the wait began (``ReportApplicantEvent``).

The read model lags the workflows by a moment, so a part may look open after it was
decided: the simulator remembers what it did and shrugs off the refusal the workflow
gives for a repeat. Decisions are paced to ``rate_per_min``.

A server or worker that is down (killed, restarting) is not a refusal: an action that
got no answer is sent again in a later pass with the same request id, so Temporal
applies it once whether or not the first one landed (tests/chaos/ kills both while
cases are decided).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from client.facade import CaseDesk, CaseError, WorkerUnavailable
from domain.actions import Decide, RecordSupplement, ReportApplicantEvent
from domain.case import Verdict
from domain.departments import department_name
from simulator.actors import WINDOW, reviewer
from simulator.policy import Choice, Policy

#: Task kinds a department decides (approve / return / reject).
DECIDED_KINDS = frozenset(
    {
        "review",
        "joint_survey",
        "drawing_review",
        "combined_evaluation",
        "joint_acceptance",
        "verification",
    }
)
#: Task kinds a verification-like step may not return.
NO_RETURN_KINDS = frozenset({"verification"})
ACTION_TIMEOUT = 15.0
MAX_TRIES = 3  # attempts of one action that the workflow refuses
TASKS_PER_TICK = 500  # rows read per page
VERDICTS = {
    Choice.APPROVE: Verdict.APPROVE,
    Choice.RETURN: Verdict.RETURN,
    Choice.REJECT: Verdict.REJECT,
}


@dataclass(frozen=True)
class OpenTask:
    """One open task as the read model shows it."""

    case_no: str
    chain: str
    task_id: str
    kind: str
    name: str
    status: str  # open / returned
    open_departments: tuple[str, ...]
    started_at: datetime
    warning: str
    returns: int = 0  # times this task was returned for supplement
    returned_at: datetime | None = None


@dataclass(frozen=True)
class ActionLog:
    at: datetime
    case_no: str
    task_id: str
    actor: str
    what: str  # approve / return / reject / supplement / materials / event / refused / timeout
    detail: str = ""


@dataclass
class Stats:
    counts: Counter[str] = field(default_factory=Counter)
    ticks: int = 0
    left_slow: int = 0  # parts left alone in the last tick

    def as_dict(self) -> dict[str, int]:
        return {**dict(self.counts), "ticks": self.ticks, "left_alone": self.left_slow}


def load_open_tasks(
    engine: Any,
    *,
    case_prefix: str | None = None,
    limit: int = TASKS_PER_TICK,
    offset: int = 0,
) -> list[OpenTask]:
    """Open and returned tasks, oldest first, with how often each was returned."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from readmodel.database import read_session
    from readmodel.tables import CaseRecord, EventRecord, TaskRecord

    with read_session(engine) as session:
        stmt = (
            select(TaskRecord, CaseRecord.chain)
            .join(CaseRecord, col(CaseRecord.case_no) == col(TaskRecord.case_no))
            .where(col(TaskRecord.status).in_(["open", "returned"]))
            .order_by(col(TaskRecord.started_at), col(TaskRecord.case_no), col(TaskRecord.task_id))
            .limit(limit)
            .offset(offset)
        )
        if case_prefix:
            stmt = stmt.where(col(TaskRecord.case_no).startswith(case_prefix, autoescape=True))
        rows = list(session.exec(stmt).all())
        case_nos = sorted({task.case_no for task, _ in rows})
        returns: dict[tuple[str, str], tuple[int, datetime]] = {}
        for start in range(0, len(case_nos), 400):
            chunk = case_nos[start : start + 400]
            counted = session.exec(
                select(
                    EventRecord.case_no,
                    EventRecord.task_id,
                    func.count(),
                    func.max(EventRecord.at),
                )
                .where(EventRecord.kind == "returned")
                .where(col(EventRecord.case_no).in_(chunk))
                .group_by(col(EventRecord.case_no), col(EventRecord.task_id))
            ).all()
            for case_no, task_id, count, last in counted:
                if last is not None and last.tzinfo is None:
                    last = last.replace(tzinfo=UTC)
                returns[(case_no, task_id or "")] = (int(count), last)
    result = []
    for task, chain in rows:
        count, last = returns.get((task.case_no, task.task_id), (0, None))
        result.append(
            OpenTask(
                case_no=task.case_no,
                chain=chain,
                task_id=task.task_id,
                kind=task.kind,
                name=task.name,
                status=task.status,
                open_departments=tuple(task.open_departments),
                started_at=task.started_at,
                warning=task.warning,
                returns=count,
                returned_at=last,
            )
        )
    return result


class Simulator:
    """Acts on open tasks through ``desk``; see the module notes."""

    def __init__(
        self,
        desk: CaseDesk,
        policy: Policy,
        *,
        rate_per_min: float = 30.0,
        supplement_after: float = 60.0,
        complete_after: float = 120.0,
        case_prefix: str | None = None,
        engine: Any = None,
        on_action: Callable[[ActionLog], None] | None = None,
        leave_alone: Callable[[str], bool] | None = None,
        action_timeout: float = ACTION_TIMEOUT,
    ) -> None:
        if rate_per_min < 0:
            raise ValueError("rate must be >= 0 (0 = no pacing)")
        self.desk = desk
        self.policy = policy
        self.rate_per_min = rate_per_min
        self.supplement_after = supplement_after
        self.complete_after = complete_after
        self.case_prefix = case_prefix
        self._engine = engine
        self.on_action = on_action
        #: Cases no department acts on (the demo keeps some late cases late).
        self.leave_alone = leave_alone
        self.stats = Stats()
        self._done: set[tuple[str, ...]] = set()
        self._refusals: Counter[tuple[str, ...]] = Counter()
        #: One request id per action, kept for its retries (Temporal applies an id once).
        self._request_ids: dict[tuple[str, ...], str] = {}
        self.action_timeout = action_timeout
        self._next_decision = 0.0

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from readmodel.database import ready_engine
            from runtime.settings import get_settings

            self._engine = ready_engine(get_settings().resolved_database_url)
        return self._engine

    # ------------------------------------------------------------------ loop
    async def run(self, stop: asyncio.Event, *, once: bool = False, poll: float = 2.0) -> Stats:
        """Tick until ``stop`` is set (or once). Each tick reads the open tasks and acts."""
        while not stop.is_set():
            await self.tick(stop)
            if once:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
        return self.stats

    async def tick(self, stop: asyncio.Event | None = None) -> int:
        """One pass over the open tasks; returns how many actions were sent."""
        stop = stop or asyncio.Event()
        self.stats.ticks += 1
        self.stats.left_slow = 0
        sent = 0
        offset = 0
        while not stop.is_set():  # page through every open task, oldest first
            tasks = await asyncio.to_thread(
                load_open_tasks, self.engine, case_prefix=self.case_prefix, offset=offset
            )
            now = datetime.now(UTC)
            for task in tasks:
                if stop.is_set():
                    break
                sent += await self._handle(task, now, stop)
            if len(tasks) < TASKS_PER_TICK:
                break
            offset += TASKS_PER_TICK
        return sent

    async def _handle(self, task: OpenTask, now: datetime, stop: asyncio.Event) -> int:
        if self.leave_alone is not None and self.leave_alone(task.case_no):
            return 0
        if task.status == "returned":
            since = (now - (task.returned_at or task.started_at)).total_seconds()
            key = (task.case_no, task.task_id, "supplement", str(task.returns))
            if since >= self.supplement_after and key not in self._done:
                return await self._supplement(task, key)
            return 0
        if task.kind == "applicant_event":
            key = (task.case_no, task.task_id, "event")
            if (
                now - task.started_at
            ).total_seconds() >= self.complete_after and key not in self._done:
                return await self._applicant_event(task, key)
            return 0
        if task.kind == "materials":
            key = (task.case_no, task.task_id, "materials")
            if (
                now - task.started_at
            ).total_seconds() >= self.supplement_after and key not in self._done:
                return await self._supply_materials(task, key)
            return 0
        if task.kind not in DECIDED_KINDS:
            return 0  # publication, rectification…: not a department decision
        sent = 0
        for department in task.open_departments:
            if stop.is_set():
                break
            key = (task.case_no, task.task_id, department, str(task.returns))
            if key in self._done:
                continue
            decision = self.policy.decide(
                task.case_no,
                task.task_id,
                department,
                may_return=task.returns == 0 and task.kind not in NO_RETURN_KINDS,
            )
            if decision.slow and task.warning != "red":
                self.stats.left_slow += 1
                continue
            await self._pace(stop)
            if stop.is_set():
                break
            missing = _not_chain_materials(task.chain, decision.missing_items, department)
            reason = decision.reason
            if decision.choice is Choice.RETURN:
                reason = f"材料不齐，一次告知需补正：{'、'.join(missing)}"
            action = Decide(
                actor=reviewer(department),
                task_id=task.task_id,
                verdict=VERDICTS[decision.choice],
                reason=reason,
                missing_items=missing,
            )
            detail = f"{task.name}：{reason}" if reason else task.name
            if decision.slow:
                detail += "（超期后办理）"
            if await self._act(task, key, action, decision.choice.value, department, detail):
                sent += 1
        return sent

    # --------------------------------------------------------------- actions
    async def _supplement(self, task: OpenTask, key: tuple[str, ...]) -> int:
        state = await self._state(task, key)
        live = state.task(task.task_id) if state is not None else None
        if live is None or not live.missing_items:
            return 0
        action = RecordSupplement(
            actor=WINDOW,
            task_id=task.task_id,
            items=list(live.missing_items),
            reason="申请人已补齐材料",
        )
        detail = f"补正：{'、'.join(live.missing_items)}"
        return int(await self._act(task, key, action, "supplement", "window", detail))

    async def _applicant_event(self, task: OpenTask, key: tuple[str, ...]) -> int:
        state = await self._state(task, key)
        live = state.task(task.task_id) if state is not None else None
        if live is None or not live.awaits_event:
            return 0
        action = ReportApplicantEvent(actor=WINDOW, event=live.awaits_event, reason="申请人告知")
        return int(await self._act(task, key, action, "event", "window", live.name))

    async def _supply_materials(self, task: OpenTask, key: tuple[str, ...]) -> int:
        try:
            from domain.actions import SupplyMaterials
        except ImportError:  # an older engine without 一次告知
            self._done.add(key)
            return 0
        state = await self._state(task, key)
        missing = list(getattr(state, "missing_materials", []) or []) if state else []
        if not missing:
            return 0
        action = SupplyMaterials(
            actor=WINDOW, items=[m.code for m in missing], reason="申请人按一次告知补齐材料"
        )
        detail = f"补齐材料：{'、'.join(m.name for m in missing)}"
        return int(await self._act(task, key, action, "materials", "window", detail))

    async def _state(self, task: OpenTask, key: tuple[str, ...]) -> Any:
        """The case's state, or None; a state that got no answer is asked again in a
        later pass (``key`` stays open), a refusal is not."""
        try:
            return await asyncio.wait_for(
                self.desk.state(task.case_no, events=False), self.action_timeout
            )
        except WorkerUnavailable as error:
            self._log(task, "window", "timeout", f"no answer to the state query: {error}")
        except CaseError as error:
            self._log(task, "window", "refused", str(error))
            self._done.add(key)
        except Exception as error:
            if not unreachable(error):
                raise
            self._log(task, "window", "timeout", f"no answer to the state query: {_brief(error)}")
        return None

    async def _act(
        self, task: OpenTask, key: tuple[str, ...], action: Any, what: str, who: str, detail: str
    ) -> bool:
        self._done.add(key)
        request_id = self._request_ids.setdefault(key, uuid.uuid4().hex)
        action = action.model_copy(update={"request_id": request_id})
        try:
            await asyncio.wait_for(self.desk.act(task.case_no, action), self.action_timeout)
        except WorkerUnavailable as error:
            # No worker took it (none polling, its task failed): same id, next pass.
            self._done.discard(key)
            self._log(task, who, "timeout", f"no answer, sent again later: {error}")
            return False
        except CaseError as refused:
            # Mostly the read model lagging behind a decision already made; otherwise the
            # case changed in between. Try again in a later pass, a few times at most.
            self._refusals[key] += 1
            if self._refusals[key] < MAX_TRIES:
                self._done.discard(key)
            self._log(task, who, "refused", str(refused))
            return False
        except Exception as error:
            if not unreachable(error):
                raise
            # No answer (server or worker down): the same action, same id, next pass.
            self._done.discard(key)
            self._log(task, who, "timeout", f"no answer, sent again later: {_brief(error)}")
            return False
        self._log(task, who, what, detail)
        return True

    def _log(self, task: OpenTask, who: str, what: str, detail: str) -> None:
        self.stats.counts[what] += 1
        if self.on_action is not None:
            self.on_action(
                ActionLog(datetime.now(UTC), task.case_no, task.task_id, who, what, detail)
            )

    async def _pace(self, stop: asyncio.Event) -> None:
        if self.rate_per_min <= 0:
            return
        now = time.monotonic()
        wait = self._next_decision - now
        self._next_decision = max(now, self._next_decision) + 60.0 / self.rate_per_min
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)


def unreachable(error: BaseException) -> bool:
    """The call got no answer (timeout, server unreachable, RPC cut off): not a refusal."""
    from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(error, RPCError):
        return error.status in (
            RPCStatusCode.UNAVAILABLE,
            RPCStatusCode.DEADLINE_EXCEEDED,
            RPCStatusCode.CANCELLED,
            RPCStatusCode.UNKNOWN,  # "transport error": the connection was cut
            RPCStatusCode.RESOURCE_EXHAUSTED,
        )
    return isinstance(error, TimeoutError | WorkflowUpdateRPCTimeoutOrCancelledError)


def _brief(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:120] if str(error) else type(error).__name__


def _not_chain_materials(chain: str, items: tuple[str, ...], department: str) -> list[str]:
    """Missing items that are not the chain's own materials: those were received at the
    window (or are held as e-licences) and are never asked for twice."""
    if not items:
        return []
    import chains  # noqa: F401
    from workflows import registry

    try:
        spec = registry.get_chain(chain)
    except LookupError:
        return list(items)
    held = {m.name for m in spec.materials} | {m.code for m in spec.materials}
    kept = [item for item in items if item not in held]
    return kept or [f"{department_name(department)}审查补充说明材料"]
