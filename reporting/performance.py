"""Performance per chain and per department over a period (政务服务效能统计).

Definitions (cases are counted by the day they were accepted, 受理日, China time):

* 办件量 ``received``: cases accepted in the period. Applications still waiting for
  a key material (not accepted yet) are not counted; the report says how many.
* 办结 ``concluded``: approved, not approved or (later) revoked. Withdrawn cases
  (撤回) are received but not concluded; they are counted on their own.
* 办结率 ``concluded_rate`` = concluded / received.
* 按时办结率 ``on_time_rate`` = concluded on or before the due day of the case's
  promised limit (after extensions and stopped clocks) / concluded.
* 提前办结率 ``early_rate`` = concluded before that due day (on it is on time, not
  early) / concluded.
* 超期 ``overdue_open``: still running with a red card; ``concluded_late``: concluded
  after the promised due day; ``past_statutory``: after the statutory due day.
* 好差评 ``rated``/``avg_rating``/``bad_ratings``: the applicants' ratings (1–5);
  2 or less counts as bad (差评).
* ``avg_working_days``: working days from acceptance to conclusion (the start day
  never counts). It is elapsed time: days the clock was stopped (hearings, 补正,
  the applicant building) are included, so compare it with the limits with care;
  the on-time rates already account for stopped clocks.

Per department the unit is the department's part of a task: started with the
task, done when the department decided (its ``decided`` event) or, failing that,
when the task concluded. On time means done on or before the task's due day.
Cancelled tasks (a case ended while they were open) and waits for the applicant
(completion notices, missing materials) are left out.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import Session, col, select

from domain.calendar import WorkCalendar
from domain.departments import department_name
from domain.timezone import cst_date, end_of_day, start_of_day
from readmodel.tables import CaseRecord, EventRecord, TaskRecord

CONCLUDED_STATUSES = ("approved", "not_approved", "revoked")
WITHDRAWN_STATUS = "withdrawn"
RUNNING_STATUS = "running"
RED = "red"
DONE_TASK_STATUSES = ("approved", "rejected")
LEFT_OUT_TASK_STATUSES = ("cancelled",)
#: Tasks that wait for the applicant (to build, to bring materials), not for a department.
LEFT_OUT_TASK_KINDS = ("applicant_event", "materials")
DECISION_EVENTS = ("decided", "decided_on_behalf")
#: A rating at or below this is a bad one (差评), which the workflow answers with 整改.
BAD_RATING = 2


class ChainLimits(BaseModel):
    """What a chain promises, for comparison (from the chain registry)."""

    name: str
    promised_days: int
    statutory_days: int


class ChainFigures(BaseModel):
    chain: str
    name: str = ""
    received: int = 0
    running: int = 0
    concluded: int = 0
    approved: int = 0
    not_approved: int = 0
    withdrawn: int = 0
    concluded_rate: float | None = None
    on_time: int = 0
    on_time_rate: float | None = None
    early: int = 0
    early_rate: float | None = None
    overdue_open: int = 0
    concluded_late: int = 0
    past_statutory: int = 0
    avg_working_days: float | None = None
    max_working_days: int | None = None
    promised_days: int | None = None
    statutory_days: int | None = None
    rated: int = 0
    avg_rating: float | None = None
    bad_ratings: int = 0


class DepartmentFigures(BaseModel):
    department: str
    name: str
    tasks: int = 0
    open: int = 0
    concluded: int = 0
    concluded_rate: float | None = None
    on_time: int = 0
    on_time_rate: float | None = None
    early: int = 0
    early_rate: float | None = None
    overdue_open: int = 0
    concluded_late: int = 0
    avg_working_days: float | None = None
    max_working_days: int | None = None
    avg_limit_days: float | None = None


class Report(BaseModel):
    period_from: date | None
    period_to: date | None
    chain: str | None
    chains: list[ChainFigures]
    total: ChainFigures
    departments: list[DepartmentFigures]
    awaiting_materials: int = 0
    notes: list[str] = []


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def case_filters(
    *, start: date | None, end: date | None, chain: str | None
) -> list[ColumnElement[bool]]:
    """Accepted cases in [start, end] (inclusive), of one chain if given."""
    filters: list[ColumnElement[bool]] = [col(CaseRecord.accepted_on).is_not(None)]
    if start is not None:
        filters.append(col(CaseRecord.accepted_on) >= start)
    if end is not None:
        filters.append(col(CaseRecord.accepted_on) <= end)
    if chain is not None:
        filters.append(col(CaseRecord.chain) == chain)
    return filters


class _DayCounter:
    """``working_days_between``, remembered: a period's tasks and cases share a few
    hundred (start, end) pairs, and counting each anew was most of a 25,000-case month."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self._between = functools.cache(calendar.working_days_between)

    def working_days_between(self, start: date, end: date) -> int:
        return self._between(start, end)


