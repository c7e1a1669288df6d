"""``onechain reconcile``: rebuild the read model from Temporal, the source of truth.

Every case workflow (running or closed, while Temporal keeps its history) is asked,
with the ``reconciliation`` Query, for the rows the worker's projector would write
(``CaseFile.projection``, all events) and for its derived records; the rows are
compared with what the read model holds, and only rows that differ are written
(idempotently, with the same upsert the projector uses). The report lists what
changed: cases missing from the read model, fields that differed, events that were
added, and rows the read model has for cases Temporal no longer knows (left alone).

Queries are answered by a worker on the case's task queue, so by default only the
cases on this deployment's queue (``ONECHAIN_TASK_QUEUE``) are reconciled;
``--all-queues`` asks every case (and waits for a worker on each queue).

Exit codes: 0 ok, 1 some cases could not be read, 2 bad usage, 3 Temporal or the
database unreachable.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.output import EXIT_REJECTED, emit_json, guarded, message, note, run, table
from runtime.settings import get_settings

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlmodel import Session

    from domain.case import CaseState
    from domain.projection import ProjectionBatch, Reconciliation
    from readmodel.reconcile import CaseDiff

#: The derived tables reconcile restores (``readmodel.reconcile.DERIVED_KINDS``).
DERIVED_KINDS = ("licences", "revoked", "publications", "notifications")
#: How the SDK refuses a Query the worker's workflow class does not define.
OLD_WORKER_ANSWER = "expected but not found"


def compare(session: Session, batch: ProjectionBatch) -> CaseDiff:
    """See ``readmodel.reconcile.compare`` (imported late: the CLI starts faster)."""
    from readmodel.reconcile import compare as compare_rows

    return compare_rows(session, batch)


# ---------------------------------------------------------------- reading Temporal
@dataclass
class Execution:
    case_no: str
    task_queue: str
    status: str


@dataclass
class Queried:
    """One case's answer to the ``reconciliation`` Query, or why there is none."""

    case_no: str
    answer: Reconciliation | None = None
    error: str | None = None


@dataclass
class Outcome:
    """Everything ``reconcile`` found and did, for the report."""

    executions: list[Execution]
    skipped: list[Execution] = field(default_factory=list)
    diffs: list[CaseDiff] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    restored: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DERIVED_KINDS, 0))
    orphans: list[str] = field(default_factory=list)
    #: Where the time went: listing, database (comparing and writing), total.
    seconds: dict[str, float] = field(default_factory=lambda: {"database": 0.0})


async def case_executions(desk: Any) -> list[Execution]:
    """Every case workflow Temporal knows, latest run per case number (from the facade)."""
    return [Execution(e.case_no, e.task_queue, e.status) for e in await desk.case_executions()]


async def query_case(desk: Any, case_no: str) -> Queried:
    """One Query per case: a case not in the worker's cache is replayed once."""
    try:
        return Queried(case_no, await desk.reconciliation(case_no))
    except Exception as error:
        if OLD_WORKER_ANSWER in str(error):
            return await query_case_as_before(desk, case_no)
        return Queried(case_no, error=f"{type(error).__name__}: {error}")


async def query_case_as_before(desk: Any, case_no: str) -> Queried:
    """The two Queries a worker older than the ``reconciliation`` Query answers (during
    a rolling upgrade), projected here as that worker's projection did."""
    from domain.projection import Reconciliation

    try:
        state, derived = await asyncio.gather(desk.state(case_no), desk.derived_records(case_no))
    except Exception as error:
        return Queried(case_no, error=f"{type(error).__name__}: {error}")
    batch = projection_of(state, datetime.now(UTC))
    return Queried(case_no, Reconciliation(batch=batch, derived=derived))


# ------------------------------------------------------------------ comparing rows
def projection_of(state: CaseState, now: datetime) -> ProjectionBatch:
    """The batch the workflow itself would write for ``state`` (all events): for
    comparing a state read some other way (the bench reads it with ``state``).

    Projection reads only the state; the calendar and warning fraction a CaseFile
    also holds are used for recomputing deadlines, which this does not do.
    """
    from domain.calendar import CalendarData
    from domain.casefile import CaseFile

    return CaseFile(state, CalendarData(), get_settings().warning_fraction).projection(0, now)


