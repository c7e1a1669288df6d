"""Anchors of the audit chain outside the database: the head (last row id, its seal,
the row count) written down where a database administrator cannot reach it.

The keyed chain (``readmodel.audit``) catches every edited, inserted or deleted row,
but not rows cut off the end: what remains is a shorter, valid chain. An anchor says
"at T the trail had C rows up to row N, whose seal was h"; if the database's row N is
later missing or different, the rows after the previous anchor were deleted or
rewritten.

The anchor file (``ONECHAIN_AUDIT_ANCHORS``, default ``<data_dir>/audit/anchors.jsonl``)
is append-only JSON lines, 0600, one line per anchor. Each line is sealed with the audit
key (HMAC-SHA256 over its canonical JSON) and names the seal of the line before it, so
an edited, inserted or removed line is seen too. Whoever holds the database alone can
neither forge a line nor hide a cut; keep the file on another disk or host (or ship it
to a log server) so that the database's administrator cannot truncate it either.

Writers (every running worker, ``audit export``, the CLI's account events) append under
an exclusive ``flock`` with ``O_APPEND``, so concurrent workers never interleave lines
or chain two lines onto the same predecessor. A line is written only when the head moved.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from readmodel.audit import GENESIS, AuditRecord, ChainProblem, ChainReport, current_keys
from runtime.keys import AuditKeys
from runtime.private_files import make_private_dir

logger = logging.getLogger(__name__)

_TAIL_BYTES = 4096


@dataclass(frozen=True)
class Head:
    """The chain's head as the database has it now."""

    last_id: int
    last_hash: str
    rows: int
    legacy_rows: int


@dataclass(frozen=True)
class Anchor:
    """One line of the anchor file."""

    n: int
    at: str
    last_id: int
    last_hash: str
    rows: int
    legacy_rows: int
    writer: str
    key_id: str
    prev: str
    mac: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AnchorReport:
    """What the anchor file says, and what is wrong with it."""

    path: Path
    missing: bool = False
    anchors: list[Anchor] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def last(self) -> Anchor | None:
        return self.anchors[-1] if self.anchors else None


def _last_row(session: Session) -> tuple[int, str] | None:
    last = session.exec(
        select(AuditRecord.id, AuditRecord.row_hash)
        .order_by(AuditRecord.id.desc())  # type: ignore[union-attr]
        .limit(1)
    ).first()
    return (int(last[0]), str(last[1])) if last else None


def chain_head(session: Session) -> Head:
    last = _last_row(session)
    rows = session.exec(select(func.count()).select_from(AuditRecord)).one()
    first_keyed = session.exec(
        select(func.min(AuditRecord.id)).where(AuditRecord.key_id.is_not(None))  # type: ignore[union-attr]
    ).one()
    legacy_query = select(func.count()).select_from(AuditRecord)
    if first_keyed is not None:
        legacy_query = legacy_query.where(AuditRecord.id < first_keyed)  # type: ignore[operator]
    legacy = session.exec(legacy_query).one()
    if last is None:
        return Head(0, GENESIS, 0, 0)
    return Head(last[0], last[1], int(rows), int(legacy))


def _seal(key: bytes, fields: dict[str, Any]) -> str:
    body = {k: v for k, v in fields.items() if k != "mac"}
    blob = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, blob.encode(), hashlib.sha256).hexdigest()


def _writer() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _last_line(fd: int) -> str | None:
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    start = max(0, size - _TAIL_BYTES)
    while True:
        chunk = os.pread(fd, size - start, start)
        lines = chunk.rstrip(b"\n").split(b"\n")
        if len(lines) > 1 or start == 0:
            return lines[-1].decode("utf-8", errors="replace")
        start = max(0, start - _TAIL_BYTES)


