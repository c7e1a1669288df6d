"""An audit trail nobody can rewrite (执法全过程记录): append-only, hash-chained rows.

Every row stores the hash of the row before it and its own hash over its content and
that previous hash, so editing, inserting or deleting a row anywhere breaks the chain
at that point (``verify_chain``). Deleting rows at the very end leaves a shorter valid
chain: compare the head hash ``audit verify`` prints with one written down or exported
earlier.

Rows are appended under a lock on the chain's head (SQLite: the write transaction's
database lock; PostgreSQL: a transaction-scoped advisory lock), so two writers never
chain onto the same row. Unlike the rest of the read model, this table is never
rebuilt from Temporal: back it up with the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, insert, text
from sqlmodel import Field, Session, SQLModel, select

from readmodel.tables import UTCDateTime, table_of

GENESIS = "0" * 64
#: Arbitrary constant naming the audit chain's advisory lock on PostgreSQL.
_PG_LOCK_KEY = 0x0C_A0D17


class AuditRecord(SQLModel, table=True):
    """One audited happening: a case event, a refused action, a login, a user change."""

    __tablename__ = "audit_log"
    __table_args__ = (
        UniqueConstraint("case_no", "seq", name="uq_audit_case_event"),
        Index("ix_audit_case", "case_no", "id"),
        Index("ix_audit_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    kind: str = Field(max_length=64)
    actor_id: str = Field(max_length=64)
    actor_name: str = Field(default="", max_length=64)
    actor_role: str = Field(default="", max_length=64)
    case_no: str | None = Field(default=None, max_length=64)
    seq: int | None = None  # the case event's sequence number, for case events
    summary: str = ""
    reason: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    row_hash: str = Field(max_length=64)


@dataclass(frozen=True)
class AuditEntry:
    """What a writer audits; the chain fields are added on append."""

    at: datetime
    kind: str
    actor_id: str
    actor_name: str = ""
    actor_role: str = ""
    case_no: str | None = None
    seq: int | None = None
    summary: str = ""
    reason: str = ""
    data: dict[str, Any] | None = None


def _canonical_at(at: datetime) -> str:
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def row_digest(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the row's content in a canonical form."""
    content = {**fields, "at": _canonical_at(fields["at"])}
    blob = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{blob}".encode()).hexdigest()


def _content(entry: AuditEntry | AuditRecord) -> dict[str, Any]:
    return {
        "at": entry.at,
        "kind": entry.kind,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "actor_role": entry.actor_role,
        "case_no": entry.case_no,
        "seq": entry.seq,
        "summary": entry.summary,
        "reason": entry.reason,
        "data": entry.data or {},
    }


def _lock_head(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.exec(text("SELECT pg_advisory_xact_lock(:key)"), params={"key": _PG_LOCK_KEY})  # type: ignore[call-overload]


def _head_hash(session: Session) -> str:
    last = session.exec(
        select(AuditRecord.row_hash).order_by(AuditRecord.id.desc()).limit(1)  # type: ignore[union-attr]
    ).first()
    return last or GENESIS


def append(session: Session, entries: Sequence[AuditEntry]) -> int:
    """Chain ``entries`` onto the trail inside the caller's write transaction.

    Case events already on the trail (same case and sequence number: a retried
    projection) are skipped, so appending is idempotent. Returns how many were added.
    """
    if not entries:
        return 0
    _lock_head(session)
    case_events = [
        (e.case_no, e.seq) for e in entries if e.case_no is not None and e.seq is not None
    ]
    known: set[tuple[str | None, int | None]] = set()
    if case_events:
        case_nos = {c for c, _ in case_events}
        known = {
            (c, s)
            for c, s in session.exec(
                select(AuditRecord.case_no, AuditRecord.seq).where(
                    AuditRecord.case_no.in_(case_nos)  # type: ignore[union-attr]
                )
            )
        }
    prev = _head_hash(session)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if entry.seq is not None and (entry.case_no, entry.seq) in known:
            continue
        fields = _content(entry)
        digest = row_digest(prev, fields)
        rows.append({**fields, "prev_hash": prev, "row_hash": digest})
        known.add((entry.case_no, entry.seq))
        prev = digest
    if rows:
        # One Core insert, rows in chain order (ids ascend with it): building an ORM
        # object per row and flushing them was most of the projector's write time.
        session.connection().execute(insert(table_of(AuditRecord)), rows)
    return len(rows)


@dataclass(frozen=True)
class ChainProblem:
    row_id: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    rows: int
    head_hash: str
    problems: list[ChainProblem]


def _rows(session: Session, batch: int = 5000) -> Iterator[AuditRecord]:
    last_id = 0
    while True:
        chunk = list(
            session.exec(
                select(AuditRecord)
                .where(AuditRecord.id > last_id)  # type: ignore[operator]
                .order_by(AuditRecord.id)  # type: ignore[arg-type]
                .limit(batch)
            )
        )
        if not chunk:
            return
        yield from chunk
        last_id = chunk[-1].id or last_id


def verify_chain(session: Session) -> ChainReport:
    """Walk the trail in order and name every row where the chain breaks."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    count = 0
    for row in _rows(session):
        count += 1
        row_id = row.id or 0
        if row.prev_hash != prev:
            problems.append(
                ChainProblem(
                    row_id, "前一行被删除、插入或改动（previous row deleted, inserted or changed）"
                )
            )
        if row_digest(row.prev_hash, _content(row)) != row.row_hash:
            problems.append(ChainProblem(row_id, "本行内容被改动（row content changed）"))
        prev = row.row_hash
    return ChainReport(rows=count, head_hash=prev, problems=problems)


def export_rows(
    session: Session,
    *,
    case_no: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterable[AuditRecord]:
    query = select(AuditRecord).order_by(AuditRecord.id)  # type: ignore[arg-type]
    if case_no is not None:
        query = query.where(AuditRecord.case_no == case_no)
    if since is not None:
        query = query.where(AuditRecord.at >= since)  # type: ignore[operator]
    if until is not None:
        query = query.where(AuditRecord.at < until)  # type: ignore[operator]
    return session.exec(query)