@dataclass
class _ChainAcc:
    figures: ChainFigures
    days: list[int] = field(default_factory=list)
    rating_sum: int = 0


def _chain_figures(
    session: Session,
    calendar: _DayCounter,
    limits: Mapping[str, ChainLimits],
    filters: list[ColumnElement[bool]],
) -> dict[str, _ChainAcc]:
    acc: dict[str, _ChainAcc] = {}

    def of(code: str) -> _ChainAcc:
        if code not in acc:
            known = limits.get(code)
            acc[code] = _ChainAcc(
                ChainFigures(
                    chain=code,
                    name=known.name if known else "",
                    promised_days=known.promised_days if known else None,
                    statutory_days=known.statutory_days if known else None,
                )
            )
        return acc[code]

    red = func.sum(case((col(CaseRecord.warning) == RED, 1), else_=0))
    counts = session.exec(
        select(CaseRecord.chain, CaseRecord.status, func.count(), red)
        .where(*filters)
        .group_by(col(CaseRecord.chain), col(CaseRecord.status))
    ).all()
    for code, status, count, reds in counts:
        figures = of(code).figures
        figures.received += count
        if status == RUNNING_STATUS:
            figures.running += count
            figures.overdue_open += int(reds or 0)
        elif status in CONCLUDED_STATUSES:
            figures.concluded += count
            if status == "approved":
                figures.approved += count
            elif status == "not_approved":
                figures.not_approved += count
        elif status == WITHDRAWN_STATUS:
            figures.withdrawn += count

    rating = col(CaseRecord.rating)
    ratings = session.exec(
        select(
            CaseRecord.chain,
            func.count(rating),
            func.sum(rating),
            func.sum(case((rating <= BAD_RATING, 1), else_=0)),
        )
        .where(*filters, rating.is_not(None))
        .group_by(col(CaseRecord.chain))
    ).all()
    for code, rated, total, bad in ratings:
        entry = of(code)
        entry.figures.rated += rated
        entry.figures.bad_ratings += int(bad or 0)
        entry.rating_sum += int(total or 0)

    concluded = session.exec(
        select(
            CaseRecord.chain,
            CaseRecord.accepted_on,
            CaseRecord.due_on,
            CaseRecord.statutory_due_on,
            CaseRecord.concluded_at,
        ).where(
            *filters,
            col(CaseRecord.status).in_(CONCLUDED_STATUSES),
            col(CaseRecord.concluded_at).is_not(None),
        )
    ).all()
    for code, accepted_on, due_on, statutory_due_on, concluded_at in concluded:
        entry = of(code)
        day = cst_date(concluded_at)
        if day <= due_on:
            entry.figures.on_time += 1
            if day < due_on:
                entry.figures.early += 1
        else:
            entry.figures.concluded_late += 1
        if day > statutory_due_on:
            entry.figures.past_statutory += 1
        entry.days.append(calendar.working_days_between(accepted_on, day))
    return acc