def write_anchor(path: Path, head: Head, keys: AuditKeys, now: datetime | None = None) -> bool:
    """Append an anchor of ``head`` unless the last line already anchors it; returns
    whether a line was written."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        previous: dict[str, Any] = {}
        text = _last_line(fd)
        if text:
            try:
                previous = json.loads(text)
            except ValueError:
                previous = {}
        if previous.get("last_id") == head.last_id and previous.get("last_hash") == head.last_hash:
            return False
        kid = keys.active_kid
        fields: dict[str, Any] = {
            "n": int(previous.get("n", 0)) + 1 if text else 1,
            "at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
            "last_id": head.last_id,
            "last_hash": head.last_hash,
            "rows": head.rows,
            "legacy_rows": head.legacy_rows,
            "writer": _writer(),
            "key_id": kid,
            "prev": str(previous.get("mac", GENESIS)) if text else GENESIS,
        }
        fields["mac"] = _seal(keys.keys[kid], fields)
        line = json.dumps(fields, ensure_ascii=False, sort_keys=True) + "\n"
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
        return True
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def anchor_now(engine: Engine, path: Path | None = None, keys: AuditKeys | None = None) -> bool:
    """Anchor the configured database's head in the configured anchor file (when it moved)."""
    from readmodel.database import read_session
    from runtime.settings import get_settings

    with read_session(engine) as session:
        head = chain_head(session)
    if head.rows == 0:
        return False
    return write_anchor(path or get_settings().audit_anchors_file, head, keys or current_keys())


def read_anchors(path: Path, keys: AuditKeys) -> AnchorReport:
    """Every anchor in ``path``, each line's seal and link to the line before checked."""
    report = AnchorReport(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.missing = True
        return report
    except OSError as error:
        report.problems.append(f"锚点文件无法读取（cannot read the anchor file {path}: {error}）")
        return report
    prev_mac, prev_n = GENESIS, 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            anchor = Anchor(**fields)
        except (ValueError, TypeError):
            report.problems.append(
                f"锚点文件第 {number} 行无法解析（anchor line {number} is not an anchor: edited）"
            )
            continue
        key = keys.keys.get(anchor.key_id)
        if key is None or not hmac.compare_digest(_seal(key, fields), anchor.mac):
            report.problems.append(
                f"锚点文件第 {number} 行的密封不符（anchor line {number} edited or forged）"
            )
            continue
        if anchor.prev != prev_mac or anchor.n != prev_n + 1:
            report.problems.append(
                f"锚点文件第 {number} 行之前有行被删除或插入"
                f"（anchor line {number} does not follow line {prev_n}: lines removed or inserted）"
            )
        report.anchors.append(anchor)
        prev_mac, prev_n = anchor.mac, anchor.n
    return report


def compare(chain: ChainReport, anchors: AnchorReport) -> list[ChainProblem]:
    """Where the database's trail disagrees with the anchors: rows cut off the end (or
    rewritten) after an anchor, or re-sealed as legacy rows."""
    problems: list[ChainProblem] = []
    if (anchors.missing or not anchors.anchors) and chain.rows > chain.legacy_rows:
        state = "不存在（missing）" if anchors.missing else "是空的（empty）"
        problems.append(
            ChainProblem(
                0,
                f"锚点文件 {anchors.path} {state}：无法确认末尾的行未被删除"
                f"（anchor file {'missing' if anchors.missing else 'empty'}: "
                "a cut tail cannot be ruled out）",
                "anchors",
            )
        )
    if anchors.missing:
        return problems
    mismatched = [a for a in anchors.anchors if chain.anchored.get(a.last_id) != a.last_hash]
    if mismatched:
        first, last = mismatched[0], anchors.anchors[-1]
        for anchor in dict.fromkeys([first, last] if last in mismatched else [first]):
            if anchor.last_id not in chain.anchored:
                problems.append(
                    ChainProblem(
                        anchor.last_id,
                        f"{anchor.at} 的锚点记录到第 {anchor.last_id} 行（共 {anchor.rows} 行），"
                        f"数据库只到第 {chain.head_id} 行：此后的行被删除"
                        f"（rows after {chain.head_id} were deleted: the anchor of {anchor.at} "
                        f"saw row {anchor.last_id}）",
                        "cut",
                    )
                )
            else:
                problems.append(
                    ChainProblem(
                        anchor.last_id,
                        f"第 {anchor.last_id} 行与 {anchor.at} 的锚点不符：该行及之前的行被改写或截断后重写"
                        f"（row {anchor.last_id} differs from the anchor of {anchor.at}: "
                        f"rows up to it were rewritten, or cut and written again）",
                        "cut",
                    )
                )
    last = anchors.last
    if last is not None and chain.legacy_rows > last.legacy_rows:
        problems.append(
            ChainProblem(
                last.legacy_rows + 1,
                f"无密钥的旧行从 {last.legacy_rows} 行变为 {chain.legacy_rows} 行："
                f"有行被去掉密钥重新串链（rows re-sealed as legacy rows without the audit key）",
                "rechained",
            )
        )
    return problems
