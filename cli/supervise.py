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
from domain.timezone import CST

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


# --------------------------------------------------------------------------- 督办 items
ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why: the instruction, the answer or the conclusion.")
]
RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role",
        metavar="ROLE[:DEPARTMENT]",
        help="Act in this role of yours (default: the role chosen at login, or your only one).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json")]


def _finding_row(finding_id: int) -> dict[str, Any]:
    from readmodel.database import read_session
    from readmodel.supervision import FindingRecord

    with read_session(_engine()) as session:
        row = session.get(FindingRecord, finding_id)
        if row is None:
            fail(f"no finding {finding_id} (see `onechain supervise list`)", EXIT_USAGE)
        return row.model_dump()


def _step(finding_id: int, step: str, reason: str, role: str | None, **options: Any) -> None:
    """Send one step of an item as the signed-in person; the engine decides if they may."""
    from cli.actor import cli_credentials
    from cli.output import run
    from client.supervision_desk import SupervisionDesk
    from runtime.connect import connect

    _finding_row(finding_id)

    async def send() -> Any:
        desk = SupervisionDesk(await connect(), cli_credentials(role))
        return await getattr(desk, step)(finding_id, reason, **options)

    record = run(send())
    from domain.supervision_items import ITEM_STATUS_ZH, STEP_ZH

    due = ""
    if record.respond_by:
        due = f"，须于 {record.respond_by.astimezone(CST):%Y-%m-%d} 前反馈"
    message(
        f"督办 #{finding_id} {STEP_ZH[record.step]}：{ITEM_STATUS_ZH[record.status]}{due}"
        f"（{record.status.value}）"
    )


@app.command("send")
@guarded
def send(
    finding: int,
    reason: ReasonOption,
    respond_days: Annotated[
        int, typer.Option("--respond-days", min=1, max=30, help="Working days to answer.")
    ] = 5,
    role: RoleOption = None,
) -> None:
    """Send a finding to its department as a 督办 item (supervisor); it is notified and
    must answer within --respond-days working days, or the item escalates."""
    _step(finding, "send", reason, role, respond_days=respond_days)


@app.command("respond")
@guarded
def respond(finding: int, reason: ReasonOption, role: RoleOption = None) -> None:
    """Answer a 督办 item sent to your department (a reviewer of that department)."""
    _step(finding, "respond", reason, role)


@app.command("close")
@guarded
def close(finding: int, reason: ReasonOption, role: RoleOption = None) -> None:
    """Close a 督办 item (supervisor), with the conclusion."""
    _step(finding, "close", reason, role)


@app.command("escalate")
@guarded
def escalate(finding: int, reason: ReasonOption, role: RoleOption = None) -> None:
    """Escalate a 督办 item to the leadership (supervisor)."""
    _step(finding, "escalate", reason, role)


def _overseeing_role() -> str | None:
    """The supervisor or administrator grant of the signed-in person (a person may also
    hold a reviewer's), as ``require_role`` chose it; None for a service account."""
    from trust import session_file
    from trust.tokens import read_claims

    stored = session_file.load()
    held = read_claims(stored.token).grants if stored is not None else []
    return next((r for r in ("supervisor", "administrator") if r in held), None)


@app.command("show")
@guarded
def show(finding: int, as_json: JsonOption = False) -> None:
    """One finding: its sentence, evidence (event seqs, audit rows) and its 督办 item's
    steps (who, when, why)."""
    from cli.actor import cli_credentials
    from cli.users import require_role
    from readmodel.database import read_session
    from readmodel.supervision import SupervisionItemRecord
    from tui.supervision_data import detail

    require_role("supervisor", "administrator")
    row = _finding_row(finding)
    engine = _engine()
    found = detail(engine, cli_credentials(_overseeing_role()).actor, finding)
    if found is None:  # a supervisor or administrator sees every finding
        fail(f"finding {finding} is not yours to see", EXIT_USAGE)
    with read_session(engine) as session:
        item = session.get(SupervisionItemRecord, finding)
    evidence = [
        {"id": e.id, "at": e.at.isoformat(), "kind": e.kind, "seq": e.seq, "actor": e.actor,
         "summary": e.summary}
        for e in found.evidence
    ]  # fmt: skip
    listed_steps = [
        {"at": s.at.isoformat(), "step": s.step, "status": s.status, "actor": s.actor,
         "role": s.role, "reason": s.reason}
        for s in found.steps
    ]  # fmt: skip
    status = item.status if item else "open"
    if as_json:
        emit_json({**row, "status": status, "steps": listed_steps, "evidence_rows": evidence})
        return
    from domain.supervision_items import ITEM_STATUS_ZH, ItemStatus

    message(f"监察发现 #{finding}（{row['rule']}，{row['severity']}）：{row['sentence']}")
    message(f"案件 {row['case_no'] or '—'}  部门 {row['department'] or '—'}  "
            f"督办状态 {ITEM_STATUS_ZH[ItemStatus(status)]}（{status}）")  # fmt: skip
    if item and item.respond_by:
        message(f"反馈期限 {item.respond_by.astimezone(CST):%Y-%m-%d}")
    table(
        "证据（evidence）",
        ["audit id", "at", "kind", "seq", "actor", "summary"],
        [[e["id"], e["at"][:19], e["kind"], e["seq"] or "", e["actor"], e["summary"]]
         for e in evidence],
    )  # fmt: skip
    table(
        "督办过程（steps）",
        ["at", "step", "status", "actor", "reason"],
        [[s["at"][:19], s["step"], s["status"], f"{s['actor']}（{s['role']}）", s["reason"]]
         for s in listed_steps],
    )  # fmt: skip


@app.command("inbox")
@guarded
def inbox(role: RoleOption = None, as_json: JsonOption = False) -> None:
    """The 督办 items sent to your department and awaiting its answer (reviewer)."""
    from sqlmodel import col, select

    from cli.actor import cli_credentials
    from readmodel.database import read_session
    from readmodel.supervision import FindingRecord, SupervisionItemRecord

    actor = cli_credentials(role).actor
    if actor.department is None:
        fail(
            f"the inbox is a department's: you act as {actor.role.value} (try --role reviewer:DEPT)"
        )
    with read_session(_engine()) as session:
        rows = session.exec(
            select(SupervisionItemRecord, FindingRecord)
            .join(FindingRecord, col(FindingRecord.id) == SupervisionItemRecord.finding_id)
            .where(SupervisionItemRecord.department == actor.department)
            .where(col(SupervisionItemRecord.status).in_(("sent", "escalated")))
            .order_by(col(SupervisionItemRecord.respond_by))
        ).all()
    listed = [
        {"finding": f.id, "status": i.status, "case_no": i.case_no, "rule": i.rule,
         "respond_by": i.respond_by.isoformat() if i.respond_by else None, "finding_text": f.sentence}
        for i, f in rows
    ]  # fmt: skip
    if as_json:
        emit_json(listed)
        return
    table(
        f"待反馈的督办（{actor.department}）",
        ["finding", "status", "case", "respond by", "finding"],
        [[r["finding"], r["status"], r["case_no"] or "", (r["respond_by"] or "")[:10],
          r["finding_text"]] for r in listed],
    )  # fmt: skip


from cli import supervise_report  # noqa: E402, F401  (registers `supervise report` on app)
