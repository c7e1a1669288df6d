"""What the console reads from the SQL read model: pages of cases, the overview's
counts and each department's load.

Everything is filtered, sorted and paged in SQL; no function here returns more
rows than one page, except the per-department aggregation, which reads three
small columns of *open* tasks only. These functions block (SQLAlchemy is
synchronous): screens call them from workers (``asyncio.to_thread``), never on
the UI thread.

This is an adapter over ``readmodel.tables`` because ``readmodel.queries`` has no
stage filter, no "yellow or red" shortcut, no sort choice and no aggregations yet
(see the TUI's report).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, String, and_, case, cast, func, or_
from sqlmodel import col, select

from domain.case import Clock
from domain.timezone import cst_date, start_of_day
from readmodel.calendar_revisions import running_behind
from readmodel.calendar_store import calendar_revision
from readmodel.database import read_session
from readmodel.tables import CaseDepartmentRecord, CaseRecord, TaskRecord

OPEN_TASK_STATUSES = ("open", "returned")
PROBLEM_WARNINGS = ("yellow", "red")
SORTS = ("urgency", "case_no", "newest")


@dataclass(frozen=True)
class CaseFilter:
    """What the case list shows; every field narrows it, ``None`` means any."""

    chain: str | None = None
    status: str | None = None
    stage: str | None = None
    department: str | None = None
    warning: str | None = None
    problems_only: bool = False
    search: str = ""
    sort: str = "urgency"
    #: An Overview card: ``case_red``/``case_yellow`` (the case's own limit) or
    #: ``task_red``/``task_yellow`` (a step's limit).
    card: str | None = None
    accepted_on: date | None = None
    concluded_on: date | None = None
    #: 「我代办的」: the cases whose 代办员 (帮办代办) is this user id.
    agent: str | None = None

    @property
    def active(self) -> bool:
        return any(
            (
                self.chain,
                self.status,
                self.stage,
                self.department,
                self.warning,
                self.problems_only,
                self.search.strip(),
                self.card,
                self.accepted_on,
                self.concluded_on,
                self.agent,
            )
        )


@dataclass(frozen=True)
class Holding:
    """One open task of a case: who holds the case now, and until when."""

    task_id: str
    name: str
    departments: list[str]
    assignees: list[str]
    due_on: date | None
    warning: str
    stopped: bool
    clock: Clock | None = None


@dataclass(frozen=True)
class CaseListRow:
    case_no: str
    chain: str
    status: str
    stage: str
    applicant_name: str
    applicant_id_masked: str
    open_departments: list[str]
    due_on: date | None
    provisional: bool
    warning: str
    accepted_on: date | None = None  # the acceptance day never counts in days left
    promised_clock: Clock | None = None
    holders: list[Holding] = field(default_factory=list)
    #: The 代办员 (帮办代办) by user id, or None.
    agent: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[CaseListRow]
    total: int
    offset: int
    limit: int


def _filters(flt: CaseFilter) -> list[Any]:
    filters: list[Any] = []
    for column, value in (
        (CaseRecord.chain, flt.chain),
        (CaseRecord.status, flt.status),
        (CaseRecord.stage, flt.stage),
        (CaseRecord.warning, flt.warning),
        (CaseRecord.agent, flt.agent),
    ):
        if value:
            filters.append(col(column) == value)
    if flt.problems_only:
        filters.append(col(CaseRecord.warning).in_(PROBLEM_WARNINGS))
    if flt.card:
        scope, _, level = flt.card.partition("_")
        filters.append(col(CaseRecord.status) == "running")
        if scope == "case":
            filters.append(col(CaseRecord.case_warning) == level)
        else:
            carded = select(TaskRecord.case_no).where(
                col(TaskRecord.status).in_(OPEN_TASK_STATUSES), col(TaskRecord.warning) == level
            )
            filters.append(col(CaseRecord.case_no).in_(carded))
    if flt.accepted_on:
        filters.append(col(CaseRecord.accepted_on) == flt.accepted_on)
    if flt.concluded_on:
        filters.append(col(CaseRecord.concluded_at) >= start_of_day(flt.concluded_on))
        filters.append(
            col(CaseRecord.concluded_at) < start_of_day(flt.concluded_on + timedelta(days=1))
        )
    if flt.department:
        waiting = select(CaseDepartmentRecord.case_no).where(
            CaseDepartmentRecord.department == flt.department
        )
        filters.append(col(CaseRecord.case_no).in_(waiting))
    text = flt.search.strip()
    if text:
        filters.append(
            or_(
                col(CaseRecord.case_no).icontains(text, autoescape=True),
                col(CaseRecord.applicant_name).icontains(text, autoescape=True),
            )
        )
    return filters


def _order(sort: str) -> list[Any]:
    if sort == "case_no":
        return [col(CaseRecord.case_no)]
    if sort == "newest":
        return [col(CaseRecord.received_at).desc(), col(CaseRecord.case_no)]
    # Most urgent first: red, yellow, then nearest due (the read model's sort keys).
    return [col(CaseRecord.warning_rank), col(CaseRecord.due_sort), col(CaseRecord.case_no)]


_LIST_COLUMNS = (
    CaseRecord.case_no,
    CaseRecord.chain,
    CaseRecord.status,
    CaseRecord.stage,
    CaseRecord.applicant_name,
    CaseRecord.applicant_id_masked,
    CaseRecord.open_departments,
    CaseRecord.next_due_on,
    CaseRecord.due_on,
    CaseRecord.provisional,
    CaseRecord.warning,
    CaseRecord.accepted_on,
    CaseRecord.promised_clock,
    CaseRecord.agent,
)


def _clock(data: dict[str, Any] | None) -> Clock | None:
    """A clock stored by the projection (None for rows written before it was)."""
    if not data:
        return None
    try:
        return Clock.model_validate(data)
    except ValueError:
        return None


def holdings(session: Any, case_numbers: list[str]) -> dict[str, list[Holding]]:
    """The open tasks of these cases (one page), by case number, in task order."""
    held: dict[str, list[Holding]] = {}
    if not case_numbers:
        return held
    rows = session.exec(
        select(
            TaskRecord.case_no,
            TaskRecord.task_id,
            TaskRecord.name,
            TaskRecord.departments,
            TaskRecord.open_departments,
            TaskRecord.assignees,
            TaskRecord.due_on,
            TaskRecord.warning,
            TaskRecord.stopped,
            TaskRecord.clock,
            TaskRecord.status,
            TaskRecord.started_at,
        )
        # By primary key only: with a status condition SQLite's planner picks the
        # status index and reads every open task of every case (100 ms at 20,000).
        .where(col(TaskRecord.case_no).in_(case_numbers))
    ).all()
    rows = sorted(
        (r for r in rows if r.status in OPEN_TASK_STATUSES),
        key=lambda r: (r.case_no, r.started_at, r.task_id),
    )
    for r in rows:
        held.setdefault(r.case_no, []).append(
            Holding(
                task_id=r.task_id,
                name=r.name,
                departments=list(r.open_departments or r.departments or []),
                assignees=list(r.assignees or []),
                due_on=r.due_on,
                warning=r.warning,
                stopped=bool(r.stopped),
                clock=_clock(r.clock),
            )
        )
    return held


def list_page(engine: Engine, flt: CaseFilter, offset: int = 0, limit: int = 100) -> Page:
    """One page of cases and the total the filter matches."""
    filters = _filters(flt)
    with read_session(engine) as session:
        total = int(
            session.exec(select(func.count()).select_from(CaseRecord).where(*filters)).one()
        )
        if offset >= total and total:
            offset = max(0, (total - 1) // limit * limit)
        stmt = (
            select(*_LIST_COLUMNS)
            .where(*filters)
            .order_by(*_order(flt.sort))
            .limit(limit)
            .offset(offset)
        )
        found = session.exec(stmt).all()
        held = holdings(session, [r.case_no for r in found if r.status == "running"])
        rows = [
            CaseListRow(
                case_no=r.case_no,
                chain=r.chain,
                status=r.status,
                stage=r.stage,
                applicant_name=r.applicant_name,
                applicant_id_masked=r.applicant_id_masked,
                open_departments=list(r.open_departments or []),
                due_on=r.next_due_on if r.status == "running" else None,
                provisional=bool(r.provisional),
                warning=r.warning,
                accepted_on=r.accepted_on,
                promised_clock=_clock(r.promised_clock) if r.status == "running" else None,
                holders=held.get(r.case_no, []),
                agent=r.agent,
            )
            for r in found
        ]
    return Page(rows=rows, total=total, offset=offset, limit=limit)


@dataclass(frozen=True)
class FilterChoices:
    chains: list[str]
    stages: list[str]
    departments: list[str]


def filter_choices(engine: Engine) -> FilterChoices:
    """The values the filter dialog offers (chains and stages as they occur)."""
    from domain.departments import DEPARTMENTS
    from readmodel.departments import department_codes

    with read_session(engine) as session:
        chains = sorted(session.exec(select(CaseRecord.chain).distinct()).all())
        stages = sorted(session.exec(select(CaseRecord.stage).distinct()).all())
    added = sorted(department_codes(engine) - set(DEPARTMENTS))  # the office's own
    return FilterChoices(chains=chains, stages=stages, departments=[*DEPARTMENTS, *added])


# ------------------------------------------------------------------ overview
@dataclass(frozen=True)
class ChainStageCount:
    chain: str
    stage: str
    count: int
    yellow: int
    red: int


#: Where a card goes when its case waits on no department (at the window, on the
#: applicant): shown as "no department" so every card is attributed somewhere.
NOBODY = "-"


@dataclass(frozen=True)
class DepartmentLoad:
    """One department's open steps and the cards it holds.

    ``yellow``/``red`` count every card the department holds: its steps' own cards
    (task rows) plus the case-level cards of the cases waiting on it (a case over its
    promised limit is late at whoever holds it now).
    """

    department: str
    open_tasks: int = 0
    yellow: int = 0
    red: int = 0
    returned: int = 0
    cases: int = 0
    overdue_cases: int = 0
    task_yellow: int = 0
    task_red: int = 0


@dataclass
class Overview:
    open_cases: int = 0
    case_yellow: int = 0
    case_red: int = 0
    task_yellow: int = 0
    task_red: int = 0
    accepted_today: int = 0
    concluded_today: int = 0
    by_chain_stage: list[ChainStageCount] = field(default_factory=list)
    overdue_by_department: list[DepartmentLoad] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    accepted_per_day: list[int] = field(default_factory=list)
    concluded_per_day: list[int] = field(default_factory=list)
    #: Cases changed around onechain (status ``altered``, ``readmodel.outside``).
    altered: int = 0
    #: Running cases on an older calendar revision (``readmodel.calendar_revisions``).
    calendar_behind: int = 0


def _sum_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def overview(engine: Engine, today: date, days: int = 14) -> Overview:
    """Counts for the overview screen as of ``today`` (a China date)."""
    result = Overview()
    first_day = today - timedelta(days=days - 1)
    with read_session(engine) as session:
        running = col(CaseRecord.status) == "running"
        row = session.exec(
            select(
                func.count(),
                _sum_if(col(CaseRecord.case_warning) == "yellow"),
                _sum_if(col(CaseRecord.case_warning) == "red"),
            )
            .select_from(CaseRecord)
            .where(running)
        ).one()
        result.open_cases, result.case_yellow, result.case_red = (int(v) for v in row)
        result.altered = int(
            session.exec(
                select(func.count()).select_from(CaseRecord).where(CaseRecord.status == "altered")
            ).one()
        )
        task_counts = dict(
            session.exec(
                select(TaskRecord.warning, func.count())
                .where(col(TaskRecord.status).in_(OPEN_TASK_STATUSES))
                .group_by(TaskRecord.warning)
            ).all()
        )
        result.task_yellow = int(task_counts.get("yellow", 0))
        result.task_red = int(task_counts.get("red", 0))
        result.by_chain_stage = [
            ChainStageCount(chain, stage, int(n), int(y), int(r))
            for chain, stage, n, y, r in session.exec(
                select(
                    CaseRecord.chain,
                    CaseRecord.stage,
                    func.count(),
                    _sum_if(col(CaseRecord.warning) == "yellow"),
                    _sum_if(col(CaseRecord.warning) == "red"),
                )
                .where(running)
                .group_by(CaseRecord.chain, CaseRecord.stage)
                .order_by(CaseRecord.chain, func.count().desc(), CaseRecord.stage)
            ).all()
        ]
        accepted = dict(
            session.exec(
                select(CaseRecord.accepted_on, func.count())
                .where(col(CaseRecord.accepted_on) >= first_day)
                .where(col(CaseRecord.accepted_on) <= today)
                .group_by(CaseRecord.accepted_on)
            ).all()
        )
        concluded: Counter[date] = Counter(
            cst_date(at)
            for at in session.exec(
                select(CaseRecord.concluded_at).where(
                    and_(
                        col(CaseRecord.concluded_at).is_not(None),
                        col(CaseRecord.concluded_at) >= start_of_day(first_day),
                        col(CaseRecord.concluded_at) < start_of_day(today + timedelta(days=1)),
                    )
                )
            ).all()
            if at is not None
        )
    result.calendar_behind = running_behind(engine, calendar_revision(engine))
    result.days = [first_day + timedelta(days=i) for i in range(days)]
    result.accepted_per_day = [int(accepted.get(d, 0)) for d in result.days]
    result.concluded_per_day = [concluded.get(d, 0) for d in result.days]
    result.accepted_today = result.accepted_per_day[-1]
    result.concluded_today = result.concluded_per_day[-1]
    loads = department_loads(engine)
    result.overdue_by_department = sorted(
        (d for d in loads if d.red or d.yellow or d.overdue_cases),
        key=lambda d: (-d.red, -d.overdue_cases, d.department),
    )
    return result


def department_loads(engine: Engine) -> list[DepartmentLoad]:
    """Each department's open steps, cards, returns and waiting cases."""
    open_tasks: Counter[str] = Counter()
    task_yellow: Counter[str] = Counter()
    task_red: Counter[str] = Counter()
    case_cards: dict[str, Counter[str]] = {"yellow": Counter(), "red": Counter()}
    returned: Counter[str] = Counter()
    with read_session(engine) as session:
        # Grouped by the JSON text, so Python decodes one row per distinct set of
        # departments instead of one per open task.
        open_text = cast(TaskRecord.open_departments, String)
        all_text = cast(TaskRecord.departments, String)
        rows = session.exec(
            select(open_text, all_text, TaskRecord.warning, TaskRecord.status, func.count())
            .where(col(TaskRecord.status).in_(OPEN_TASK_STATUSES))
            .group_by(open_text, all_text, TaskRecord.warning, TaskRecord.status)
        ).all()
        for open_json, all_json, warning, status, count in rows:
            departments = json.loads(open_json or "[]") or json.loads(all_json or "[]")
            for department in departments:
                open_tasks[department] += count
                if warning == "yellow":
                    task_yellow[department] += count
                elif warning == "red":
                    task_red[department] += count
                if status == "returned":
                    returned[department] += count
        waiting = dict(
            session.exec(
                select(CaseDepartmentRecord.department, func.count()).group_by(
                    CaseDepartmentRecord.department
                )
            ).all()
        )
        overdue = dict(
            session.exec(
                select(CaseDepartmentRecord.department, func.count())
                .join(CaseRecord, col(CaseRecord.case_no) == col(CaseDepartmentRecord.case_no))
                .where(col(CaseRecord.warning) == "red")
                .group_by(CaseDepartmentRecord.department)
            ).all()
        )
        running = col(CaseRecord.status) == "running"
        carded = col(CaseRecord.case_warning).in_(PROBLEM_WARNINGS)
        for department, level, count in session.exec(
            select(CaseDepartmentRecord.department, CaseRecord.case_warning, func.count())
            .join(CaseRecord, col(CaseRecord.case_no) == col(CaseDepartmentRecord.case_no))
            .where(running, carded)
            .group_by(CaseDepartmentRecord.department, CaseRecord.case_warning)
        ).all():
            case_cards[level][department] += int(count)
        held = select(CaseDepartmentRecord.case_no)
        for level, count in session.exec(
            select(CaseRecord.case_warning, func.count())
            .where(running, carded, col(CaseRecord.case_no).not_in(held))
            .group_by(CaseRecord.case_warning)
        ).all():
            case_cards[level][NOBODY] += int(count)
        unheld_red = int(
            session.exec(
                select(func.count())
                .select_from(CaseRecord)
                .where(
                    running,
                    col(CaseRecord.warning) == "red",
                    col(CaseRecord.case_no).not_in(held),
                )
            ).one()
        )
    if unheld_red:
        overdue[NOBODY] = unheld_red
    names = (
        set(open_tasks) | set(waiting) | set(case_cards["red"]) | set(case_cards["yellow"])
    ) | ({NOBODY} if unheld_red else set())
    loads = [
        DepartmentLoad(
            department=name,
            open_tasks=open_tasks[name],
            yellow=task_yellow[name] + case_cards["yellow"][name],
            red=task_red[name] + case_cards["red"][name],
            returned=returned[name],
            cases=int(waiting.get(name, 0)),
            overdue_cases=int(overdue.get(name, 0)),
            task_yellow=task_yellow[name],
            task_red=task_red[name],
        )
        for name in names
    ]
    return sorted(loads, key=lambda d: (-d.red, -d.yellow, -d.open_tasks, d.department))


def case_statuses(engine: Engine, case_numbers: list[str]) -> dict[str, str]:
    """Each case's status as the read model has it (bulk actions skip concluded ones)."""
    if not case_numbers:
        return {}
    with read_session(engine) as session:
        return dict(
            session.exec(
                select(CaseRecord.case_no, CaseRecord.status).where(
                    col(CaseRecord.case_no).in_(case_numbers)
                )
            ).all()
        )