def _finish_chain(entry: _ChainAcc) -> ChainFigures:
    figures = entry.figures
    figures.concluded_rate = _rate(figures.concluded, figures.received)
    figures.on_time_rate = _rate(figures.on_time, figures.on_time + figures.concluded_late)
    figures.early_rate = _rate(figures.early, figures.on_time + figures.concluded_late)
    figures.avg_working_days = _mean(entry.days)
    figures.max_working_days = max(entry.days) if entry.days else None
    figures.avg_rating = round(entry.rating_sum / figures.rated, 2) if figures.rated else None
    return figures


def _total(entries: Iterable[_ChainAcc]) -> ChainFigures:
    total = _ChainAcc(ChainFigures(chain="*", name="合计"))
    summed = (
        "received",
        "running",
        "concluded",
        "approved",
        "not_approved",
        "withdrawn",
        "on_time",
        "early",
        "overdue_open",
        "concluded_late",
        "past_statutory",
        "rated",
        "bad_ratings",
    )
    for entry in entries:
        for name in summed:
            setattr(
                total.figures, name, getattr(total.figures, name) + getattr(entry.figures, name)
            )
        total.days += entry.days
        total.rating_sum += entry.rating_sum
    return _finish_chain(total)


@dataclass
class _DepartmentAcc:
    figures: DepartmentFigures
    days: list[int] = field(default_factory=list)
    limits: list[int] = field(default_factory=list)
    judged: int = 0


def _department_figures(
    session: Session, calendar: _DayCounter, filters: list[ColumnElement[bool]]
) -> list[DepartmentFigures]:
    joined = col(CaseRecord.case_no) == col(TaskRecord.case_no)
    decisions: dict[tuple[str, str, str], datetime] = {}
    rows = session.exec(
        select(
            EventRecord.case_no,
            EventRecord.task_id,
            EventRecord.department,
            func.min(EventRecord.at),
        )
        .join(CaseRecord, col(CaseRecord.case_no) == col(EventRecord.case_no))
        .where(*filters, col(EventRecord.kind).in_(DECISION_EVENTS))
        .group_by(col(EventRecord.case_no), col(EventRecord.task_id), col(EventRecord.department))
    ).all()
    for case_no, task_id, department, at in rows:
        if task_id and department:
            decisions[(case_no, task_id, department)] = at

    tasks = session.exec(
        select(
            TaskRecord.case_no,
            TaskRecord.task_id,
            TaskRecord.departments,
            TaskRecord.status,
            TaskRecord.started_at,
            TaskRecord.concluded_at,
            TaskRecord.due_on,
            TaskRecord.warning,
        )
        .join(CaseRecord, joined)
        .where(
            *filters,
            col(TaskRecord.status).not_in(LEFT_OUT_TASK_STATUSES),
            col(TaskRecord.kind).not_in(LEFT_OUT_TASK_KINDS),
        )
    ).all()
    acc: dict[str, _DepartmentAcc] = {}
    for case_no, task_id, departments, status, started_at, concluded_at, due_on, warning in tasks:
        started = cst_date(started_at)
        for department in departments or []:
            entry = acc.get(department)
            if entry is None:
                entry = acc[department] = _DepartmentAcc(
                    DepartmentFigures(department=department, name=department_name(department))
                )
            figures = entry.figures
            figures.tasks += 1
            done_at = decisions.get((case_no, task_id, department))
            if done_at is None and status in DONE_TASK_STATUSES:
                done_at = concluded_at
            if done_at is None:
                figures.open += 1
                if warning == RED:
                    figures.overdue_open += 1
                continue
            figures.concluded += 1
            done = cst_date(done_at)
            entry.days.append(calendar.working_days_between(started, done))
            if due_on is not None:
                entry.judged += 1
                entry.limits.append(calendar.working_days_between(started, due_on))
                if done <= due_on:
                    figures.on_time += 1
                    if done < due_on:
                        figures.early += 1
                else:
                    figures.concluded_late += 1
    found = []
    for entry in acc.values():
        figures = entry.figures
        figures.concluded_rate = _rate(figures.concluded, figures.tasks)
        figures.on_time_rate = _rate(figures.on_time, entry.judged)
        figures.early_rate = _rate(figures.early, entry.judged)
        figures.avg_working_days = _mean(entry.days)
        figures.max_working_days = max(entry.days) if entry.days else None
        figures.avg_limit_days = _mean(entry.limits)
        found.append(figures)
    return sorted(found, key=lambda f: (-f.tasks, f.department))


