"""``onechain import FILE``: start many cases from a CSV, XLSX or JSON Lines file.

Every row is checked before anything starts (docs/import-format.md lists the columns);
problems are shown as a table of row, column and reason, and ``--errors-out`` writes
the rejected rows back as a CSV with a ``reason`` column, ready to fix and re-import.
Valid rows start through the facade with bounded concurrency. Importing the same file
again starts nothing twice: the case number is the workflow key, and a case that exists
is reported as "already exists" — unless the number is held by something else (a start
onechain never admitted, a case ended around onechain, another applicant's case): that
row is a *conflict* and the import exits 1. Ctrl-C stops after the starts in flight; the summary
says how many rows were not attempted, and running the same command again finishes them.

Exit codes: 0 ok, 1 some rows rejected or in conflict, 2 bad usage or unreadable file, 3 Temporal
unreachable, 130 interrupted with rows not attempted.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.actor import ROLE_HELP, credential_source, signed_actor
from cli.output import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    emit_json,
    fail,
    guarded,
    note,
    stderr,
    table,
)
from domain.roles import Actor, Role
from runtime.sdk_logging import sdk_logs_to_stderr

EXIT_INTERRUPTED = 130
#: Problems shown in the terminal; --errors-out and --json always have all of them.
SHOWN_PROBLEMS = 200
DRY_RUN_ACTOR = Actor(user_id="import", name="批量导入（试运行）", role=Role.WINDOW_CLERK)
ACCEPTING_ROLES = (Role.WINDOW_CLERK, Role.COORDINATOR)


def _actor(role: str | None, dry_run: bool) -> Actor:
    """Who accepts the cases: the signed-in person or service account. A dry run needs
    no sign-in, and no accepting role: it starts nothing, so it checks as the clerk
    signed in, or as :data:`DRY_RUN_ACTOR` for anyone else (an administrator, a
    reviewer) or no one."""
    import os

    from trust import session_file

    signed_in = os.environ.get("ONECHAIN_API_KEY") or session_file.load() is not None
    if dry_run and not signed_in:
        return DRY_RUN_ACTOR
    actor = signed_actor(role)
    if dry_run and actor.role not in ACCEPTING_ROLES:
        return DRY_RUN_ACTOR
    if actor.role not in ACCEPTING_ROLES:
        fail(
            f"cases are accepted by a window clerk or a coordinator, not {actor.role.value} "
            "(sign in as one, or choose that role with --role)",
            EXIT_USAGE,
        )
    return actor


def _problem_rows(checked: Any) -> list[list[Any]]:
    return [[p.row, p.column, p.reason, p.value] for p in checked.problems]


@guarded
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX or JSON Lines file; "
            "columns in docs/import-format.md.",
            show_default=False,
        ),
    ],
    chain: Annotated[
        str | None,
        typer.Option(
            "--chain",
            metavar="CODE",
            help="Chain of rows without a chain column or cell (code or Chinese name); "
            "a row naming another chain is rejected.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; start nothing.")
    ] = False,
    errors_out: Annotated[
        Path | None,
        typer.Option(
            "--errors-out",
            metavar="FILE",
            help="Write rejected rows with a 'reason' column to this CSV (UTF-8 with BOM; "
            "XLSX if FILE ends in .xlsx), ready to fix and import again.",
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(min=1, max=512, help="Cases started at the same time."),
    ] = 16,
    encoding: Annotated[
        str | None,
        typer.Option(
            metavar="ENC",
            help="Text encoding of a CSV/JSONL file (e.g. gb18030); detected when left out.",
        ),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option("--role", help=ROLE_HELP + " Cases are accepted by a window clerk."),
    ] = None,
    max_file_mb: Annotated[
        float | None,
        typer.Option(
            metavar="MB",
            help="Refuse a bigger file [default: 50, or ONECHAIN_IMPORT_MAX_FILE_MB].",
            show_default=False,
        ),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Refuse a file with more rows [default: 100000, or ONECHAIN_IMPORT_MAX_ROWS].",
            show_default=False,
        ),
    ] = None,
    max_cell_chars: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Reject a row with a longer cell "
            "[default: 4000, or ONECHAIN_IMPORT_MAX_CELL_CHARS].",
            show_default=False,
        ),
    ] = None,
    max_unpacked_mb: Annotated[
        float | None,
        typer.Option(
            metavar="MB",
            help="Refuse an XLSX that unpacks to more "
            "[default: 200, or ONECHAIN_IMPORT_MAX_UNPACKED_MB].",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON document on stdout; no progress bar.")
    ] = False,
) -> None:
    """Import applications from a file and start one case per valid row.

    Every row is checked first; valid rows start even when others are rejected.
    Re-importing a file starts nothing twice (rows already started show as already
    existing). Ctrl-C stops after the starts in flight (exit 130); run again to finish.
    """
    from importing.columns import HeaderError, build_vocabulary, resolve_headers
    from importing.limits import ImportLimits
    from importing.readers import UnreadableFile, read_file
    from importing.validate import check_sheet, resolve_chain

    began = time.perf_counter()
    sdk_logs_to_stderr()  # stdout carries the table or the JSON document, nothing else
    try:
        limits = ImportLimits.from_environment(
            max_file_mb=max_file_mb,
            max_rows=max_rows,
            max_cell_chars=max_cell_chars,
            max_unpacked_mb=max_unpacked_mb,
        )
    except ValueError as error:
        fail(f"import limits: {error}", EXIT_USAGE)
    actor = _actor(role, dry_run)
    vocabulary = build_vocabulary()
    default_chain = None
    if chain:
        try:
            default_chain = resolve_chain(chain, vocabulary.chains)
        except ValueError as error:
            fail(f"--chain: {error}", EXIT_USAGE)
    try:
        sheet = read_file(file, encoding=encoding, limits=limits)
        layout = resolve_headers(
            sheet.headers, chain_given=default_chain is not None, vocabulary=vocabulary
        )
    except (UnreadableFile, HeaderError) as error:
        fail(f"{file}: {error}", EXIT_USAGE)
    checked = check_sheet(sheet, layout, actor=actor, default_chain=default_chain, limits=limits)
    valid = checked.valid_rows
    if not json_out:
        _show_check(file, checked)

    report = None
    if not dry_run and valid:
        report = asyncio.run(
            _start(valid, concurrency, show_progress=not json_out, grant=_grant_label(actor))
        )

    rejected_rows = [(r.raw, r.reason) for r in checked.invalid_rows]
    if report is not None:
        by_row = {r.raw.number: r.raw for r in valid}
        rejected_rows += [(by_row[r.row], r.reason) for r in [*report.rejected, *report.conflicts]]
        rejected_rows.sort(key=lambda pair: pair[0].number)
    written = None
    if errors_out is not None:
        from importing.errorfile import write_errors

        written = write_errors(errors_out, sheet, rejected_rows, limits)

    summary = _summary(checked, report, dry_run, time.perf_counter() - began)
    if json_out:
        emit_json(
            {
                "file": str(file),
                "format": sheet.format,
                "encoding": sheet.encoding,
                "dry_run": dry_run,
                "summary": summary,
                "ignored_columns": layout.unknown_headers,
                "problems": [
                    {"row": p.row, "column": p.column, "reason": p.reason, "value": p.value}
                    for p in checked.problems
                ],
                "refused": [
                    {"row": r.row, "case_no": r.case_no, "reason": r.reason}
                    for r in (report.rejected if report else [])
                ],
                "conflicts": [
                    {"row": r.row, "case_no": r.case_no, "reason": r.reason}
                    for r in (report.conflicts if report else [])
                ],
                "uncertain": [
                    {"row": r.row, "case_no": r.case_no}
                    for r in (report.results if report else [])
                    if r.outcome == "uncertain"
                ],
                "errors_out": str(errors_out) if errors_out else None,
            }
        )
    else:
        _show_result(report, summary, dry_run)
        if written is not None:
            note(f"{written} rejected row(s) written to {errors_out}")

    if report is not None and report.unreachable:
        uncertain = (
            f", {report.uncertain} row(s) sent without an answer (Temporal may hold them)"
            if report.uncertain
            else ""
        )
        fail(
            f"Temporal unreachable: {report.unreachable}; {report.not_attempted} row(s) not "
            f"attempted{uncertain} — run the same import again",
            EXIT_UNREACHABLE,
        )
    if report is not None and report.interrupted:
        note(
            f"interrupted: {report.not_attempted} row(s) not attempted — run the same import "
            "again to finish them"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_REJECTED if rejected_rows else EXIT_OK)


def _show_check(file: Path, checked: Any) -> None:
    sheet = checked.sheet
    encoding = f", {sheet.encoding}" if sheet.encoding else ""
    note(f"{file}: {sheet.format}{encoding}, {len(sheet.rows)} row(s)")
    unknown = checked.layout.unknown_headers
    if unknown:
        note(f"warning: ignored column(s) not known to any chain: {', '.join(unknown)}")
    problems = _problem_rows(checked)
    if problems:
        shown = problems[:SHOWN_PROBLEMS]
        table(
            f"{len(checked.invalid_rows)} row(s) rejected before starting",
            ["row", "column", "reason", "value"],
            shown,
        )
        if len(problems) > len(shown):
            note(f"… and {len(problems) - len(shown)} more problem(s): use --errors-out or --json")


async def _start(valid: list[Any], concurrency: int, *, show_progress: bool, grant: str) -> Any:
    from client.facade import CaseDesk
    from importing.starter import StartReport, is_unreachable, start_cases
    from runtime.connect import connect

    items = [(r.raw.number, r.request) for r in valid]
    try:
        client = await connect()
    except Exception as error:
        if not is_unreachable(error):
            raise
        report = StartReport(unreachable=str(error))
        from importing.starter import Outcome, StartResult

        report.results = [
            StartResult(row, req.case_no, Outcome.NOT_ATTEMPTED) for row, req in items
        ]
        return report
    desk = CaseDesk(client, credentials=credential_source(grant))
    stop = asyncio.Event()
    _on_interrupt(stop)
    if not show_progress:
        return await start_cases(desk, items, concurrency=concurrency, stop=stop)
    progress = _progress()
    with progress:
        task = progress.add_task("starting cases", total=len(items))
        return await start_cases(
            desk,
            items,
            concurrency=concurrency,
            stop=stop,
            on_result=lambda _result: progress.advance(task),
        )


def _grant_label(actor: Actor) -> str:
    return f"{actor.role.value}:{actor.department}" if actor.department else actor.role.value


def _on_interrupt(stop: asyncio.Event) -> None:
    """First Ctrl-C: finish the starts in flight, attempt no more."""
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        if not stop.is_set():
            note("stopping after the starts in flight (Ctrl-C again is ignored)…")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available off the main thread (tests) or on Windows: the event still works.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, interrupted)


def _progress() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.completed / task.elapsed if task.elapsed else None
            text = f"{speed:,.0f} cases/s" if speed else "– cases/s"
            return Text(text, style="progress.data.speed")

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=stderr,
    )


def _summary(checked: Any, report: Any, dry_run: bool, seconds: float) -> dict[str, Any]:
    invalid = len(checked.invalid_rows)
    refused = len(report.rejected) if report else 0
    summary: dict[str, Any] = {
        "read": len(checked.rows),
        "valid": len(checked.valid_rows),
        "invalid": invalid,
        "started": report.started if report else 0,
        "already_existing": report.existing if report else 0,
        "conflicts": len(report.conflicts) if report else 0,
        "refused": refused,
        "rejected": invalid + refused + (len(report.conflicts) if report else 0),
        "not_attempted": report.not_attempted if report else 0,
        "uncertain": report.uncertain if report else 0,
        "retried": report.retried if report else 0,
        "elapsed_s": round(seconds, 3),
        "start_phase_s": round(report.seconds, 3) if report else 0.0,
        "rate_per_s": round(report.rate, 1) if report else 0.0,
    }
    return summary


def _show_result(report: Any, summary: dict[str, Any], dry_run: bool) -> None:
    if report is not None and report.rejected:
        table(
            f"{len(report.rejected)} row(s) refused when starting",
            ["row", "case no", "reason"],
            [[r.row, r.case_no, r.reason] for r in report.rejected],
        )
    if report is not None and report.conflicts:
        table(
            f"{len(report.conflicts)} row(s) in conflict: the case number is taken (案件编号冲突)",
            ["row", "case no", "why"],
            [[r.row, r.case_no, r.reason] for r in report.conflicts],
        )
    rows: list[list[Any]] = [
        ["read", summary["read"]],
        ["valid", summary["valid"]],
    ]
    if dry_run:
        rows.append(["rejected (invalid)", summary["invalid"]])
    else:
        rows += [
            ["started", summary["started"]],
            ["already existing", summary["already_existing"]],
            [
                "rejected",
                f"{summary['rejected']} ({summary['invalid']} invalid, {summary['refused']} "
                f"refused, {summary['conflicts']} in conflict)",
            ],
            ["not attempted", summary["not_attempted"]],
        ]
        if summary["uncertain"]:
            rows.append(["uncertain (no answer)", summary["uncertain"]])
    rows.append(["elapsed", f"{summary['elapsed_s']:.2f} s"])
    if not dry_run:
        rows.append(
            [
                "rate",
                f"{summary['rate_per_s']:,.1f} cases/s ({summary['start_phase_s']:.2f} s starting)",
            ]
        )
    title = "Import summary" + (" (dry run: nothing started)" if dry_run else "")
    table(title, ["rows", "count"], rows)
