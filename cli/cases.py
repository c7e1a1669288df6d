"""``onechain cases`` (find and read cases) and ``onechain case`` (act on one).

* ``cases list`` reads the SQL read model: fast filters over many cases, most
  urgent first (red, yellow, nearest due date). Applicant ids are masked there.
* ``cases show`` asks the case itself (a Temporal Query, so a worker must run):
  the authoritative tasks, due dates, suspensions, extensions, licences and the
  timeline — and first, in red, what was done to it around onechain (reset,
  terminated, deleted ...; ``readmodel.outside``), if anything was.
* ``case ACTION CASE ...`` sends one action as the signed-in person (``onechain
  login``; ``--role`` picks one of their roles). The worker verifies the session
  and the workflow checks who may do what; a refused action prints the reason on
  stderr and exits 1, and changes nothing.

Exit codes: 0 ok, 1 action refused, 2 bad usage / unknown case, 3 Temporal or the
database unreachable.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from cli import case_actions
from cli.output import (
    EXIT_CODES_HELP,
    EXIT_USAGE,
    emit_json,
    fail,
    guarded,
    message,
    run,
    styled,
    table,
)
from domain.case import CaseState, CaseStatus, Clock, Task, WarningLevel
from domain.departments import department_name
from domain.materials import ACCEPTANCE_ZH
from domain.timezone import CST, cst_date
from runtime.settings import get_settings

app = typer.Typer(
    help="Find cases in the read model and read one case's live state.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)
case_app = typer.Typer(
    help="Act on one case as the signed-in person (onechain login): decide, extend, urge ...",
    epilog="A refused action prints the workflow's reason on stderr and exits 1; nothing "
    "changes. Exit codes: 0 ok, 1 refused, 2 bad usage or unknown case, 3 Temporal unreachable.",
    no_args_is_help=True,
)

WARNING_MARKUP = {"red": styled("red", "red"), "yellow": styled("yellow", "yellow"), "none": ""}

#: The statuses a listed case can have: the workflow's, and ``altered`` (「外部改动」: the
#: case was reset, terminated, deleted ... around onechain; ``readmodel.outside``).
ListedStatus = StrEnum(  # type: ignore[misc]
    "ListedStatus", {**{s.name: s.value for s in CaseStatus}, "ALTERED": "altered"}
)
ALTERED_MARKUP = styled("altered 外部改动", "bold red")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
CaseArg = Annotated[str, typer.Argument(metavar="CASE", help="Case number (办件编号).")]


# ------------------------------------------------------------------------------ list
def _read_model() -> Any:
    from readmodel.database import ready_engine

    return ready_engine(get_settings().resolved_database_url)


def _check_chain(code: str) -> None:
    import chains  # noqa: F401  (registers the chains)
    from workflows import registry

    try:
        registry.get_chain(code)
    except LookupError as unknown:
        fail(str(unknown), EXIT_USAGE)


def _check_department(code: str) -> None:
    """The office's departments (database), as `onechain departments list` shows them."""
    from readmodel.departments import department_codes

    known = department_codes(_read_model())
    if code not in known:
        fail(f"unknown department {code!r} (known: {', '.join(sorted(known))})", EXIT_USAGE)