def settle_chunk(
    engine: Any, answers: list[Queried], *, lookup_key: bytes, dry_run: bool
) -> tuple[list[CaseDiff], dict[str, int]]:
    """Compare a chunk of queried cases with the read model and write what differs
    (one read, one write transaction); runs in a thread beside the next Queries."""
    from readmodel.database import read_session
    from readmodel.reconcile import compare_many, write_chunk

    readable = [a.answer for a in answers if a.answer is not None]
    batches = [r.batch for r in readable]
    with read_session(engine) as session:
        diffs = compare_many(session, batches)
    to_write = [] if dry_run else [b for b, d in zip(batches, diffs, strict=True) if d.changed]
    derived = [r.derived for r in readable]
    restored = write_chunk(engine, to_write, derived, lookup_key=lookup_key, dry_run=dry_run)
    return diffs, restored


async def reconcile_cases(
    task_queue: str | None, concurrency: int, *, dry_run: bool, progress: Progress
) -> Outcome:
    """List the cases, query those on ``task_queue`` (all when None), ``concurrency``
    cases at a time, and settle them chunk by chunk while later Queries run."""
    from sqlmodel import select

    from activities.licences import lookup_key
    from client.facade import CaseDesk
    from readmodel.database import read_session, ready_engine
    from readmodel.reconcile import CHUNK
    from readmodel.tables import CaseRecord
    from runtime.connect import connect

    began = time.perf_counter()
    desk = CaseDesk(await connect())
    listing = progress.add_task("listing cases in Temporal", total=None)
    outcome = Outcome(await case_executions(desk))
    progress.remove_task(listing)
    wanted = [e for e in outcome.executions if task_queue is None or e.task_queue == task_queue]
    on_queue = {e.case_no for e in wanted}  # a set: `in wanted` made this quadratic
    outcome.skipped = [e for e in outcome.executions if e.case_no not in on_queue]
    outcome.seconds["listing"] = time.perf_counter() - began
    engine = ready_engine(get_settings().resolved_database_url)
    key = lookup_key()
    bar = progress.add_task("reconciling cases", total=len(wanted))
    gate = asyncio.Semaphore(concurrency)

    async def bounded(case_no: str) -> Queried:
        async with gate:
            answer = await query_case(desk, case_no)
        progress.advance(bar)
        return answer

    queries = [asyncio.create_task(bounded(e.case_no)) for e in wanted]
    try:
        for first in range(0, len(queries), CHUNK):
            answers = await asyncio.gather(*queries[first : first + CHUNK])
            outcome.unreadable.update({a.case_no: a.error for a in answers if a.error})
            settling = time.perf_counter()
            diffs, restored = await asyncio.to_thread(
                settle_chunk, engine, answers, lookup_key=key, dry_run=dry_run
            )
            outcome.seconds["database"] += time.perf_counter() - settling
            outcome.diffs += diffs
            for kind, count in restored.items():
                outcome.restored[kind] += count
    finally:
        for query in queries:
            query.cancel()
    known = {e.case_no for e in outcome.executions}
    with read_session(engine) as session:
        stored = session.exec(select(CaseRecord.case_no)).all()
    outcome.orphans = sorted(set(stored) - known)
    outcome.seconds["total"] = time.perf_counter() - began
    return outcome


def progress_display() -> Progress:
    """A progress bar on stderr when it is a terminal; otherwise one that draws nothing
    (pipes, CI, ``--json`` read by a script all get clean output)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from cli.output import stderr

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
        disable=not stderr.is_terminal,
    )


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
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Cases queried at once (two Queries each).")
    ] = 16,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Rebuild the read model from Temporal: query every case, compare, write what differs.

    Reports cases missing from the read model, rows whose status, stage, due dates or tasks differ, events added, and read-model rows of cases Temporal no longer has (left alone). Queries need a running worker.

    Exit codes: 0 ok, 1 some cases could not be queried, 2 bad usage, 3 Temporal or the database unreachable.
    """
    settings = get_settings()
    task_queue = None if all_queues else settings.task_queue
    with progress_display() as progress:
        outcome = run(reconcile_cases(task_queue, concurrency, dry_run=dry_run, progress=progress))
    diffs, restored, orphans = outcome.diffs, outcome.restored, outcome.orphans
    fetched = outcome

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
        "seconds": {k: round(v, 2) for k, v in outcome.seconds.items()},
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
