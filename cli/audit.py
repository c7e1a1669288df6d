"""``onechain audit verify`` and ``onechain audit export``: the hash-chained audit trail
(执法全过程记录) for supervisors, administrators and the 电子监察 system."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import EXIT_REJECTED, EXIT_USAGE, emit_json, fail, guarded, message
from domain.timezone import CST

app = typer.Typer(
    help="Verify and export the audit trail (supervisor or administrator session).",
    no_args_is_help=True,
)

COLUMNS = [
    "id", "at", "kind", "actor_id", "actor_name", "actor_role", "case_no", "seq",
    "summary", "reason", "data", "prev_hash", "row_hash",
]  # fmt: skip


def _engine() -> Any:
    from readmodel.database import ready_engine
    from runtime.settings import get_settings

    return ready_engine(get_settings().resolved_database_url)


@app.command("verify")
@guarded
def verify(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Recompute the chain; name every row that was edited, inserted or deleted (exit 1)."""
    from cli.users import require_role
    from readmodel.audit import verify_chain
    from readmodel.database import read_session

    require_role("supervisor", "administrator")
    with read_session(_engine()) as session:
        report = verify_chain(session)
    if as_json:
        emit_json(
            {
                "rows": report.rows,
                "head_hash": report.head_hash,
                "problems": [{"row_id": p.row_id, "problem": p.problem} for p in report.problems],
            }
        )
    else:
        for problem in report.problems:
            message(f"第 {problem.row_id} 行：{problem.problem}")
        verdict = "完好（intact）" if not report.problems else f"{len(report.problems)} 处问题"
        message(f"审计记录 {report.rows} 行，{verdict}；链头 {report.head_hash}")
    if report.problems:
        raise typer.Exit(EXIT_REJECTED)


def _day(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time.min, tzinfo=CST)
    except ValueError:
        fail(f"{name} {text!r}: expected a date YYYY-MM-DD", EXIT_USAGE)


def _cell(value: Any) -> str:
    """Text for a CSV cell: what came from outside stays visible text, never a formula."""
    from domain.text import spreadsheet_cell, visible

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return spreadsheet_cell(visible(text))


@app.command("export")
@guarded
def export(
    case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    since: Annotated[str | None, typer.Option("--from", help="From this day (CST).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Before this day (CST).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout).")
    ] = None,
) -> None:
    """Write the audit rows (with their hashes, so the receiver can check the chain)."""
    from cli.users import require_role
    from readmodel.audit import export_rows
    from readmodel.database import read_session

    if fmt not in ("csv", "jsonl"):
        fail(f"--format {fmt!r}: csv or jsonl", EXIT_USAGE)
    require_role("supervisor", "administrator")
    start, end = _day(since, "--from"), _day(until, "--to")
    from runtime.private_files import open_private

    # Owner-only: the trail names people and cases.
    handle = open_private(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    count = 0
    try:
        writer = csv.writer(handle) if fmt == "csv" else None
        if writer:
            writer.writerow(COLUMNS)
        with read_session(_engine()) as session:
            for row in export_rows(session, case_no=case, since=start, until=end):
                record = row.model_dump(mode="json")
                if writer:
                    writer.writerow(
                        [_cell(record[c]) if record[c] is not None else "" for c in COLUMNS]
                    )
                else:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    finally:
        if output:
            handle.close()
    if output:
        message(f"导出 {count} 行到 {output}")
