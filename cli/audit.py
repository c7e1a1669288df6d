"""``onechain audit verify``, ``export`` and ``security``: the sealed audit trail
(执法全过程记录) for supervisors, administrators and the 电子监察 system.

``verify`` checks every row's seal (HMAC with the audit key, kept outside the database)
and the anchors outside the database (``readmodel.audit_anchors``); ``export`` anchors
the head it exported; ``security`` lists attempts refused for want of a valid identity.
"""

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
    "summary", "reason", "data", "prev_hash", "row_hash", "key_id",
]  # fmt: skip


def _engine() -> Any:
    from readmodel.database import ready_engine
    from runtime.settings import get_settings

    return ready_engine(get_settings().resolved_database_url)


def _audit_keys() -> Any:
    from readmodel.audit import current_keys
    from runtime.keys import KeystoreError

    try:
        return current_keys()
    except KeystoreError as error:
        fail(str(error), EXIT_USAGE)


def _problem_json(problem: Any) -> dict[str, Any]:
    return {
        "row_id": problem.row_id,
        "last_row_id": problem.last_row_id,
        "kind": problem.kind,
        "problem": problem.problem,
    }


def _where(problem: Any) -> str:
    if problem.row_id == 0:
        return "锚点"
    if problem.last_row_id and problem.last_row_id != problem.row_id:
        return f"第 {problem.row_id}–{problem.last_row_id} 行"
    return f"第 {problem.row_id} 行"


@app.command("verify")
@guarded
def verify(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check every row's seal and the anchors outside the database; name every row that
    was edited, inserted, deleted or re-chained, and a cut tail (exit 1)."""
    from cli.users import require_role
    from readmodel.audit import verify_chain
    from readmodel.audit_anchors import compare, read_anchors
    from readmodel.database import read_session
    from runtime.settings import get_settings

    require_role("supervisor", "administrator")
    keys = _audit_keys()
    anchors = read_anchors(get_settings().audit_anchors_file, keys)
    with read_session(_engine()) as session:
        report = verify_chain(session, keys, {a.last_id for a in anchors.anchors})
    problems = report.problems + compare(report, anchors)
    anchor_problems = anchors.problems
    last = anchors.last
    if as_json:
        emit_json(
            {
                "rows": report.rows,
                "legacy_rows": report.legacy_rows,
                "head_id": report.head_id,
                "head_hash": report.head_hash,
                "problems": [_problem_json(p) for p in problems],
                "anchors": {
                    "path": str(anchors.path),
                    "missing": anchors.missing,
                    "count": len(anchors.anchors),
                    "last": last.as_dict() if last else None,
                    "problems": anchor_problems,
                },
            }
        )
    else:
        for problem in problems:
            message(f"{_where(problem)}：{problem.problem}")
        for text in anchor_problems:
            message(text)
        count = len(problems) + len(anchor_problems)
        verdict = "完好（intact）" if not count else f"{count} 处问题（problems）"
        legacy = (
            f"（其中 {report.legacy_rows} 行为无密钥的旧行 legacy）" if report.legacy_rows else ""
        )
        message(f"审计记录 {report.rows} 行{legacy}，{verdict}")
        message(f"链头（head）：第 {report.head_id} 行 {report.head_hash}")
        if last is not None:
            message(
                f"最近锚点（last anchor）：{last.at} 第 {last.last_id} 行 {last.last_hash}"
                f"（{anchors.path}，共 {len(anchors.anchors)} 个）"
            )
        else:
            message(f"最近锚点（last anchor）：无（none in {anchors.path}）")
    if problems or anchor_problems:
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
    """Write the audit rows (with their seals, security events included), and anchor the
    chain's head outside the database."""
    from cli.users import require_role
    from readmodel.audit import export_rows
    from readmodel.audit_anchors import anchor_now
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
    anchor_now(_engine(), keys=_audit_keys())
    if output:
        message(f"导出 {count} 行到 {output}")


#: What ``audit security`` lists for supervisors.
SECURITY_KINDS = ("security", "outside_change", "login_locked", "login_unlocked")


@app.command("security")
@guarded
def security(
    since: Annotated[str | None, typer.Option("--since", help="From this day (CST).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Security events: attempts refused for want of a valid identity (no token, bad
    signature, expired, unknown key, garbage, a bad action proof) and the summaries of
    floods ("and K more"), changes made around onechain (reset, terminated, deleted,
    started outside), and sign-in lock-outs."""
    from cli.users import require_role
    from readmodel.audit import export_rows
    from readmodel.database import read_session

    require_role("supervisor", "administrator")
    start = _day(since, "--since")
    with read_session(_engine()) as session:
        records = list(export_rows(session, since=start, kind=SECURITY_KINDS))
    if as_json:
        emit_json([r.model_dump(mode="json") for r in records])
        return
    for record in records:
        data = record.data or {}
        claimed = f" 自称 {data['claimed_subject']}" if data.get("claimed_subject") else ""
        if record.kind != "security":
            claimed += f" [{record.kind}]"
        where = f" {record.case_no}" if record.case_no else ""
        when = record.at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
        message(f"{when}{where} {data.get('reason', '')}{claimed}：{record.summary}")
    message(f"安全事件 {len(records)} 行（security events）")
