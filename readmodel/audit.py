"""An audit trail nobody can rewrite unseen (执法全过程记录): append-only rows, each
sealed with an HMAC by a key the database does not hold.

Every row stores the hash of the row before it and its own seal over its content, its
key id and that previous hash: ``HMAC-SHA256(audit key, prev_hash, key_id, content)``.
The audit key lives in the keystore (``runtime.keys``, kind ``audit``), never in the
database, so whoever administers the database can edit, insert or delete rows but
cannot re-seal what follows: ``verify_chain`` names each row that was edited,
inserted, deleted or re-chained. Cutting rows off the end leaves a shorter, valid
chain: the anchors written outside the database (``readmodel.audit_anchors``) catch
that.

Rows written before the audit key existed (``key_id`` NULL) carry the old keyless
SHA-256 chain; they verify as what they are (``legacy_rows``), only as the chain's
first rows, and the first keyed row chains on the last of them.

Rows are appended under a lock on the chain's head (SQLite: the write transaction's
database lock; PostgreSQL: a transaction-scoped advisory lock), so two writers never
chain onto the same row. Unlike the rest of the read model, this table is never
rebuilt from Temporal: back it up with the database, and the audit key apart from it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, insert, text
from sqlmodel import Field, Session, SQLModel, select

from readmodel.tables import UTCDateTime, table_of
from runtime.keys import ENV_AUDIT_KEY, MANIFEST, AuditKeys, keys_dir, load_audit_keys

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
        # 电子监察 reads the trail by kind (the rules' month queries, the integrity checks)
        Index("ix_audit_kind", "kind", "id"),
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
    #: The audit key that sealed the row; NULL for legacy rows (keyless SHA-256).
    key_id: str | None = Field(default=None, max_length=32)


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


def _blob(fields: dict[str, Any]) -> str:
    content = {**fields, "at": _canonical_at(fields["at"])}
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def row_digest(prev_hash: str, fields: dict[str, Any]) -> str:
    """The legacy, keyless seal: SHA-256 over the previous hash and the content (rows
    written before the audit key; anyone can recompute it, hence the key)."""
    return hashlib.sha256(f"{prev_hash}\n{_blob(fields)}".encode()).hexdigest()


def keyed_digest(key: bytes, key_id: str, prev_hash: str, fields: dict[str, Any]) -> str:
    """HMAC-SHA256 with the audit key over the previous hash, the key id and the content."""
    message = f"{prev_hash}\n{key_id}\n{_blob(fields)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def bound_keys() -> Callable[[], AuditKeys]:
    """:func:`current_keys` bound to the keystore folder and variable configured now: a
    writer that outlives its caller's settings (a worker's audit thread) keeps sealing
    with its deployment's keys, and still sees a rotation there."""
    from runtime.settings import get_settings

    directory = keys_dir(get_settings())
    variable = os.environ.get(ENV_AUDIT_KEY, "")

    def keys() -> AuditKeys:
        try:
            stamp = (directory / MANIFEST).stat().st_mtime_ns
        except OSError:
            stamp = 0
        return _loaded(str(directory), variable, stamp)

    return keys


def current_keys() -> AuditKeys:
    """The configured audit keys (``ONECHAIN_AUDIT_KEY`` or the keystore folder), loaded
    again only when the keystore's manifest or the variable changes (a rotation)."""
    from runtime.settings import get_settings

    directory = keys_dir(get_settings())
    try:
        stamp = (directory / MANIFEST).stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _loaded(str(directory), os.environ.get(ENV_AUDIT_KEY, ""), stamp)


@lru_cache(maxsize=8)
def _loaded(directory: str, variable: str, stamp: int) -> AuditKeys:
    return load_audit_keys(Path(directory))


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


def append(session: Session, entries: Sequence[AuditEntry], keys: AuditKeys | None = None) -> int:
    """Chain ``entries`` onto the trail inside the caller's write transaction, each
    sealed with the active audit key (``keys``, by default the configured ones).

    Case events already on the trail (same case and sequence number: a retried
    projection) are skipped, so appending is idempotent. Returns how many were added.
    """
    if not entries:
        return 0
    keys = keys or current_keys()
    kid, key = keys.active_kid, keys.keys[keys.active_kid]
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
        digest = keyed_digest(key, kid, prev, fields)
        rows.append({**fields, "prev_hash": prev, "row_hash": digest, "key_id": kid})
        known.add((entry.case_no, entry.seq))
        prev = digest
    if rows:
        # One Core insert, rows in chain order (ids ascend with it): building an ORM
        # object per row and flushing them was most of the projector's write time.
        session.connection().execute(insert(table_of(AuditRecord)), rows)
    return len(rows)


