"""Evaluate the rules once, incrementally: each rule reads the audit rows after its
cursor, its findings are stored once (by key), and its cursor moves on only if it
finished. A rule that raises is reported and skipped; the others still run, and it
reads the same rows again next time. Rules at the same cursor (all of them, after a
first run) share each batch of rows: the trail is read once per run, not once per rule.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, text
from sqlmodel import Session, col, select

from domain.calendar import WorkCalendar
from domain.timezone import CST
from readmodel.audit import AuditEntry, AuditRecord, append
from readmodel.calendar_store import calendar_from_store
from readmodel.database import read_session, write_session
from readmodel.supervision import CursorRecord, FindingRecord
from supervision import monthly, thresholds
from supervision.registry import all_rules
from supervision.rule import Context, Finding, Rule

logger = logging.getLogger(__name__)


@dataclass
class RunReport:
    new: dict[str, int] = field(default_factory=dict)  # rule code → new findings
    failed: dict[str, str] = field(default_factory=dict)  # rule code → what it raised
    #: rule code → seconds spent in it (evaluating and storing; not the shared reading)
    seconds: dict[str, float] = field(default_factory=dict)


def _record(finding: Finding, now: datetime) -> dict[str, object]:
    return {
        "key": finding.key,
        "rule": finding.rule,
        "case_no": finding.case_no,
        "department": finding.department,
        "person": finding.person,
        "severity": finding.severity.value,
        "sentence": finding.sentence,
        "evidence": {"events": list(finding.event_seqs), "audit": list(finding.audit_ids)},
        "found_at": now,
    }


def _store(session: Session, findings: list[Finding], now: datetime) -> int:
    """Insert the findings whose key is new; returns how many were."""
    keys = {f.key for f in findings}
    if not keys:
        return 0
    known = set(
        session.exec(select(FindingRecord.key).where(col(FindingRecord.key).in_(keys))).all()
    )
    fresh: dict[str, Finding] = {}
    for finding in findings:
        if finding.key not in known:
            fresh.setdefault(finding.key, finding)
    if fresh:
        session.exec(insert(FindingRecord), params=[_record(f, now) for f in fresh.values()])
        append(session, [_sealed(f, now) for f in fresh.values()])
    return len(fresh)


#: The audit kind of a stored finding: sealed like every row, so a finding deleted or
#: edited in the database is noticed (``supervision.item_integrity``).
FINDING_KIND = "supervision_finding"


def _sealed(finding: Finding, now: datetime) -> AuditEntry:
    return AuditEntry(
        at=now,
        kind=FINDING_KIND,
        actor_id="system:supervision",
        actor_role="system",
        case_no=finding.case_no,
        summary=f"监察发现（{finding.rule}）：{finding.sentence}"[:500],
        data={
            "key": finding.key,
            "rule": finding.rule,
            "department": finding.department,
            "severity": finding.severity.value,
        },
    )


def _calendar(engine: Engine, now: datetime) -> WorkCalendar:
    year = now.astimezone(CST).year
    return WorkCalendar(calendar_from_store(engine, year - 1, year + 1))


#: Audit rows one transaction evaluates: a catch-up after an outage (or a new rule
#: reading the whole trail) commits as it goes instead of holding one huge transaction.
BATCH_ROWS = 5000


def evaluate_rule(
    engine: Engine, rule: Rule, now: datetime, calendar: WorkCalendar, batch: int = BATCH_ROWS
) -> int:
    """Run one rule on the rows after its cursor, ``batch`` rows per transaction (each
    stores its findings and moves the cursor); returns how many findings were new.
    Raises what the rule raised (its cursor stays where that batch began)."""
    report = RunReport()
    pending = [rule]
    while pending:  # moved by another worker meanwhile: go on from where it left it
        after = _cursor(engine, rule.code)
        pending = _evaluate_together(engine, pending, after, now, calendar, batch, report)
    if rule.code in report.failed:
        raise RuleFailed(f"supervision rule {rule.code} raised: {report.failed[rule.code]}")
    return report.new.get(rule.code, 0)


class RuleFailed(RuntimeError):
    pass


def _cursor(engine: Engine, code: str) -> int:
    with read_session(engine) as session:
        cursor = session.get(CursorRecord, code)
        return cursor.last_audit_id if cursor else 0


def _serialise(session: Session, rule: Rule) -> None:
    """One evaluator of ``rule`` at a time across workers: SQLite's ``BEGIN IMMEDIATE``
    already does it; on PostgreSQL a transaction-scoped advisory lock per rule, so a
    second worker waits and then reads the cursor the first one moved."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"onechain-supervision:{rule.code}".encode())
        session.exec(text("SELECT pg_advisory_xact_lock(:key)"), params={"key": key})  # type: ignore[call-overload]


