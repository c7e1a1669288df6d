"""What the forecast learns from the read model: each department's measured decision
times, and the open tasks it draws forward.

A decision time is a concluded task's working days from the day it started to the day
it concluded, as a share of the working days it had (start to due day), per department
that decided it (a joint task counts for each of its departments: each had to decide). Only tasks concluded in the last ``window`` calendar
days count, so a department that sped up or slowed down is measured as it is now.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from domain.timezone import CST, cst_date
from forecast.days import WorkingDays
from readmodel.database import read_session
from readmodel.tables import CaseRecord, EventRecord, TaskRecord

#: Fewer measured decisions than this: the department's times are assumed from the limits.
MIN_HISTORY = 8
#: Fewer measured decisions on tasks of one limit than this: drawn from all its decisions.
STEP_HISTORY = 30
#: How far back decisions are measured (calendar days).
HISTORY_WINDOW_DAYS = 180
#: How far back each chain's arrival rate is measured (working days).
ARRIVAL_WINDOW = 20


@dataclass(frozen=True)
class OpenTask:
    case_no: str
    task_id: str
    chain: str
    name: str
    departments: tuple[str, ...]  # still deciding it
    started_on: date
    due_on: date
    warning_on: date | None
    limit_days: int
    #: A task of its case was rejected by then (a backtest): the case walks no further.
    case_rejected: bool = False
    #: ``departments`` are known to be still deciding (live: the read model's open
    #: departments; a backtest: from the audit trail's decisions). False: a backtest's
    #: joint task with no audit trail to say who had decided by then.
    known_open: bool = True


def decision_times(
    engine: Engine, ruler: WorkingDays, today: date, window: int = HISTORY_WINDOW_DAYS
) -> dict[str, list[float]]:
    return decision_history(engine, ruler, today, window)[0]


def own_share(took: int, allowed: int, clock: dict | None) -> float:
    """The share of a task's own clock time it used. ``allowed``: working days from its
    start to its due day, which include the days its clock stood still (退回补正: the
    applicant's days); those days are taken off both sides, or a task returned for
    supplement and then decided at once would be measured as slow, and every new task
    drawn from it too. A same-day task (当场办结: no time to share) is 1 + its own days
    (1 on time, each day late adds 1; ``model.draw_durations``)."""
    clock = clock or {}
    own = int(clock.get("limit_days") or 0) + int(clock.get("extension_days") or 0)
    if "limit_days" not in clock:
        own = allowed  # no stated limit recorded: its whole time
    stopped = max(allowed - own, 0)
    took = max(took - stopped, 0)
    return took / own if own > 0 else 1.0 + took


def decision_history(
    engine: Engine, ruler: WorkingDays, today: date, window: int = HISTORY_WINDOW_DAYS
) -> tuple[dict[str, list[float]], dict[str, float], dict[tuple[str, int], list[float]]]:
    """Per department, each task concluded in the window before ``today`` as the share of
    its own time it used: working days from start to conclusion over working days from
    start to its due day (1.0 = concluded on its due day; above 1 = late). A share, not
    days, so a department's 1-day steps are not drawn from its 10-day ones. Tasks with no
    time limit (no due day) cannot go red and are not measured; tasks cancelled because
    their case ended were not decided and are not measured either.

    Also, per department, the share of its decided tasks that were rejected (a rejection
    ends the case: its later steps never come), measured on its single-department tasks:
    the read model does not say whose a joint task's rejection was.

    And per (department, stated limit), its single-department tasks' shares: where there
    are enough of about that limit, a task is drawn from them (``similar_steps``)."""
    since = today - timedelta(days=window)
    times: dict[str, list[float]] = defaultdict(list)
    joint: dict[str, list[float]] = defaultdict(list)
    rejected: dict[str | tuple[str, str], int] = defaultdict(int)
    decided: dict[str | tuple[str, str], int] = defaultdict(int)
    with read_session(engine) as session:
        rows = session.exec(
            select(
                TaskRecord.departments,
                TaskRecord.started_at,
                TaskRecord.concluded_at,
                TaskRecord.due_on,
                TaskRecord.status,
                TaskRecord.clock,
            ).where(col(TaskRecord.concluded_at).is_not(None), col(TaskRecord.due_on).is_not(None))
        ).all()
    by_step: dict[tuple[str, int], list[float]] = defaultdict(list)
    for departments, started_at, concluded_at, due_on, status, clock in rows:
        if concluded_at is None or due_on is None or status == "cancelled":
            continue
        started, ended = cst_date(started_at), cst_date(concluded_at)
        if started > today or not since <= ended <= today:
            continue
        start = ruler.index(started)
        took = max(ruler.index(ended) - start, 0)
        share = own_share(took, ruler.index(due_on) - start, clock)
        limit = (clock or {}).get("limit_days")
        if len(departments) == 1 and limit is not None:
            by_step[(departments[0], int(limit))].append(share)
        for department in departments:
            (times if len(departments) == 1 else joint)[department].append(share)
            key = department if len(departments) == 1 else (department, "joint")
            rejected[key] += status == "rejected"
            decided[key] += 1
    # A joint task's time is its slowest department's: measured for each, then drawn for
    # each and the max taken again, joint tasks would be forecast far too slow (the
    # backtest showed it). A department's own pace is its single tasks'; only one with too
    # few of those is measured on its joint tasks as well (slower than it is: said).
    for department, shares_ in joint.items():
        if len(times[department]) < MIN_HISTORY:
            times[department].extend(shares_)
    # Rejections likewise: a joint task's rejection may be any one of its departments', so
    # a department's own rejection share is its single tasks' (its joint ones only when it
    # has too few single ones); a joint step then goes on only if none of them rejects.
    shares: dict[str, float] = {}
    for department in {k if isinstance(k, str) else k[0] for k in decided}:
        single, both = decided[department], (department, "joint")
        if single >= MIN_HISTORY:
            shares[department] = rejected[department] / single
        else:
            shares[department] = (rejected[department] + rejected[both]) / (single + decided[both])
    return dict(times), shares, dict(by_step)


def similar_steps(
    by_step: dict[tuple[str, int], list[float]], department: str, limit: int
) -> list[float] | None:
    """A department's shares on its single tasks of about this limit (half to twice it),
    or None when it has fewer than ``STEP_HISTORY`` of them. Why: a department decides a
    1-day check the same day or not at all, and a 20-day review over weeks; drawing one
    from the other's shares moves cases through their stages at the wrong pace (the
    backtest's new cases walked a quarter more steps than happened)."""
    low, high = limit // 2, 2 * limit  # a same-day (0-day) step: only same-day steps
    pooled = [share for (d, lim), shares in by_step.items() if d == department
              and low <= lim <= high for share in shares]  # fmt: skip
    return pooled if len(pooled) >= STEP_HISTORY else None


def arrivals(
    engine: Engine, ruler: WorkingDays, today: date, window: int = ARRIVAL_WINDOW
) -> dict[str, int]:
    """Cases accepted per chain in the last ``window`` working days up to ``today``
    (the day a case was accepted, or received when no acceptance day is recorded)."""
    last = ruler.index(today)
    first = ruler.at(max(last - window + 1, 1))
    counts: dict[str, int] = defaultdict(int)
    with read_session(engine) as session:
        rows = session.exec(
            select(CaseRecord.chain, CaseRecord.accepted_on, CaseRecord.received_at)
        ).all()
    for chain, accepted_on, received_at in rows:
        day = accepted_on or cst_date(received_at)
        if first <= day <= today:
            counts[chain] += 1
    return dict(counts)


DECIDED_KINDS = ("decided", "decided_on_behalf")


def _decided_by(session: Any, today: date) -> dict[tuple[str, str], set[str]] | None:
    """(case, task) → the departments whose decision on it is in the audit trail by the
    end of ``today``; None when the trail holds no decisions at all (a read model filled
    without it: then nobody can say who had decided a joint task by then)."""
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=CST)
    rows = session.exec(
        select(
            EventRecord.case_no, EventRecord.task_id, EventRecord.department, EventRecord.at
        ).where(col(EventRecord.kind).in_(DECIDED_KINDS))
    ).all()
    if not rows:
        return None
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for case_no, task_id, department, at in rows:
        if task_id and department and at < end:
            found[(case_no, task_id)].add(department)
    return found