@dataclass
class ChainProblem:
    """One place where the trail is not what was written; ``kind`` is one of edited,
    inserted, deleted, rechained, unkeyed, unknown_key (and, from the anchors, cut)."""

    row_id: int
    problem: str
    kind: str = "edited"
    last_row_id: int | None = None  # a run of re-chained rows ends here


@dataclass(frozen=True)
class ChainReport:
    rows: int
    head_hash: str
    problems: list[ChainProblem]
    legacy_rows: int = 0
    head_id: int = 0
    #: The stored hash of each row an anchor named (missing ids: no such row).
    anchored: dict[int, str] = field(default_factory=dict)


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


_EDITED = "本行内容被改动，或本行是没有审计密钥的人伪造的（row content changed, or forged without the audit key）"
_PLAIN = "；其哈希是无密钥的 SHA-256 重算（its hash was recomputed without the audit key）"
_INSERTED = (
    "本行是插入的：下一行仍与它前面的行相连（row inserted: the next row still links over it）"
)
_DELETED = "本行之前有行被删除（row(s) deleted before this one: it links to a row that is gone）"
_RECHAINED = "改动之后的行被重新串链（rows re-chained after a change: their seals no longer match）"
_UNKEYED = (
    "已有加密钥的行之后出现无密钥的行（unkeyed row after keyed rows: re-chained without the key）"
)
_RELINKED = "本行的前一行哈希被改写，以接上插入的行（prev_hash rewritten to the inserted row）"
_BROKEN = (
    "本行与前一行断链且密封不符：被插入或改动（not linked and not sealed: inserted or edited）"
)
_UNKNOWN_KEY = "本行声称的审计密钥 {kid} 不存在（sealed with an unknown audit key {kid}）"


class _Walk:
    """The chain check as a small state machine over rows in id order (one pass, a
    window of one row), so a trail of millions of rows verifies in constant memory."""

    def __init__(
        self, keys: AuditKeys | None, anchored_ids: Collection[int], strict: bool = True
    ) -> None:
        self.keys = keys
        self.strict = strict
        self.anchored_ids = set(anchored_ids)
        self.anchored: dict[int, str] = {}
        self.problems: list[ChainProblem] = []
        self.count = 0
        self.legacy = 0
        self.keyed_seen = False
        self.prev_hash = GENESIS  # the previous row's stored hash
        self.prev_prev: str | None = None  # the previous row's stored prev_hash
        self.prev_id = 0
        self.prev_prev_id = 0
        self.prev_bad = False

    def _seal_problem(self, row: AuditRecord, prev_hash: str) -> tuple[str, str] | None:
        """``(kind, why)`` when the row's seal does not hold over ``prev_hash``."""
        fields = _content(row)
        if row.key_id is None:
            if self.keyed_seen:
                return ("unkeyed", _UNKEYED)
            return None if row_digest(prev_hash, fields) == row.row_hash else ("edited", _EDITED)
        key = self.keys.keys.get(row.key_id) if self.keys else None
        if key is None:
            return ("unknown_key", _UNKNOWN_KEY.format(kid=row.key_id)) if self.strict else None
        if hmac.compare_digest(keyed_digest(key, row.key_id, prev_hash, fields), row.row_hash):
            return None
        if row_digest(prev_hash, fields) == row.row_hash:
            return ("edited", _EDITED + _PLAIN)
        return ("edited", _EDITED)

    def _gap(self, row_id: int) -> str:
        if row_id > self.prev_id + 1:
            return f"（ids {self.prev_id + 1}..{row_id - 1} missing）"
        return ""

    def _last_covers_prev(self) -> bool:
        if not self.problems:
            return False
        last = self.problems[-1]
        return (last.last_row_id or last.row_id) == self.prev_id

    def step(self, row: AuditRecord) -> None:
        row_id = row.id or 0
        self.count += 1
        if row.key_id is None and not self.keyed_seen:
            self.legacy += 1
        seal = self._seal_problem(row, row.prev_hash)
        if row.key_id is not None:
            self.keyed_seen = True
        linked = row.prev_hash == self.prev_hash
        after_bad = self.prev_bad and self._last_covers_prev()
        if seal is None:
            if not linked:
                if after_bad and row.prev_hash == self.prev_prev:
                    self._mark_prev_inserted()  # this row still links over its predecessor
                else:
                    self.problems.append(
                        ChainProblem(row_id, _DELETED + self._gap(row_id), "deleted")
                    )
        else:
            self._bad(row, row_id, seal, linked, after_bad)
        if row_id in self.anchored_ids:
            self.anchored[row_id] = row.row_hash
        self.prev_prev_id = self.prev_id
        self.prev_prev, self.prev_hash, self.prev_id = row.prev_hash, row.row_hash, row_id
        self.prev_bad = seal is not None

    def _bad(
        self, row: AuditRecord, row_id: int, seal: tuple[str, str], linked: bool, after_bad: bool
    ) -> None:
        """Name a row whose seal does not hold, as part of what happened around it."""
        kind, why = seal
        last = self.problems[-1] if self.problems else None
        if (
            linked
            and after_bad
            and self.prev_prev is not None
            and self._seal_problem(row, self.prev_prev) is None
        ):
            # Sealed over the row before its predecessor: that predecessor was inserted
            # and this row's prev_hash rewritten to chain onto it.
            self._mark_prev_inserted()
            self.problems.append(ChainProblem(row_id, _RELINKED, "rechained"))
        elif linked and after_bad and kind in ("edited", "unkeyed") and last is not None:
            run = "rechained" if kind == "edited" else "unkeyed"
            if last.kind == run and last.last_row_id is not None:
                last.last_row_id = row_id  # one problem for a run of re-chained rows
            else:
                text = _RECHAINED if run == "rechained" else _UNKEYED
                self.problems.append(ChainProblem(row_id, text, run, row_id))
        elif linked or kind != "edited":
            self.problems.append(
                ChainProblem(row_id, why, kind, row_id if kind == "unkeyed" else None)
            )
        else:
            self.problems.append(ChainProblem(row_id, _BROKEN + self._gap(row_id), "inserted"))

    def _mark_prev_inserted(self) -> None:
        """The previous row was inserted: name it so (it ends a run, or replaces the
        problem it was named by)."""
        last = self.problems[-1]
        if last.last_row_id is not None and last.last_row_id != last.row_id:
            last.last_row_id = self.prev_prev_id
            self.problems.append(ChainProblem(self.prev_id, _INSERTED, "inserted"))
        else:
            self.problems[-1] = ChainProblem(self.prev_id, _INSERTED, "inserted")


