"""``onechain reconcile``: rebuild the read model from Temporal, the source of truth.

Every case workflow (running or closed, while Temporal keeps its history) is asked
for its state with a Query, the state is projected exactly as the workflow's own
projection does it (``CaseFile.projection``), the result is compared with what the
read model holds, and only rows that differ are written (idempotently, with the
same upsert the workflows use). The report lists what changed: cases missing from
the read model, fields that differed, events that were added, and rows the read
model has for cases Temporal no longer knows (left alone).

Queries are answered by a worker on the case's task queue, so by default only the
cases on this deployment's queue (``ONECHAIN_TASK_QUEUE``) are reconciled;
``--all-queues`` asks every case (and waits for a worker on each queue).

Exit codes: 0 ok, 1 some cases could not be read, 2 bad usage, 3 Temporal or the
database unreachable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.output import EXIT_REJECTED, emit_json, guarded, message, note, run, table
from runtime.settings import get_settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from domain.case import CaseState
    from domain.projection import DerivedRecords, ProjectionBatch

CASE_WORKFLOWS = "WorkflowType = 'CaseWorkflow'"
#: Case-row columns that change on every write and say nothing about the case.
IGNORED_CASE_FIELDS = frozenset({"updated_at"})


# ---------------------------------------------------------------- reading Temporal
@dataclass
class Execution:
    case_no: str
    task_queue: str
    status: str


@dataclass
class Fetched:
    executions: list[Execution]
    states: dict[str, CaseState] = field(default_factory=dict)
    derived: dict[str, DerivedRecords] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    skipped: list[Execution] = field(default_factory=list)


async def case_executions(desk: Any) -> list[Execution]:
    """Every case workflow Temporal knows, latest run per case number (from the facade)."""
    return [Execution(e.case_no, e.task_queue, e.status) for e in await desk.case_executions()]


async def fetch(task_queue: str | None, concurrency: int) -> Fetched:
    """List the cases and query those on ``task_queue`` (all when None)."""
    from client.facade import CaseDesk
    from runtime.connect import connect

    desk = CaseDesk(await connect())
    fetched = Fetched(await case_executions(desk))
    wanted = [e for e in fetched.executions if task_queue is None or e.task_queue == task_queue]
    fetched.skipped = [e for e in fetched.executions if e not in wanted]
    gate = asyncio.Semaphore(concurrency)

    async def query(execution: Execution) -> None:
        async with gate:
            try:
                fetched.states[execution.case_no] = await desk.state(execution.case_no)
                fetched.derived[execution.case_no] = await desk.derived_records(execution.case_no)
            except Exception as error:
                fetched.unreadable[execution.case_no] = f"{type(error).__name__}: {error}"

    await asyncio.gather(*(query(e) for e in wanted))
    return fetched


# ------------------------------------------------------------------ comparing rows
def projection_of(state: CaseState, now: datetime) -> ProjectionBatch:
    """The batch the workflow itself would write for ``state`` (all events).

    Projection reads only the state; the calendar and warning fraction a CaseFile
    also holds are used for recomputing deadlines, which this does not do.
    """
    from domain.calendar import CalendarData
    from domain.casefile import CaseFile

    return CaseFile(state, CalendarData(), get_settings().warning_fraction).projection(0, now)


def _text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "[]"
    return "∅" if value is None else str(value)


def _differences(stored: Any, wanted: dict[str, Any], ignore: frozenset[str]) -> list[str]:
    changes = []
    for name, value in wanted.items():
        if name in ignore:
            continue
        before = getattr(stored, name, None)
        if before != value:
            changes.append(f"{name} {_text(before)} → {_text(value)}")
    return changes


@dataclass
class CaseDiff:
    case_no: str
    missing: bool = False
    changes: list[str] = field(default_factory=list)
    events_added: int = 0
    newer_in_read_model: bool = False

    @property
    def changed(self) -> bool:
        return self.missing or bool(self.changes) or self.events_added > 0


def compare(session: Session, batch: ProjectionBatch) -> CaseDiff:
    """What the read model lacks or holds differently, compared with ``batch``."""
    from sqlmodel import col, select

    from readmodel.queries import case_tasks, get_case
    from readmodel.tables import EventRecord

    case_no = batch.case.case_no
    diff = CaseDiff(case_no)
    stored_events = set(
        session.exec(select(EventRecord.seq).where(col(EventRecord.case_no) == case_no)).all()
    )
    diff.events_added = sum(1 for e in batch.events if e.seq not in stored_events)
    row = get_case(session, case_no)
    if row is None:
        diff.missing = True
        return diff
    if row.last_seq > batch.case.last_seq:
        diff.newer_in_read_model = True  # the case moved on since the query; leave it
        return diff
    diff.changes = _differences(row, batch.case.model_dump(), IGNORED_CASE_FIELDS)
    stored_tasks = {t.task_id: t for t in case_tasks(session, case_no)}
    for task in batch.tasks:
        stored = stored_tasks.pop(task.task_id, None)
        if stored is None:
            diff.changes.append(f"task {task.task_id} missing")
            continue
        changes = _differences(stored, task.model_dump(), frozenset({"case_no", "task_id"}))
        diff.changes += [f"task {task.task_id} {c}" for c in changes]
    diff.changes += [f"task {task_id} not in the case" for task_id in sorted(stored_tasks)]
    return diff


# ------------------------------------------------------------ rebuilding derived tables
def restore_all_derived(engine: Any, fetched: Fetched, *, dry_run: bool) -> dict[str, int]:
    """Rebuild e-licences, revocations, publications and notifications from what each
    case says it wrote; counts the rows that were missing (nothing written on a dry run)."""
    from sqlmodel import Session

    from activities.licences import lookup_key
    from readmodel.projection import restore_derived

    totals = {"licences": 0, "revoked": 0, "publications": 0, "notifications": 0}
    if not fetched.derived:
        return totals
    key = lookup_key()
    with Session(engine) as session:
        for case_no in sorted(fetched.derived):
            for kind, count in restore_derived(
                session, fetched.derived[case_no], lookup_key=key
            ).items():
                totals[kind] += count
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return totals


# -------------------------------------------------------------------------- command
@guarded
def reconcile(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compare and report only; write nothing.")
    ] = False,
    all_queues: Annotated[
        bool,
        typer.Option(
            "--all-queues",
            help="Query cases on every task queue, not only ONECHAIN_TASK_QUEUE "
            "(each needs a running worker).",
        ),
    ] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Queries in flight at once.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Rebuild the read model from Temporal: query every case, compare, write what differs.

    Reports cases missing from the read model, rows whose status, stage, due dates or tasks differ, events added, and read-model rows of cases Temporal no longer has (left alone). Queries need a running worker.

    Exit codes: 0 ok, 1 some cases could not be queried, 2 bad usage, 3 Temporal or the database unreachable.
    """
    from sqlmodel import select

    from readmodel.database import read_session, ready_engine
    from readmodel.projection import project
    from readmodel.tables import CaseRecord

    settings = get_settings()
    task_queue = None if all_queues else settings.task_queue
    fetched = run(fetch(task_queue, concurrency))
    engine = ready_engine(settings.resolved_database_url)
    now = datetime.now(UTC)
    diffs: list[CaseDiff] = []
    for case_no in sorted(fetched.states):
        batch = projection_of(fetched.states[case_no], now)
        with read_session(engine) as session:
            diff = compare(session, batch)
        if diff.changed and not dry_run:
            project(engine, batch)
        diffs.append(diff)
    restored = restore_all_derived(engine, fetched, dry_run=dry_run)
    known = {e.case_no for e in fetched.executions}
    with read_session(engine) as session:
        stored = session.exec(select(CaseRecord.case_no)).all()
    orphans = sorted(set(stored) - known)

    changed = [d for d in diffs if d.changed]
    summary = {
        "task_queue": task_queue,
        "dry_run": dry_run,
        "checked": len(diffs),
        "missing": [d.case_no for d in diffs if d.missing],
        "changed": {d.case_no: d.changes for d in diffs if d.changes},
        "events_added": {d.case_no: d.events_added for d in diffs if d.events_added},
        "unchanged": len(diffs) - len(changed),
        "newer_in_read_model": [d.case_no for d in diffs if d.newer_in_read_model],
        "unreadable": fetched.unreadable,
        "skipped_other_queues": len(fetched.skipped),
        "only_in_read_model": orphans,
        "written": 0 if dry_run else len(changed),
        "restored": restored,
    }
    if as_json:
        emit_json(summary)
    else:
        rows: list[list[str]] = []
        for diff in changed:
            if diff.missing:
                rows.append(
                    [diff.case_no, f"missing from the read model ({diff.events_added} events)"]
                )
                continue
            rows += [[diff.case_no, change] for change in diff.changes]
            if diff.events_added:
                rows.append([diff.case_no, f"{diff.events_added} event(s) added"])
        rows += [[case_no, f"unreadable: {error}"] for case_no, error in fetched.unreadable.items()]
        rows += [
            [case_no, "only in the read model (not in Temporal); left alone"] for case_no in orphans
        ]
        if rows:
            table("Reconcile", ["case", "change"], rows)
        scope = f"task queue {task_queue!r}" if task_queue else "all task queues"
        message(
            f"{len(diffs)} case(s) checked on {scope}: {len(summary['missing'])} missing, "
            f"{len(summary['changed'])} differing, "
            f"{sum(d.events_added for d in diffs)} event(s) added, "
            f"{summary['unchanged']} unchanged"
            + (" — dry run, nothing written" if dry_run else f"; {summary['written']} rewritten")
        )
        if any(restored.values()):
            message(
                ("would restore" if dry_run else "restored")
                + f": {restored['licences']} e-licence(s), {restored['revoked']} revocation(s), "
                f"{restored['publications']} publication(s), "
                f"{restored['notifications']} notification(s)"
            )
        if fetched.skipped:
            note(
                f"{len(fetched.skipped)} case(s) on other task queues were not queried "
                "(--all-queues to include them)"
            )
    if fetched.unreadable:
        raise typer.Exit(EXIT_REJECTED)
