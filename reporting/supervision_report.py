"""The monthly 效能监察 report (issue 22): per department and per chain, the cases and
how fast they were done, the supervision findings per rule, 督办 and 好差评.

Case figures are **not** recomputed here: they are ``onechain report``'s for the
month's first to last day (cases accepted in the month, China dates), through
:func:`reporting.office.office_report`, so both reports agree to the case. What this
module adds is what ``onechain report`` does not know:

* findings per rule, department and chain: ``supervision_findings`` rows whose
  ``found_at`` is in the month (China time); the chain is the finding's case's;
* 督办: from ``supervision_items`` — *opened* = sent in the month, *responded*,
  *escalated*, *closed* = that step's time in the month, *still open* = sent in the
  month and not closed, *how fast* = working days from sent to closed of the items
  closed in the month;
* 好差评 per department: a case's rating counts for every department that had a part
  in one of its tasks (the rating is the applicant's, of the whole case).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Engine, func, or_
from sqlmodel import Session, col, select

from domain.calendar import WorkCalendar
from domain.timezone import cst_date, end_of_day, start_of_day
from readmodel.supervision import FindingRecord, SupervisionItemRecord
from readmodel.tables import CaseRecord, TaskRecord
from reporting.performance import (
    BAD_RATING,
    LEFT_OUT_TASK_KINDS,
    LEFT_OUT_TASK_STATUSES,
    ChainLimits,
    Report,
    case_filters,
)

_MONTH = re.compile(r"(\d{4})-(\d{2})")
#: Findings and 督办 that belong to no department (e.g. a change made around onechain).
NO_DEPARTMENT = ""
#: ... or to no case, hence no chain.
NO_CHAIN = ""


class MonthError(ValueError):
    """A --month that is not a month."""


def parse_month(text: str) -> tuple[date, date]:
    """``2026-11`` → (2026-11-01, 2026-11-30)."""
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise MonthError(f"--month {text!r} is not a month YYYY-MM (e.g. 2026-11)")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


class Ratings(BaseModel):
    rated: int = 0
    avg_rating: float | None = None
    bad_ratings: int = 0


class Duban(BaseModel):
    """督办 of one department or chain in the month."""

    code: str
    name: str = ""
    opened: int = 0
    responded: int = 0
    escalated: int = 0
    closed: int = 0
    still_open: int = 0
    avg_days_to_close: float | None = None
    max_days_to_close: int | None = None


class FindingCount(BaseModel):
    rule: str
    rule_name: str
    severity: str
    department: str
    department_name: str
    chain: str
    chain_name: str
    findings: int


class RuleCount(BaseModel):
    rule: str
    name: str
    severity: str
    findings: int


class MonthlyReport(BaseModel):
    month: str
    period_from: date
    period_to: date
    chain: str | None = None
    department: str | None = None
    #: ``onechain report``'s figures for the month (departments narrowed to --department).
    performance: Report
    department_ratings: dict[str, Ratings]
    rules: list[RuleCount]
    findings: list[FindingCount]
    duban_departments: list[Duban]
    duban_chains: list[Duban]
    duban_total: Duban
    notes: list[str]

    @property
    def has_data(self) -> bool:
        """Any case, department task, finding or 督办 in the month (under the filters;
        with --department, that department's tasks, findings or 督办)."""
        figures = self.performance
        cases = self.department is None and (figures.total.received or figures.awaiting_materials)
        return bool(
            cases
            or figures.departments
            or any(r.findings for r in self.rules)
            or self.duban_total.opened
            or self.duban_total.closed
        )

    def findings_by(self, attribute: str) -> dict[str, int]:
        """Findings of the month per department or per chain (``attribute``)."""
        counts: dict[str, int] = defaultdict(int)
        for row in self.findings:
            counts[getattr(row, attribute)] += row.findings
        return dict(counts)


@dataclass
class _DubanAcc:
    figures: Duban
    days: list[int] = field(default_factory=list)

    def finish(self) -> Duban:
        if self.days:
            self.figures.avg_days_to_close = round(sum(self.days) / len(self.days), 1)
            self.figures.max_days_to_close = max(self.days)
        return self.figures


def _month_window(first: date, last: date) -> tuple[datetime, datetime]:
    return start_of_day(first), end_of_day(last)


def _finding_rows(
    session: Session,
    first: date,
    last: date,
    *,
    chain: str | None,
    department: str | None,
) -> list[tuple[str, str, str, int]]:
    """(rule, department, chain, count) of the month's findings under the filters."""
    since, until = _month_window(first, last)
    query = (
        select(FindingRecord.rule, FindingRecord.department, CaseRecord.chain, func.count())
        .select_from(FindingRecord)
        .outerjoin(CaseRecord, col(CaseRecord.case_no) == col(FindingRecord.case_no))
        .where(col(FindingRecord.found_at) >= since, col(FindingRecord.found_at) < until)
        .group_by(col(FindingRecord.rule), col(FindingRecord.department), col(CaseRecord.chain))
    )
    if chain is not None:
        query = query.where(col(CaseRecord.chain) == chain)
    if department is not None:
        query = query.where(col(FindingRecord.department) == department)
    return [
        (rule, dept or NO_DEPARTMENT, code or NO_CHAIN, int(count))
        for rule, dept, code, count in session.exec(query).all()
    ]


def _department_ratings(
    session: Session, first: date, last: date, chain: str | None
) -> dict[str, Ratings]:
    """Each department's share of the month's ratings: the cases it had a part in."""
    rows = session.exec(
        select(TaskRecord.case_no, TaskRecord.departments, CaseRecord.rating)
        .join(CaseRecord, col(CaseRecord.case_no) == col(TaskRecord.case_no))
        .where(
            *case_filters(start=first, end=last, chain=chain),
            col(CaseRecord.rating).is_not(None),
            col(TaskRecord.status).not_in(LEFT_OUT_TASK_STATUSES),
            col(TaskRecord.kind).not_in(LEFT_OUT_TASK_KINDS),
        )
    ).all()
    seen: dict[str, dict[str, int]] = defaultdict(dict)
    for case_no, departments, rating in rows:
        for department in departments or []:
            seen[department][case_no] = int(rating)
    found = {}
    for department, ratings in seen.items():
        scores = list(ratings.values())
        found[department] = Ratings(
            rated=len(scores),
            avg_rating=round(sum(scores) / len(scores), 2),
            bad_ratings=sum(1 for s in scores if s <= BAD_RATING),
        )
    return found


def _duban(
    session: Session,
    calendar: WorkCalendar,
    first: date,
    last: date,
    *,
    chain: str | None,
    department: str | None,
) -> tuple[list[_DubanAcc], list[_DubanAcc], _DubanAcc]:
    """督办 per department, per chain and in total for the month."""
    since, until = _month_window(first, last)
    by_department: dict[str, _DubanAcc] = {}
    by_chain: dict[str, _DubanAcc] = {}
    total = _DubanAcc(Duban(code="*", name="合计"))

    def entries(dept: str | None, code: str | None) -> list[_DubanAcc]:
        dept, code = dept or NO_DEPARTMENT, code or NO_CHAIN
        return [
            by_department.setdefault(dept, _DubanAcc(Duban(code=dept))),
            by_chain.setdefault(code, _DubanAcc(Duban(code=code))),
            total,
        ]

    item = SupervisionItemRecord
    steps = (item.sent_at, item.responded_at, item.escalated_at, item.closed_at)
    query = (
        select(*steps, CaseRecord.chain, item.department)
        .join(FindingRecord, col(FindingRecord.id) == col(item.finding_id))
        .outerjoin(CaseRecord, col(CaseRecord.case_no) == col(FindingRecord.case_no))
        .where(or_(*((col(s) >= since) & (col(s) < until) for s in steps)))
    )
    if chain is not None:
        query = query.where(col(CaseRecord.chain) == chain)
    if department is not None:
        query = query.where(col(item.department) == department)

    def here(instant: datetime | None) -> bool:
        return instant is not None and since <= instant < until

    for sent_at, responded_at, escalated_at, closed_at, code, dept in session.exec(query).all():
        for entry in entries(dept, code):
            figures = entry.figures
            if here(sent_at):
                figures.opened += 1
                figures.still_open += closed_at is None
            figures.responded += here(responded_at)
            figures.escalated += here(escalated_at)
            if here(closed_at):
                figures.closed += 1
                if sent_at is not None:
                    entry.days.append(
                        calendar.working_days_between(cst_date(sent_at), cst_date(closed_at))
                    )
    return list(by_department.values()), list(by_chain.values()), total


def build_monthly_report(
    engine: Engine,
    limits: dict[str, ChainLimits],
    month: str,
    *,
    chain: str | None = None,
    department: str | None = None,
) -> MonthlyReport:
    """The month's report (``month`` as ``YYYY-MM``; raises :class:`MonthError`)."""
    from readmodel.database import read_session
    from readmodel.departments import DepartmentNames
    from reporting.office import office_report
    from supervision.registry import all_rules

    first, last = parse_month(month)
    performance, calendar = office_report(engine, limits, start=first, end=last, chain=chain)
    notes = list(performance.notes)
    if department is not None:
        performance.departments = [d for d in performance.departments if d.department == department]
        notes.append(
            f"per-chain figures cover every department; department rows, findings and "
            f"督办 only {department}"
        )
    with read_session(engine) as session:
        found = _finding_rows(session, first, last, chain=chain, department=department)
        ratings = _department_ratings(session, first, last, chain)
        dubans, chain_dubans, duban_total = _duban(
            session,
            calendar,
            first,
            last,
            chain=chain,
            department=department,
        )
    names = DepartmentNames.of(engine)
    rules = {r.code: r for r in all_rules()}
    per_rule: dict[str, int] = defaultdict(int)
    for rule, _dept, _code, count in found:
        per_rule[rule] += count

    def rule_name(code: str) -> str:
        return rules[code].name_zh if code in rules else ""

    def severity(code: str) -> str:
        return rules[code].severity.value if code in rules else ""

    def department_name(code: str) -> str:
        return names(code) if code else "（无部门 none）"

    def chain_name(code: str) -> str:
        return limits[code].name if code in limits else ("（无案件 none）" if not code else "")

    for entry in dubans:
        entry.figures.name = department_name(entry.figures.code)
    for entry in chain_dubans:
        entry.figures.name = chain_name(entry.figures.code)
    listed_rules = [*rules, *sorted(set(per_rule) - set(rules))]
    return MonthlyReport(
        month=f"{first:%Y-%m}",
        period_from=first,
        period_to=last,
        chain=chain,
        department=department,
        performance=performance,
        department_ratings={
            k: v for k, v in ratings.items() if department is None or k == department
        },
        rules=[
            RuleCount(rule=r, name=rule_name(r), severity=severity(r), findings=per_rule[r])
            for r in listed_rules
        ],
        findings=[
            FindingCount(
                rule=rule,
                rule_name=rule_name(rule),
                severity=severity(rule),
                department=dept,
                department_name=department_name(dept),
                chain=code,
                chain_name=chain_name(code),
                findings=count,
            )
            for rule, dept, code, count in sorted(found)
        ],
        duban_departments=_sorted(e.finish() for e in dubans),
        duban_chains=_sorted(e.finish() for e in chain_dubans),
        duban_total=duban_total.finish(),
        notes=notes,
    )


def _sorted(rows: Iterable[Duban]) -> list[Duban]:
    return sorted(rows, key=lambda d: (-d.opened, d.code))
