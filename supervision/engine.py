"""Evaluate the rules once, incrementally: each rule reads the audit rows after its
cursor, its findings are stored once (by key), and its cursor moves on only if it
finished. A rule that raises is reported and skipped; the others still run, and it
reads the same rows again next time.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, text
from sqlmodel import Session, col, select

from domain.calendar import WorkCalendar
from domain.timezone import CST
from readmodel.audit import AuditRecord
from readmodel.calendar_store import calendar_from_store
from readmodel.database import write_session
from readmodel.supervision import CursorRecord, FindingRecord
from supervision import thresholds
from supervision.registry import all_rules
from supervision.rule import Context, Finding, Rule

logger = logging.getLogger(__name__)


@dataclass
class RunReport:
    new: dict[str, int] = field(default_factory=dict)  # rule code → new findings
    failed: dict[str, str] = field(default_factory=dict)  # rule code → what it raised


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
    return len(fresh)


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
    stores its findings and moves the cursor); returns how many findings were new."""
    stored = 0
    while True:
        found, read = _evaluate_batch(engine, rule, now, calendar, batch)
        stored += found
        if read < batch:
            return stored


def _serialise(session: Session, rule: Rule) -> None:
    """One evaluator of ``rule`` at a time across workers: SQLite's ``BEGIN IMMEDIATE``
    already does it; on PostgreSQL a transaction-scoped advisory lock per rule, so a
    second worker waits and then reads the cursor the first one moved."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"onechain-supervision:{rule.code}".encode())
        session.exec(text("SELECT pg_advisory_xact_lock(:key)"), params={"key": key})  # type: ignore[call-overload]


def _evaluate_batch(
    engine: Engine, rule: Rule, now: datetime, calendar: WorkCalendar, batch: int
) -> tuple[int, int]:
    with write_session(engine) as session:
        _serialise(session, rule)
        cursor = session.get(CursorRecord, rule.code)
        after = cursor.last_audit_id if cursor else 0
        rows = list(
            session.exec(
                select(AuditRecord)
                .where(col(AuditRecord.id) > after)
                .order_by(col(AuditRecord.id))
                .limit(batch)
            ).all()
        )
        context = Context(
            session=session,
            thresholds=thresholds.of_rule(session, rule),
            new_rows=rows,
            now=now,
            calendar=calendar,
            final=len(rows) < batch,
        )
        stored = _store(session, list(rule.evaluate(context)), now)
        record = cursor or CursorRecord(rule=rule.code, updated_at=now)
        record.last_audit_id = max((r.id for r in rows if r.id is not None), default=after)
        record.updated_at = datetime.now(UTC)
        session.add(record)
    return stored, len(rows)


def run(
    engine: Engine,
    *,
    now: datetime | None = None,
    rules: list[Rule] | None = None,
    batch: int = BATCH_ROWS,
) -> RunReport:
    """Evaluate every rule (or ``rules``) once; see the module notes."""
    now = now or datetime.now(UTC)
    calendar = _calendar(engine, now)
    report = RunReport()
    for rule in rules if rules is not None else all_rules():
        try:
            report.new[rule.code] = evaluate_rule(engine, rule, now, calendar, batch)
        except Exception as error:  # one broken rule must not stop the others
            logger.exception("supervision rule %s raised", rule.code)
            report.failed[rule.code] = f"{type(error).__name__}: {error}"
    return report