def _awaiting_materials(
    session: Session, *, start: date | None, end: date | None, chain: str | None
) -> int:
    filters: list[ColumnElement[bool]] = [col(CaseRecord.accepted_on).is_(None)]
    if start is not None:
        filters.append(col(CaseRecord.received_at) >= start_of_day(start))
    if end is not None:
        filters.append(col(CaseRecord.received_at) < end_of_day(end))
    if chain is not None:
        filters.append(col(CaseRecord.chain) == chain)
    return int(
        session.exec(select(func.count()).select_from(CaseRecord).where(and_(*filters))).one()
    )


def build_report(
    session: Session,
    calendar: WorkCalendar,
    limits: Mapping[str, ChainLimits],
    *,
    start: date | None = None,
    end: date | None = None,
    chain: str | None = None,
) -> Report:
    """The figures for cases accepted in [start, end] (China dates, inclusive)."""
    filters = case_filters(start=start, end=end, chain=chain)
    days = _DayCounter(calendar)
    entries = _chain_figures(session, days, limits, filters)
    chains = [_finish_chain(entries[code]) for code in sorted(entries)]
    awaiting = _awaiting_materials(session, start=start, end=end, chain=chain)
    notes = [
        "avg working days are elapsed working days from acceptance to conclusion, "
        "stopped-clock time included; on-time rates account for stopped clocks and extensions"
    ]
    if awaiting:
        notes.append(f"{awaiting} application(s) waiting for key materials are not counted")
    return Report(
        period_from=start,
        period_to=end,
        chain=chain,
        chains=chains,
        total=_total(entries.values()),
        departments=_department_figures(session, days, filters),
        awaiting_materials=awaiting,
        notes=notes,
    )


CSV_COLUMNS = (
    "scope",
    "code",
    "name",
    "received",
    "running",
    "concluded",
    "withdrawn",
    "concluded_rate",
    "on_time",
    "on_time_rate",
    "overdue_open",
    "concluded_late",
    "past_statutory",
    "avg_working_days",
    "limit_days",
    "statutory_days",
    "rated",
    "avg_rating",
)


def csv_rows(report: Report) -> list[dict[str, Any]]:
    """One row per chain, the total, and one per department, under ``CSV_COLUMNS``."""
    rows: list[dict[str, Any]] = []
    for figures in [*report.chains, report.total]:
        rows.append(
            {
                "scope": "chain" if figures.chain != "*" else "total",
                "code": figures.chain,
                "name": figures.name,
                "received": figures.received,
                "running": figures.running,
                "concluded": figures.concluded,
                "withdrawn": figures.withdrawn,
                "concluded_rate": figures.concluded_rate,
                "on_time": figures.on_time,
                "on_time_rate": figures.on_time_rate,
                "overdue_open": figures.overdue_open,
                "concluded_late": figures.concluded_late,
                "past_statutory": figures.past_statutory,
                "avg_working_days": figures.avg_working_days,
                "limit_days": figures.promised_days,
                "statutory_days": figures.statutory_days,
                "rated": figures.rated,
                "avg_rating": figures.avg_rating,
            }
        )
    for department in report.departments:
        rows.append(
            {
                "scope": "department",
                "code": department.department,
                "name": department.name,
                "received": department.tasks,
                "running": department.open,
                "concluded": department.concluded,
                "withdrawn": None,
                "concluded_rate": department.concluded_rate,
                "on_time": department.on_time,
                "on_time_rate": department.on_time_rate,
                "overdue_open": department.overdue_open,
                "concluded_late": department.concluded_late,
                "past_statutory": None,
                "avg_working_days": department.avg_working_days,
                "limit_days": department.avg_limit_days,
                "statutory_days": None,
                "rated": None,
                "avg_rating": None,
            }
        )
    return rows