@app.command("list")
@guarded
def list_cases(
    chain: Annotated[str | None, typer.Option(help="Only this chain (code).")] = None,
    status: Annotated[
        ListedStatus | None,
        typer.Option(help="Only cases in this status (altered: changed outside onechain)."),
    ] = None,
    department: Annotated[
        str | None, typer.Option(help="Only cases waiting on this department (code).")
    ] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only cases with a red card (超期).")
    ] = False,
    warning: Annotated[
        bool, typer.Option("--warning", help="Only cases with a yellow or red card (预警).")
    ] = False,
    search: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="Part of the case number or the applicant's name."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows per page.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip (paging).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """List cases from the read model, most urgent first (red, yellow, nearest due date)."""
    from readmodel.database import read_session
    from readmodel.queries import count_cases, list_cases

    if chain is not None:
        _check_chain(chain)
    if department is not None:
        _check_department(department)
    filters: dict[str, Any] = {
        "chain": chain,
        "status": status.value if status else None,
        "department": department,
        "warning": ["red", "yellow"] if warning else None,
        "overdue_only": overdue,
        "search": search,
    }
    with read_session(_read_model()) as session:
        total = count_cases(session, **filters)
        rows = list_cases(session, **filters, limit=limit, offset=offset)
    if as_json:
        hidden = {"warning_rank", "due_sort"}
        emit_json(
            {
                "total": total,
                "offset": offset,
                "limit": limit,
                "cases": [row.model_dump(mode="json", exclude=hidden) for row in rows],
            }
        )
        return
    table(
        None,
        ["case", "chain", "status", "stage", "applicant", "id", "due", "next due", "card", "at"],
        [
            [
                r.case_no,
                r.chain,
                ALTERED_MARKUP if r.status == "altered" else r.status,
                r.stage,
                r.applicant_name,
                r.applicant_id_masked,
                f"{r.due_on.isoformat()}{'*' if r.provisional else ''}",
                r.next_due_on,
                WARNING_MARKUP.get(r.warning, r.warning),
                ",".join(r.open_departments),
            ]
            for r in rows
        ],
    )
    if rows:
        message(f"{offset + 1}–{offset + len(rows)} of {total} (most urgent first; * provisional)")
    else:
        message(f"no cases (of {total} matching)")


# ------------------------------------------------------------------------------ show
async def _query(case_no: str) -> CaseState:
    from client.facade import CaseDesk
    from runtime.connect import connect

    return await CaseDesk(await connect()).state(case_no)


class DaysLeft:
    """Working days left on a clock, from a calendar snapshot built like the server's."""

    def __init__(self, state: CaseState, today: date) -> None:
        from domain.calendar import WorkCalendar
        from readmodel.calendar_store import calendar_from_store
        from readmodel.database import ready_engine

        clocks = [state.promised, state.statutory] + [t.clock for t in state.tasks if t.clock]
        years = [today.year] + [c.due_on.year for c in clocks] + [c.started_on.year for c in clocks]
        engine = ready_engine(get_settings().resolved_database_url)
        snapshot = calendar_from_store(engine, min(years) - 1, max(years) + 1)
        self.calendar = WorkCalendar(snapshot)
        self.today = today

    def of(self, clock: Clock | None) -> int | None:
        """None when there is no running limit; a stopped clock counts as resuming today."""
        from domain.deadlines import days_left

        return days_left(self.calendar, clock, self.today)


def _stopped(clock: Clock | None) -> bool:
    return clock is not None and any(p.end is None for p in clock.pauses)


def _warning(clock: Clock | None, is_open: bool = True) -> WarningLevel:
    from domain.deadlines import warning_level

    return warning_level(clock) if is_open else WarningLevel.NONE


def _left_text(days: int | None, clock: Clock | None) -> str:
    """``3``, ``overdue`` (past the due day, no working day since) or ``overdue by 2``."""
    if days is None:
        return ""
    text = str(days) if days > 0 else "overdue" if days == 0 else f"overdue by {-days}"
    return text + (" (stopped)" if _stopped(clock) else "")


def _now() -> datetime:
    return datetime.now(UTC)


def _when(instant: datetime | None) -> str:
    return instant.astimezone(CST).strftime("%Y-%m-%d %H:%M") if instant else ""


def _due_text(clock: Clock | None) -> str:
    if clock is None:
        return ""
    return clock.due_on.isoformat() + (" provisional" if clock.provisional else "")


def _parts_text(task: Task) -> tuple[str, str]:
    departments = []
    assignees = []
    for part in task.parts:
        verdict = f" {part.verdict.value}" if part.verdict else ""
        behalf = " (on behalf)" if part.on_behalf else ""
        departments.append(
            f"{department_name(part.department)}({part.department}){verdict}{behalf}"
        )
        if part.assignee:
            assignees.append(part.assignee)
    return "\n".join(departments), ", ".join(assignees)


