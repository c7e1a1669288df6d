"""``onechain supervise``: 电子监察 rules over the case events and the audit trail.

``run`` evaluates every rule once on what is new since the last run; ``list`` shows
the findings, ``rules`` each rule with its thresholds and findings this month, and
``set-threshold`` changes a threshold (administrator only; written to the audit trail).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from cli.output import EXIT_REJECTED, EXIT_USAGE, emit_json, fail, guarded, message, table

app = typer.Typer(
    help="电子监察 (supervision) rules and findings (supervisor or administrator session).",
    no_args_is_help=True,
)


def _engine() -> Any:
    from readmodel.database import ready_engine
    from runtime.settings import get_settings

    return ready_engine(get_settings().resolved_database_url)


def _rule(code: str) -> Any:
    from supervision.registry import UnknownRule, get_rule

    try:
        return get_rule(code)
    except UnknownRule as error:
        fail(str(error), EXIT_USAGE)


@app.command("run")
@guarded
def run_once(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Evaluate every rule once on what is new since the last run; print new findings
    per rule. A rule that raises is named and skipped (exit 1 after the others ran)."""
    from cli.users import require_role
    from supervision.engine import run

    require_role("supervisor", "administrator")
    report = run(_engine())
    if as_json:
        emit_json({"new": report.new, "failed": report.failed})
    else:
        for code, count in report.new.items():
            message(f"{code}：新发现 {count} 条（new findings）")
        for code, error in report.failed.items():
            message(f"{code}：规则出错，已跳过（rule failed, skipped）：{error}")
    if report.failed:
        raise typer.Exit(EXIT_REJECTED)


@app.command("list")
@guarded
def list_findings(
    rule: Annotated[str | None, typer.Option("--rule")] = None,
    department: Annotated[str | None, typer.Option("--department")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The findings, newest first, optionally of one rule or one department."""
    from sqlmodel import col, select

    from cli.users import require_role
    from readmodel.database import read_session
    from readmodel.supervision import FindingRecord

    require_role("supervisor", "administrator")
    if rule is not None:
        _rule(rule)
    query = select(FindingRecord).order_by(col(FindingRecord.id).desc())
    if rule is not None:
        query = query.where(FindingRecord.rule == rule)
    if department is not None:
        query = query.where(FindingRecord.department == department)
    with read_session(_engine()) as session:
        rows = [r.model_dump() for r in session.exec(query).all()]
    if as_json:
        emit_json(rows)
        return
    table(
        "监察发现（findings）",
        ["id", "rule", "case", "department", "severity", "finding"],
        [
            [r["id"], r["rule"], r["case_no"] or "", r["department"] or "", r["severity"],
             r["sentence"]]
            for r in rows
        ],
    )  # fmt: skip


@app.command("rules")
@guarded
def rules(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each rule: its basis, severity, thresholds now, findings this month (CST)."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from cli.users import require_role
    from domain.timezone import CST
    from readmodel.database import read_session
    from readmodel.supervision import FindingRecord
    from supervision import thresholds
    from supervision.registry import all_rules

    require_role("supervisor", "administrator")
    month_start = datetime.now(CST).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with read_session(_engine()) as session:
        counts = dict(
            session.exec(
                select(FindingRecord.rule, func.count())
                .where(col(FindingRecord.found_at) >= month_start)
                .group_by(FindingRecord.rule)
            ).all()
        )
        listed = [
            {
                "code": r.code,
                "name": r.name_zh,
                "severity": r.severity.value,
                "basis": r.basis,
                "thresholds": thresholds.current(session, r.code).model_dump(),
                "findings_this_month": counts.get(r.code, 0),
            }
            for r in all_rules()
        ]
    if as_json:
        emit_json(listed)
        return
    table(
        "监察规则（rules）",
        ["code", "name", "severity", "thresholds", "this month"],
        [
            [r["code"], r["name"], r["severity"],
             ", ".join(f"{k}={v}" for k, v in r["thresholds"].items()) or "—",
             r["findings_this_month"]]
            for r in listed
        ],
    )  # fmt: skip


@app.command("set-threshold")
@guarded
def set_threshold(rule: str, name: str, value: str) -> None:
    """Change one threshold of a rule (administrator session; audited)."""
    from cli.users import require_administrator
    from readmodel.database import write_session
    from supervision import thresholds
    from trust.audit_log import record_account_event

    actor = require_administrator()
    _rule(rule)
    engine = _engine()
    with write_session(engine) as session:
        before = thresholds.current(session, rule).model_dump()
        try:
            after = thresholds.changed(session, rule, name, value)
        except thresholds.ThresholdError as error:
            fail(str(error), EXIT_USAGE)
        thresholds.store(session, rule, after, actor)
    record_account_event(
        engine,
        "supervision_threshold",
        actor,
        f"监察规则 {rule} 阈值 {name}：{before.get(name)} → {after.model_dump()[name]}",
        {"rule": rule, "name": name, "before": before, "after": after.model_dump(),
         "at": datetime.now(UTC).isoformat()},
    )  # fmt: skip
    message(f"{rule}.{name} = {after.model_dump()[name]}（已记入审计 audited）")


from cli import supervise_report  # noqa: E402, F401  (registers `supervise report` on app)