def open_tasks(
    engine: Engine, today: date, chain: str | None = None, *, as_of: bool = False
) -> list[OpenTask]:
    """Every open task with a running clock (a stopped clock cannot go red while stopped).

    ``as_of``: the tasks as they stood at the end of ``today`` (a backtest): started by
    then and not concluded by then, whatever their status now."""
    # Columns, not ORM objects: 25,000 rows read as tuples are several times quicker.
    query = (
        select(
            TaskRecord.case_no,
            TaskRecord.task_id,
            TaskRecord.name,
            TaskRecord.departments,
            TaskRecord.open_departments,
            TaskRecord.started_at,
            TaskRecord.concluded_at,
            TaskRecord.due_on,
            TaskRecord.stopped,
            TaskRecord.clock,
            TaskRecord.status,
            CaseRecord.chain,
        )
        .join(CaseRecord, col(CaseRecord.case_no) == TaskRecord.case_no)
        .where(col(TaskRecord.due_on).is_not(None))
    )
    if not as_of:
        query = query.where(TaskRecord.status == "open", CaseRecord.status == "running")
    if chain is not None:
        query = query.where(CaseRecord.chain == chain)
    found: list[OpenTask] = []
    rejected_cases: set[str] = set()
    with read_session(engine) as session:
        decided = _decided_by(session, today) if as_of else None
        for task in session.exec(query):
            chain_code = task.chain
            clock = task.clock or {}
            if (
                as_of
                and task.status == "rejected"
                and task.concluded_at is not None
                and cst_date(task.concluded_at) <= today
            ):
                rejected_cases.add(task.case_no)
            if as_of:
                if cst_date(task.started_at) > today or (
                    task.concluded_at is not None and cst_date(task.concluded_at) <= today
                ):
                    continue
                departments = tuple(task.departments)
                known_open = len(departments) == 1 or decided is not None
                if decided is not None:  # who had decided by then, from the audit trail
                    done = decided.get((task.case_no, task.task_id), set())
                    departments = tuple(d for d in departments if d not in done)
            elif task.stopped or clock.get("stopped") or task.due_on is None:
                continue
            else:
                departments = tuple(task.open_departments or task.departments)
                known_open = True
            if task.due_on is None:
                continue
            if not departments:
                continue
            warning = clock.get("warning_on")
            found.append(
                OpenTask(
                    case_no=task.case_no,
                    task_id=task.task_id,
                    chain=chain_code,
                    name=task.name,
                    departments=departments,
                    started_on=cst_date(task.started_at),
                    due_on=task.due_on,
                    warning_on=date.fromisoformat(warning) if warning else None,
                    limit_days=int(clock.get("limit_days") or 0)
                    + int(clock.get("extension_days") or 0),
                    known_open=known_open,
                )
            )
    if rejected_cases:  # a rejection ends its case: no later stages (see case_rejected)
        found = [replace(t, case_rejected=True) if t.case_no in rejected_cases else t
                 for t in found]  # fmt: skip
    return found