def show_state(state: CaseState, today: date, as_json: bool) -> None:
    days = DaysLeft(state, today)
    running = state.status is CaseStatus.RUNNING
    task_view = {
        t.id: {
            "days_left": days.of(t.clock) if t.is_open else None,
            "warning": _warning(t.clock, t.is_open).value,
            "stopped": _stopped(t.clock) if t.is_open else False,
        }
        for t in state.tasks
    }
    case_warning = _warning(state.promised, running)
    if as_json:
        data = state.model_dump(mode="json")
        for task in data["tasks"]:
            task.update(task_view[task["id"]])
        data["today"] = today.isoformat()
        data["warning"] = case_warning.value
        data["days_left"] = {
            "promised": days.of(state.promised) if running else None,
            "statutory": days.of(state.statutory) if running else None,
        }
        emit_json(data)
        return

    applicant = state.applicant
    accepted = state.accepted_on.isoformat() if state.accepted_on else "not accepted yet"
    message(
        styled(state.case_no, "bold"),
        f"  {state.chain_name} ({state.chain} v{state.chain_version})",
    )
    message(f"status: {state.status.value}   stage: {state.stage}")
    message(
        f"applicant: {applicant.name}  {applicant.id_masked}  {applicant.phone_masked}".rstrip()
    )
    message(
        f"received: {_when(state.received_at)}   accepted: {accepted}"
        f"   ({state.acceptance.value} {ACCEPTANCE_ZH.get(state.acceptance, '')})"
    )
    for label, clock in (("promised", state.promised), ("statutory", state.statutory)):
        left = _left_text(days.of(clock), clock) if running else ""
        left = f"   working days left: {left}" if left else ""
        extra = f" (+{clock.extension_days} extension)" if clock.extension_days else ""
        message(f"{label} due: {_due_text(clock)}{extra}{left}")
    if running and case_warning is not WarningLevel.NONE:
        message("card: ", WARNING_MARKUP[case_warning.value])
    if state.concluded_at:
        reason = f" — {state.outcome_reason}" if state.outcome_reason else ""
        message(f"concluded: {_when(state.concluded_at)}{reason}")
    if state.rating is not None:
        comment = f" — {state.rating.comment}" if state.rating.comment else ""
        message(f"rating (好差评): {state.rating.score}/5{comment}")
    elif state.rating_until is not None:
        message(f"rating (好差评) open until {state.rating_until.isoformat()}")
    if state.notice is not None:
        message(f"one-time notice (一次告知) {_when(state.notice.issued_at)}: {state.notice.text}")
    if state.materials:
        table(
            "Materials (一套材料)",
            ["code", "material", "key", "state", "source"],
            [
                [m.code, m.name, "key" if m.key else "", m.state.value, m.source]
                for m in state.materials
            ],
        )

    rows = []
    for task in state.tasks:
        departments, assignees = _parts_text(task)
        view = task_view[task.id]
        status = task.status.value
        if task.missing_items:
            status += f" (missing: {'、'.join(task.missing_items)})"
        rows.append(
            [
                task.id,
                task.name,
                departments,
                assignees,
                status,
                _due_text(task.clock),
                _left_text(view["days_left"], task.clock) if task.is_open else "",
                WARNING_MARKUP.get(view["warning"], view["warning"]),
            ]
        )
    table(
        "Tasks",
        ["task", "name", "departments", "assignee", "status", "due", "days left", "card"],
        rows,
    )
    if state.suspensions:
        table(
            "Suspensions (clock stopped)",
            ["id", "kind", "task", "from", "to", "by", "reason"],
            [
                [
                    s.id,
                    s.kind.value,
                    s.task_id or "case",
                    s.start,
                    s.end or "running",
                    s.started_by.name,
                    s.reason,
                ]
                for s in state.suspensions
            ],
        )
    if state.extensions:
        table(
            "Extensions",
            ["target", "days", "new due", "granted", "by", "reason"],
            [
                [e.target, e.days, e.new_due_on, e.granted_on, e.granted_by.name, e.reason]
                for e in state.extensions
            ],
        )
    if state.licences:
        table(
            "Licences",
            ["number", "licence", "department", "issued"],
            [
                [lic.number, lic.name, department_name(lic.department), lic.issued_on]
                for lic in state.licences
            ],
        )
    table(
        "Timeline",
        ["#", "when", "who", "what", "why"],
        [[e.seq, _when(e.at), e.actor.describe(), e.summary, e.reason] for e in state.events],
    )


