"""Month-by-department figures for the rules that judge a share (停表、延期、代为决定).

A share rule concludes about a department in a month (China Standard Time), not about
one row: each batch of new audit rows names the months it touched, and each such
month is counted again from the trail, in one query per month (never one per case).

During a catch-up the engine hands a rule the trail in batches; counting the month a
batch ends in again for every batch would read that month hundreds of times. So a
month is counted when a batch moves past it (or at the end of the trail): the month
a batch ends in is carried over to the next batch, which starts with it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from domain.calendar import WorkCalendar
from domain.timezone import CST
from readmodel.audit import AuditRecord
from readmodel.tables import TaskRecord, table_of
from supervision.rule import Context

#: Case event kinds by which a department decides (the denominator of its cases).
DECISION_KINDS = ("decided", "decided_on_behalf", "returned")
#: SQLite's bound-parameter limit is 999 on old builds: look-ups go in chunks.
CHUNK = 500


def month_of(at: datetime) -> str:
    """``YYYY-MM`` of an instant, in China Standard Time."""
    return at.astimezone(CST).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in UTC."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=CST)
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=CST)
    return start.astimezone(UTC), following.astimezone(UTC)


def months_due(context: Context, kinds: Iterable[str]) -> list[str]:
    """The months to count now: those the new rows of ``kinds`` touched, plus the month
    the previous batch ended in; all of them at the end of the trail, otherwise all but
    the month this batch ends in (the next batch carries it)."""
    rows = context.new_rows
    if not rows:
        return []
    wanted = set(kinds)
    months = {month_of(r.at) for r in rows if r.kind in wanted}
    first_id = rows[0].id
    if first_id is not None:
        before = context.session.exec(
            select(AuditRecord.at)
            .where(col(AuditRecord.id) < first_id)
            .order_by(col(AuditRecord.id).desc())
            .limit(1)
        ).first()
        if before is not None:
            months.add(month_of(before))
    if not context.final:
        months.discard(month_of(rows[-1].at))
    return sorted(months)


@dataclass(frozen=True)
class Row:
    """The columns of an audit row a share rule reads."""

    id: int
    at: datetime
    kind: str
    actor_id: str
    actor_name: str
    case_no: str
    seq: int | None
    department: str | None
    task_id: str | None


#: Every kind a share rule counts: a month is read once for all of them.
SHARE_KINDS = (*DECISION_KINDS, "special_started", "extended")
#: Months already read in this run, by (database, month, last audit id): the trail is
#: append-only, so the rows of a month up to an id never change. The share rules
#: evaluating one batch ask for the same months; each is read once for all of them.
#: ``supervision.engine.run`` forgets them at its start (a restored database may reuse ids).
_MONTHS: dict[tuple[str, str, int], list[Row]] = {}
_MONTHS_KEPT = 32


def forget_months() -> None:
    _MONTHS.clear()


def through_id(context: Context) -> int:
    """The last audit row this evaluation reads up to (the end of its batch)."""
    ids = [r.id for r in context.new_rows if r.id is not None]
    return max(ids, default=0)


def rows_in_month(session: Session, month: str, kinds: Sequence[str], through: int) -> list[Row]:
    """The case events of ``kinds`` recorded in ``month`` up to audit row ``through``,
    in trail order."""
    key = (str(session.get_bind().url), month, through)
    rows = _MONTHS.get(key)
    if rows is None:
        rows = _read_month(session, month, through)
        if len(_MONTHS) >= _MONTHS_KEPT:
            _MONTHS.clear()
        _MONTHS[key] = rows
    wanted = set(kinds)
    return [r for r in rows if r.kind in wanted]


def _read_month(session: Session, month: str, through: int) -> list[Row]:
    start, end = month_bounds(month)
    table = table_of(AuditRecord)
    query = (
        core_select(
            table.c.id,
            table.c.at,
            table.c.kind,
            table.c.actor_id,
            table.c.actor_name,
            table.c.case_no,
            table.c.seq,
            table.c.data,
        )
        .where(table.c.at >= start, table.c.at < end, table.c.id <= through)
        .where(table.c.kind.in_(SHARE_KINDS), table.c.case_no.is_not(None))
        .order_by(table.c.id)
    )
    found = []
    for row in session.connection().execute(query):
        data: dict[str, Any] = row.data or {}
        found.append(
            Row(
                id=row.id,
                at=row.at,
                kind=row.kind,
                actor_id=row.actor_id,
                actor_name=row.actor_name,
                case_no=row.case_no,
                seq=row.seq,
                department=data.get("department"),
                task_id=data.get("task_id"),
            )
        )
    return found


def task_departments(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """The departments of each (case, task), from the read model, in chunked look-ups."""
    wanted = set(keys)
    by_case: dict[str, set[str]] = defaultdict(set)
    for case_no, task_id in wanted:
        by_case[case_no].add(task_id)
    cases = sorted(by_case)
    found: dict[tuple[str, str], list[str]] = {}
    for offset in range(0, len(cases), CHUNK):
        chunk = cases[offset : offset + CHUNK]
        for case_no, task_id, departments in session.exec(
            select(TaskRecord.case_no, TaskRecord.task_id, TaskRecord.departments).where(
                col(TaskRecord.case_no).in_(chunk)
            )
        ):
            if task_id in by_case[case_no]:
                found[(case_no, task_id)] = list(departments or [])
    return found


def department_cases(rows: Iterable[Row]) -> dict[str, set[str]]:
    """Each department's cases among decision rows (decided, on behalf, returned)."""
    cases: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.kind in DECISION_KINDS and row.department:
            cases[row.department].add(row.case_no)
    return cases


def percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def tasks_of_kind(
    session: Session, case_nos: Iterable[str], kind: str
) -> dict[tuple[str, str], TaskRecord]:
    """The read model's tasks of ``kind`` of these cases, by (case, task), in chunks."""
    ordered = sorted(set(case_nos))
    found: dict[tuple[str, str], TaskRecord] = {}
    for offset in range(0, len(ordered), CHUNK):
        for task in session.exec(
            select(TaskRecord)
            .where(col(TaskRecord.case_no).in_(ordered[offset : offset + CHUNK]))
            .where(TaskRecord.kind == kind)
        ):
            found[(task.case_no, task.task_id)] = task
    return found


#: Due days already worked out, per calendar (dropped with the calendar: a worker
#: evaluating every few seconds makes a new calendar each run).
_DUE: WeakKeyDictionary[WorkCalendar, dict[tuple[date, int], date]] = WeakKeyDictionary()


def due_day(calendar: WorkCalendar, start: date, days: int) -> date:
    """``start`` + ``days`` working days (the start day never counts), remembered: a
    catch-up asks for the same few hundred days thousands of times."""
    known = _DUE.setdefault(calendar, {})
    if (start, days) not in known:
        known[(start, days)] = calendar.add_working_days(start, days).due
    return known[(start, days)]
