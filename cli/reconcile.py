"""``onechain reconcile``: rebuild the read model from Temporal, the source of truth.

Every case workflow (running or closed, while Temporal keeps its history) gives the
rows the worker's projector writes (``CaseFile.projection``, all events) and its
derived records. A case keeps them in its memo (``workflows.projection_memo``), which
the listing of cases returns a thousand at a time with no worker involved; a case
whose listed rows differ from the read model is read again with Describe (the listing
can lag a change by a moment) before anything is written. Cases begun before the memo
held their rows are asked with the ``reconciliation`` Query. The rows are compared
with what the read model holds, and only rows that differ are written (idempotently,
with the same upsert the projector uses). The report lists what changed: cases
missing from the read model, fields that differed, events that were added, and rows
the read model has for cases Temporal no longer knows (left alone).

It also looks for cases changed around onechain (``runtime.outside_sweep``): reset,
terminated, cancelled, timed out, deleted, or started with no admitted start. Those are
marked ``altered`` (「外部改动」, never replaced by a projection) and each change is put
on the audit trail once (``readmodel.outside``); ``--dry-run`` only reports them.

Queries are answered by a worker on the case's task queue, so by default only the
cases on this deployment's queue (``ONECHAIN_TASK_QUEUE``) are reconciled;
``--all-queues`` takes every case (and waits for a worker on each queue for the
cases that need a Query).

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

    from client.facade import CaseExecution
    from client.outside import OutsideChange
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
#: Temporal's answer to a Query on an execution that closed before its first workflow
#: task: the case never ran, so there is nothing to read.
NEVER_RAN = "closed before WorkflowTaskStarted"


@dataclass
class Queried:
    """One case's rows and derived records (from its memo or a Query), or why there are none."""

    case_no: str
    answer: Reconciliation | None = None
    error: str | None = None
    #: Read from the listing, which can lag: confirm a difference before writing it.
    listed: bool = False


@dataclass
class Outcome:
    """Everything ``reconcile`` found and did, for the report."""

    executions: list[CaseExecution]
    skipped: list[CaseExecution] = field(default_factory=list)
    diffs: list[CaseDiff] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    restored: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DERIVED_KINDS, 0))
    orphans: list[str] = field(default_factory=list)
    #: Cases changed around onechain (``client.outside``), and which of them this run
    #: put on the audit trail first (a dry run: which are not on it yet).
    outside: list[OutsideChange] = field(default_factory=list)
    outside_new: list[OutsideChange] = field(default_factory=list)
    #: Where the time went: listing, database (comparing and writing), total.
    seconds: dict[str, float] = field(default_factory=lambda: {"database": 0.0})


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


def compare_chunk(engine: Any, answers: list[Queried]) -> list[CaseDiff]:
    """Compare the readable cases of a chunk with the read model (one read)."""
    from readmodel.database import read_session
    from readmodel.reconcile import compare_many

    with read_session(engine) as session:
        return compare_many(session, [a.answer.batch for a in answers if a.answer is not None])


def write_differences(
    engine: Any, answers: list[Queried], diffs: list[CaseDiff], *, lookup_key: bytes, dry_run: bool
) -> dict[str, int]:
    """Write the cases that differ and restore missing derived rows (one transaction)."""
    from readmodel.reconcile import write_chunk

    readable = [a.answer for a in answers if a.answer is not None]
    batches = [r.batch for r in readable]
    to_write = [] if dry_run else [b for b, d in zip(batches, diffs, strict=True) if d.changed]
    derived = [r.derived for r in readable]
    return write_chunk(engine, to_write, derived, lookup_key=lookup_key, dry_run=dry_run)