@app.command()
@guarded
def show(case_no: CaseArg, as_json: JsonOption = False) -> None:
    """Show one case as it is now: tasks, due dates, working days left, cards, suspensions, extensions, licences and the timeline.

    The state comes from the case's workflow (a Query), so a worker must be running.
    """
    from client.facade import CaseError

    outside = _outside_changes(case_no)
    try:
        state = run(_query(case_no))
    except CaseError:
        if not outside:
            raise
        state = None  # deleted around onechain: the read model's record is what is left
    if state is None:
        if as_json:
            emit_json({"case_no": case_no, "status": "altered", "outside_changes": outside})
        else:
            _show_outside(case_no, outside)
        return
    supervision = _supervision_steps(case_no)
    if as_json and (outside or supervision):
        data = state.model_dump(mode="json")
        if outside:
            data.update(status="altered", outside_changes=outside)
        emit_json({**data, "supervision": supervision})
        return
    if outside:
        _show_outside(case_no, outside)
    show_state(state, cst_date(_now()), as_json)
    if supervision:
        message(styled("督办（supervision）", "bold"))
        for step in supervision:
            message(
                f"  {step['at'][:19]}Z  {step['summary']}  —— {step['actor']}：{step['reason']}"
            )


def _outside_changes(case_no: str) -> list[dict[str, str]]:
    """What the audit trail says was done to the case around onechain (empty when
    nothing was, or there is no read model to ask)."""
    from readmodel.database import read_session
    from readmodel.errors import ReadModelError
    from readmodel.outside import outside_changes

    try:
        with read_session(_read_model()) as session:
            found = outside_changes(session, case_no)
    except ReadModelError:
        return []
    return [
        {"what": c.kind, "at": c.at.isoformat(), "summary": c.summary, "identity": c.identity}
        for c in found
    ]


def _supervision_steps(case_no: str) -> list[dict[str, str]]:
    """The 督办 steps taken on the case's findings (the audit trail's
    ``supervision_item`` rows), oldest first; empty without a read model."""
    from sqlmodel import col, select

    from readmodel.audit import AuditRecord
    from readmodel.database import read_session
    from readmodel.errors import ReadModelError

    try:
        with read_session(_read_model()) as session:
            rows = session.exec(
                select(AuditRecord)
                .where(AuditRecord.case_no == case_no, AuditRecord.kind == "supervision_item")
                .order_by(col(AuditRecord.id))
            ).all()
    except ReadModelError:
        return []
    return [
        {"at": r.at.isoformat(), "summary": r.summary, "actor": r.actor_name or r.actor_id,
         "reason": r.reason, "step": str((r.data or {}).get("step", ""))}
        for r in rows
    ]  # fmt: skip


def _show_outside(case_no: str, changes: list[dict[str, str]]) -> None:
    message(
        styled(
            f"{case_no}: 外部改动 (changed outside onechain) — not running as onechain ran it",
            "bold red",
        )
    )
    for change in changes:
        message(styled(f"  {change['at'][:19]}Z  {change['summary']}", "red"))


# --------------------------------------------------------------------------- actions
# One command per action declared in domain/action_catalog.py (cli/case_actions.py).
case_actions.register(case_app, _check_department)