def _evaluate_together(
    engine: Engine,
    rules: list[Rule],
    after: int,
    now: datetime,
    calendar: WorkCalendar,
    batch: int,
    report: RunReport,
) -> list[Rule]:
    """Evaluate ``rules`` (all at cursor ``after``) batch by batch: each batch of audit
    rows is read once for all of them, in one transaction. Each rule stores its findings
    and moves its cursor inside a savepoint of its own, so a rule that raises leaves no
    trace, keeps its cursor, and drops out; the others go on.

    Each transaction first takes every rule's lock (``_serialise``, in code order) and
    reads the cursors again: a rule another worker moved meanwhile leaves the group and
    is returned, to be evaluated from where that worker left it."""
    active = list(rules)
    moved: list[Rule] = []
    while active:
        with write_session(engine) as session:
            for rule in sorted(active, key=lambda r: r.code):
                _serialise(session, rule)
            cursors = {
                c.rule: c.last_audit_id
                for c in session.exec(
                    select(CursorRecord).where(col(CursorRecord.rule).in_([r.code for r in active]))
                )
            }
            elsewhere = [r for r in active if cursors.get(r.code, 0) != after]
            moved += elsewhere
            active = [r for r in active if r not in elsewhere]
            if not active:
                break
            rows = list(
                session.exec(
                    select(AuditRecord)
                    .where(col(AuditRecord.id) > after)
                    .order_by(col(AuditRecord.id))
                    .limit(batch)
                ).all()
            )
            session.expunge_all()  # shared, read-only: no rule's rollback may expire them
            final = len(rows) < batch
            last = max((r.id for r in rows if r.id is not None), default=after)
            for rule in list(active):
                began = time.perf_counter()
                try:
                    with session.begin_nested():
                        context = Context(
                            session=session,
                            thresholds=thresholds.of_rule(session, rule),
                            new_rows=rows,
                            now=now,
                            calendar=calendar,
                            final=final,
                        )
                        stored = _store(session, list(rule.evaluate(context)), now)
                        _move_cursor(session, rule.code, last, now)
                except Exception as error:  # one broken rule must not stop the others
                    logger.exception("supervision rule %s raised", rule.code)
                    report.failed[rule.code] = f"{type(error).__name__}: {error}"
                    active.remove(rule)
                    continue
                report.new[rule.code] = report.new.get(rule.code, 0) + stored
                spent = time.perf_counter() - began
                report.seconds[rule.code] = report.seconds.get(rule.code, 0.0) + spent
        after = last
        if final:
            break
    return moved


def _move_cursor(session: Session, code: str, last: int, now: datetime) -> None:
    record = session.get(CursorRecord, code) or CursorRecord(rule=code, updated_at=now)
    record.last_audit_id = last
    record.updated_at = datetime.now(UTC)
    session.add(record)
    session.flush()


def run(
    engine: Engine,
    *,
    now: datetime | None = None,
    rules: list[Rule] | None = None,
    batch: int = BATCH_ROWS,
) -> RunReport:
    """Evaluate every rule (or ``rules``) once; see the module notes. Rules whose
    cursors stand at the same row (all of them, usually) read each batch together."""
    now = now or datetime.now(UTC)
    calendar = _calendar(engine, now)
    monthly.forget_months()
    chosen = rules if rules is not None else all_rules()
    report = RunReport()
    pending = list(chosen)
    while pending:  # rules another worker moved meanwhile go on from where it left them
        with read_session(engine) as session:
            cursors = {c.rule: c.last_audit_id for c in session.exec(select(CursorRecord))}
        together: dict[int, list[Rule]] = defaultdict(list)
        for rule in pending:
            together[cursors.get(rule.code, 0)].append(rule)
        pending = []
        for after, group in sorted(together.items()):
            pending += _evaluate_together(engine, group, after, now, calendar, batch, report)
    # Shown in the order the rules are registered; a rule that raised is under failed.
    report.new = {r.code: report.new.get(r.code, 0) for r in chosen if r.code not in report.failed}
    return report