async def confirm_listed(desk: Any, answers: list[Queried], diffs: list[CaseDiff]) -> list[int]:
    """Read again, with Describe, the listed cases whose rows differ from the read
    model's (the listing may lag a change); returns the positions (among the readable
    answers) re-read. A case missing from the read model is written as listed: that is
    committed state, and the projector's newer rows, if any, win by ``last_seq``."""
    readable = [a for a in answers if a.answer is not None]
    doubtful = [
        i
        for i, (a, d) in enumerate(zip(readable, diffs, strict=True))
        if a.listed and d.changed and not d.missing
    ]

    async def reread(answer: Queried) -> None:
        try:
            fresh = await desk.described_reconciliation(answer.case_no)
        except Exception as error:  # keep the listed rows: they are committed state too
            note(f"case {answer.case_no}: not described again ({error}); using the listing")
            return
        if fresh is not None:
            answer.answer = fresh
            answer.listed = False

    await asyncio.gather(*(reread(readable[i]) for i in doubtful))
    return doubtful


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
    outcome = Outcome(await desk.case_executions())
    progress.remove_task(listing)
    wanted = [e for e in outcome.executions if task_queue is None or e.task_queue == task_queue]
    on_queue = {e.case_no for e in wanted}  # a set: `in wanted` made this quadratic
    outcome.skipped = [e for e in outcome.executions if e.case_no not in on_queue]
    outcome.seconds["listing"] = time.perf_counter() - began
    engine = ready_engine(get_settings().resolved_database_url)
    key = lookup_key()
    bar = progress.add_task("reconciling cases", total=len(wanted))
    gate = asyncio.Semaphore(concurrency)

    async def read(execution: CaseExecution) -> Queried:
        try:
            listed = await desk.listed_reconciliation(execution)
        except Exception as error:
            listed, problem = None, f"{type(error).__name__}: {error}"
        else:
            problem = None
        if listed is not None:
            answer = Queried(execution.case_no, listed, listed=True)
        elif problem is None and execution.status == "failed":
            # A start no worker admitted (refused, or made around onechain): it has no
            # rows to compare; ``settle_outside_changes`` reports it.
            answer = Queried(execution.case_no)
        elif problem is not None:
            answer = Queried(execution.case_no, error=problem)
        else:
            async with gate:
                answer = await query_case(desk, execution.case_no)
            if answer.error and NEVER_RAN in answer.error:
                # Ended (terminated, say) before any worker ran it: no rows to compare,
                # like a refused start; ``settle_outside_changes`` reports the ending.
                answer = Queried(execution.case_no)
        progress.advance(bar)
        return answer

    reads = [asyncio.create_task(read(e)) for e in wanted]
    try:
        for first in range(0, len(reads), CHUNK):
            answers = await asyncio.gather(*reads[first : first + CHUNK])
            outcome.unreadable.update({a.case_no: a.error for a in answers if a.error})
            settling = time.perf_counter()
            diffs = await asyncio.to_thread(compare_chunk, engine, answers)
            outcome.seconds["database"] += time.perf_counter() - settling
            reread = await confirm_listed(desk, answers, diffs)
            settling = time.perf_counter()
            if reread:
                readable = [a for a in answers if a.answer is not None]
                again = await asyncio.to_thread(
                    compare_chunk, engine, [readable[i] for i in reread]
                )
                for position, diff in zip(reread, again, strict=True):
                    diffs[position] = diff
            restored = await asyncio.to_thread(
                write_differences, engine, answers, diffs, lookup_key=key, dry_run=dry_run
            )
            outcome.seconds["database"] += time.perf_counter() - settling
            outcome.diffs += diffs
            for kind, count in restored.items():
                outcome.restored[kind] += count
    finally:
        for pending in reads:
            pending.cancel()
    known = {e.case_no for e in outcome.executions}
    with read_session(engine) as session:
        stored = session.exec(select(CaseRecord.case_no)).all()
    outcome.orphans = sorted(set(stored) - known)
    await settle_outside_changes(desk.client, engine, outcome, task_queue, dry_run=dry_run)
    outcome.seconds["total"] = time.perf_counter() - began
    return outcome


async def settle_outside_changes(
    client: Any, engine: Any, outcome: Outcome, task_queue: str | None, *, dry_run: bool
) -> None:
    """Find the cases changed around onechain (reset, terminated, deleted, started with
    the stock CLI, ...), mark them and record each change once (not in a dry run)."""
    from readmodel.outside import record_changes, unrecorded
    from runtime.outside_sweep import find_changes

    went_back = {d.case_no for d in outcome.diffs if d.newer_in_read_model}
    found = await find_changes(
        client, engine, task_queue=task_queue, executions=outcome.executions, extra=went_back
    )
    outcome.outside = found
    write = unrecorded if dry_run else record_changes
    outcome.outside_new = await asyncio.to_thread(write, engine, found)


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
            help="Reconcile cases on every task queue, not only ONECHAIN_TASK_QUEUE "
            "(older cases, read by Query, need a running worker on theirs).",
        ),
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Older cases queried at once (by Query).")
    ] = 16,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Rebuild the read model from Temporal: read every case, compare, write what differs.

    Reports cases missing from the read model, rows whose status, stage, due dates or tasks differ, events added, read-model rows of cases Temporal no longer has (left alone), and cases changed around onechain (reset, terminated, cancelled, timed out, deleted, started outside onechain): those are marked 「外部改动」 and recorded on the audit trail once (not with --dry-run). Cases are read from their memo on the Temporal server; only cases begun before it held their rows are queried, which needs a running worker.

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
        "outside_changes": [
            {
                "case_no": c.case_no,
                "what": c.kind.value,
                "detail": c.detail,
                "at": c.at.isoformat(),
                "identity": c.identity,
                "new": c in outcome.outside_new,
            }
            for c in outcome.outside
        ],
        "altered": [d.case_no for d in diffs if d.altered],
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
        rows += [
            [
                c.case_no,
                f"外部改动 (changed outside onechain): {c.summary} at {c.at:%Y-%m-%d %H:%M:%S}Z"
                + (" — not recorded yet" if dry_run and c in outcome.outside_new else "")
                + (" — recorded now" if not dry_run and c in outcome.outside_new else ""),
            ]
            for c in outcome.outside
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
        if outcome.outside:
            message(
                f"{len(outcome.outside)} change(s) made around onechain "
                f"({len(outcome.outside_new)} "
                + ("not recorded yet" if dry_run else "recorded now on the audit trail")
                + "); such cases show as 「外部改动」, never as running"
            )
        if fetched.skipped:
            note(
                f"{len(fetched.skipped)} case(s) on other task queues were not queried "
                "(--all-queues to include them)"
            )
    if fetched.unreadable:
        raise typer.Exit(EXIT_REJECTED)