def verify_chain(
    session: Session, keys: AuditKeys | None = None, anchored_ids: Collection[int] = ()
) -> ChainReport:
    """Walk the trail in order and name every row where it is not what was written.

    ``keys``: the audit keys (by default the configured ones); ``anchored_ids``: rows
    whose stored hash the report should carry, for the anchors to compare.
    """
    walk = _Walk(keys or current_keys(), anchored_ids)
    for row in _rows(session):
        walk.step(row)
    return ChainReport(
        rows=walk.count,
        head_hash=walk.prev_hash,
        problems=walk.problems,
        legacy_rows=walk.legacy,
        head_id=walk.prev_id,
        anchored=walk.anchored,
    )


def export_rows(
    session: Session,
    *,
    case_no: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | Sequence[str] | None = None,
) -> Iterable[AuditRecord]:
    query = select(AuditRecord).order_by(AuditRecord.id)  # type: ignore[arg-type]
    if isinstance(kind, str):
        query = query.where(AuditRecord.kind == kind)
    elif kind is not None:
        query = query.where(AuditRecord.kind.in_(list(kind)))  # type: ignore[attr-defined]
    if case_no is not None:
        query = query.where(AuditRecord.case_no == case_no)
    if since is not None:
        query = query.where(AuditRecord.at >= since)  # type: ignore[operator]
    if until is not None:
        query = query.where(AuditRecord.at < until)  # type: ignore[operator]
    return session.exec(query)


def keys_from_files(files: dict[str, bytes]) -> AuditKeys | None:
    """The audit keys in a keystore folder's files (e.g. a backup's ``keys/`` part),
    None when it has none."""
    import base64

    keys: dict[str, bytes] = {}
    active = ""
    try:
        manifest = json.loads(files.get(MANIFEST, b"{}"))
        active = str((manifest.get("audit") or {}).get("active") or "")
    except ValueError:
        pass
    for name, data in files.items():
        if name.startswith("audit/") and name.endswith(".key"):
            kid = name.removeprefix("audit/").removesuffix(".key")
            keys[kid] = base64.b64decode(data.strip())
    if not keys:
        return None
    return AuditKeys(active_kid=active if active in keys else next(iter(keys)), keys=keys)


def first_problem(rows: Iterable[AuditRecord], keys: AuditKeys | None) -> str | None:
    """Where a trail (e.g. one in a backup archive) first breaks: ``row N: why``; None
    when intact. Rows sealed with a key not in ``keys`` are checked for their links
    only (a backup of an office whose audit key is kept elsewhere)."""
    walk = _Walk(keys, (), strict=False)
    for row in rows:
        walk.step(row)
        if walk.problems:
            problem = walk.problems[0]
            return f"row {problem.row_id} ({problem.problem})"
    return None
