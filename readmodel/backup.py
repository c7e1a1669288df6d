"""Backing up and restoring what Temporal cannot give back.

``onechain reconcile`` rebuilds every derived table (cases, tasks, events, e-licences,
publications, notifications) from the cases in Temporal. Five tables and the keystore
are not derived: the people and their sessions, the office's departments, the loaded
official holiday schedules and the hash-chained audit trail, and the keys that seal
payloads, hash ids and sign sessions. Losing the keys makes every sealed history
unreadable, so they belong in the same archive, and the archive is owner-only and
sealed with a passphrase (``readmodel.backup_crypto``: scrypt, AES-256-GCM).

The private signing key is left out unless asked for (``include_signing_key``): it
mints anyone's session, and it belongs only where sessions are minted. The public
keys, the payload keys and the lookup key (which a restored office needs to open its
histories and find holders) are always in.

An archive is one tar file (gzip), sealed, mode 0600::

    manifest.json           format, schema revision, created at/by, per part: rows and sha256
    tables/<table>.jsonl    one JSON object per row, in primary-key order
    keys/...                the keystore folder (keys.json and the key files)

Archives made before sealing (plain tar.gz) are still read and restored.

Restoring checks every part's hash first, then that the target database has the same
schema revision, then that it is empty or matches: its people, sessions and audit rows
must all be the archive's (a prefix of the trail, same hashes). Departments and
calendars are configuration and take the archive's values. ``force`` replaces
conflicting rows and key files instead of refusing.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import io
import json
import os
import socket
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Engine, Table, delete, insert, select, text

from readmodel.audit import AuditRecord, current_keys, first_problem, keys_from_files
from readmodel.database import describe, write_session
from runtime.keys import AuditKeys

FORMAT = "onechain-backup/1"
MANIFEST = "manifest.json"
#: Tables that are not derived from Temporal, in restore order.
TABLES = ("users", "sessions", "departments", "calendar_schedules", "audit_log")
#: Tables whose rows in the target must all be the archive's (people and the trail);
#: the others are configuration the archive overrides.
STRICT = frozenset({"users", "sessions", "audit_log"})
#: How many conflicting rows a refusal names before it just counts.
NAMED_CONFLICTS = 5


class BackupError(Exception):
    """The archive cannot be written, read or restored; the message says why."""


class RestoreRefused(BackupError):
    """The target differs from the archive and ``force`` was not given."""


@dataclass
class Part:
    name: str
    data: bytes
    rows: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Archive:
    """An archive read and checked: its manifest and every part's bytes, and whether
    it was sealed (archives from before sealing are not)."""

    manifest: dict[str, Any]
    parts: dict[str, bytes]
    sealed: bool = True

    def rows(self, table: str) -> list[dict[str, Any]]:
        data = self.parts.get(f"tables/{table}.jsonl", b"")
        return [json.loads(line) for line in data.decode("utf-8").splitlines() if line]

    def key_files(self) -> dict[str, bytes]:
        return {
            name.removeprefix("keys/"): data
            for name, data in self.parts.items()
            if name.startswith("keys/")
        }


@dataclass
class RestoreReport:
    revision: str
    inserted: dict[str, int] = field(default_factory=dict)
    replaced: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    keys_written: list[str] = field(default_factory=list)
    keys_unchanged: int = 0


# ------------------------------------------------------------------- rows as JSON
def _table(name: str) -> Table:
    from sqlmodel import SQLModel

    import readmodel.accounts
    import readmodel.audit
    import readmodel.calendar_store
    import readmodel.departments  # noqa: F401  (register the tables)

    return SQLModel.metadata.tables[name]


def _python_type(column: Any) -> type | None:
    """datetime or date for the columns stored as such (decorated types by their impl)."""
    kind = getattr(column.type, "impl_instance", column.type)
    if isinstance(kind, DateTime):
        return datetime
    if isinstance(kind, Date):
        return date
    return None


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(row)
    for column in table.columns:
        value = decoded.get(column.name)
        if value is None:
            continue
        kind = _python_type(column)
        if kind is datetime:
            decoded[column.name] = datetime.fromisoformat(value)
        elif kind is date:
            decoded[column.name] = date.fromisoformat(value)
    return decoded


def _key(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _dump(connection: Connection, table: Table) -> list[dict[str, Any]]:
    stmt = select(table).order_by(*table.primary_key.columns)
    return [
        {name: _encode(value) for name, value in row._mapping.items()}
        for row in connection.execute(stmt)
    ]


def _jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return "".join(
        json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows
    ).encode("utf-8")


def schema_revision(connection: Connection) -> str | None:
    from readmodel.schema import schema_status

    return schema_status(connection).revision


# ----------------------------------------------------------------------- creating
def is_signing_private_key(relative: str) -> bool:
    """``signing/<kid>.pem``: a private signing key (``.pub`` is its public half)."""
    path = PurePosixPath(relative)
    return path.parts[:1] == ("signing",) and path.suffix == ".pem"


def key_parts(directory: Path, *, include_signing_key: bool = False) -> list[Part]:
    """Every regular file of the keystore folder (not its lock), by relative path; the
    private signing keys only when ``include_signing_key``."""
    if not directory.is_dir():
        return []
    parts = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if not path.is_file() or path.name.startswith("."):
            continue
        if is_signing_private_key(relative) and not include_signing_key:
            continue
        parts.append(Part(f"keys/{relative}", path.read_bytes()))
    return parts


def create_backup(
    engine: Engine,
    keys: Path,
    target: Path,
    *,
    passphrase: str,
    include_signing_key: bool = False,
    by: str | None = None,
) -> dict[str, Any]:
    """Write the archive, sealed with ``passphrase``, to ``target`` (which must not
    exist); returns its manifest."""
    from readmodel.backup_crypto import MIN_PASSPHRASE

    if target.exists():
        raise BackupError(f"{target} already exists: choose a new file name")
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the backup passphrase must have at least {MIN_PASSPHRASE} characters")
    with engine.connect() as connection:
        revision = schema_revision(connection)
        parts = []
        for name in TABLES:
            rows = _dump(connection, _table(name))
            parts.append(Part(f"tables/{name}.jsonl", _jsonl(rows), len(rows)))
    parts += key_parts(keys, include_signing_key=include_signing_key)
    has_private = any(is_signing_private_key(p.name.removeprefix("keys/")) for p in parts)
    manifest = {
        "format": FORMAT,
        "schema_revision": revision,
        "created_at": datetime.now(UTC).isoformat(),
        "created_by": by or f"{getpass.getuser()}@{socket.gethostname()}",
        "database": describe(engine.url),
        "keys": "included" if any(p.name.startswith("keys/") for p in parts) else "none found",
        "signing_private_key": "included" if has_private else "left out",
        "counts": {
            name: next(p.rows for p in parts if p.name == f"tables/{name}.jsonl") for name in TABLES
        },
        "parts": {
            p.name: {"sha256": p.sha256, "bytes": len(p.data), "rows": p.rows} for p in parts
        },
    }
    _write_archive(target, [Part(MANIFEST, _manifest_bytes(manifest)), *parts], passphrase)
    return manifest


def _manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _write_archive(target: Path, parts: Sequence[Part], passphrase: str) -> None:
    """Seal the tar and write it next to ``target`` with mode 0600 from the start, then
    rename it (the clear tar exists only in memory)."""
    from readmodel.backup_crypto import seal

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for part in parts:
            info = tarfile.TarInfo(part.name)
            info.size, info.mode = len(part.data), 0o600
            info.mtime = int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(part.data))
    sealed = seal(buffer.getvalue(), passphrase)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.partial")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            raw.write(sealed)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------ reading
def is_sealed_file(path: Path) -> bool:
    """Whether ``path`` is a sealed archive (False for an old plain one; raises
    ``BackupError`` when there is nothing to read)."""
    from readmodel.backup_crypto import MAGIC

    try:
        with path.open("rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except FileNotFoundError:
        raise BackupError(f"no backup at {path}") from None
    except OSError as error:
        raise BackupError(f"{path} is not a readable onechain backup: {error}") from None


def read_archive(path: Path, passphrase: str | None = None) -> Archive:
    """Read ``path`` (opening it with ``passphrase`` when sealed) and check it
    completely: format, every part's size and sha256, row counts, no part missing or
    extra, and the audit rows' hash chain."""
    from readmodel.backup_crypto import SealError, is_sealed, unseal

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BackupError(f"no backup at {path}") from None
    except OSError as error:
        raise BackupError(f"{path} is not a readable onechain backup: {error}") from None
    sealed = is_sealed(data)
    if sealed:
        if passphrase is None:
            raise BackupError(f"{path} is sealed: give its passphrase")
        try:
            data = unseal(data, passphrase)
        except SealError as error:
            raise BackupError(f"{path}: {error}") from None
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            parts: dict[str, bytes] = {}
            for member in tar.getmembers():
                name = PurePosixPath(member.name)
                if not member.isfile() or name.is_absolute() or ".." in name.parts:
                    raise BackupError(f"{path}: unexpected entry {member.name!r}")
                extracted = tar.extractfile(member)
                parts[member.name] = extracted.read() if extracted is not None else b""
    except FileNotFoundError:
        raise BackupError(f"no backup at {path}") from None
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupError(f"{path} is not a readable onechain backup: {error}") from None
    try:
        manifest = json.loads(parts.pop(MANIFEST))
    except (KeyError, ValueError):
        raise BackupError(f"{path} has no readable {MANIFEST}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not an {FORMAT} archive")
    listed: dict[str, Any] = manifest.get("parts", {})
    for name in sorted(set(listed) ^ set(parts)):
        where = "listed in the manifest but missing" if name in listed else "not in the manifest"
        raise BackupError(f"{path}: part {name} is {where}")
    for name, data in parts.items():
        if hashlib.sha256(data).hexdigest() != listed[name]["sha256"]:
            raise BackupError(f"{path}: part {name} does not match its sha256 (damaged or edited)")
    archive = Archive(manifest, parts, sealed=sealed)
    for table in TABLES:
        counted = len(archive.rows(table))
        if counted != manifest["counts"].get(table):
            raise BackupError(
                f"{path}: {table} has {counted} rows, the manifest says {manifest['counts'].get(table)}"
            )
    problem = _chain_problem(archive.rows("audit_log"), archive.key_files())
    if problem is not None:
        raise BackupError(f"{path}: the audit trail in the archive is broken at {problem}")
    return archive


def _chain_problem(rows: list[dict[str, Any]], key_files: dict[str, bytes]) -> str | None:
    """Where the archived trail's chain breaks (None: intact), its rows' seals checked
    with the archive's audit keys and this machine's (``readmodel.audit``)."""
    table = _table("audit_log")
    records = (AuditRecord.model_validate(_decode(table, row)) for row in rows)
    keys = keys_from_files(key_files)
    with contextlib.suppress(Exception):  # no audit key here: the archive's, or links only
        local = current_keys()
        keys = AuditKeys(local.active_kid, {**local.keys, **(keys.keys if keys else {})})
    return first_problem(records, keys)


# ---------------------------------------------------------------------- restoring
@dataclass
class _Plan:
    """What restoring one table does."""

    table: Table
    rows: list[dict[str, Any]]
    missing: list[dict[str, Any]] = field(default_factory=list)
    differing: list[dict[str, Any]] = field(default_factory=list)
    extra: list[tuple[Any, ...]] = field(default_factory=list)
    same: int = 0


def _plan(connection: Connection, name: str, rows: list[dict[str, Any]]) -> _Plan:
    table = _table(name)
    plan = _Plan(table, rows)
    present = {_key(table, r): r for r in _dump(connection, table)}
    for row in rows:
        stored = present.pop(_key(table, row), None)
        if stored is None:
            plan.missing.append(row)
        elif stored == row:
            plan.same += 1
        else:
            plan.differing.append(row)
    plan.extra = sorted(present, key=str)
    return plan


def _conflicts(plans: dict[str, _Plan]) -> list[str]:
    found = []
    for name in TABLES:
        plan = plans[name]
        if name not in STRICT:
            continue
        keys = [_key(plan.table, r) for r in plan.differing] + plan.extra
        if keys:
            named = ", ".join("/".join(str(k) for k in key) for key in keys[:NAMED_CONFLICTS])
            more = f" and {len(keys) - NAMED_CONFLICTS} more" if len(keys) > NAMED_CONFLICTS else ""
            found.append(
                f"{name}: {len(keys)} row(s) differ or are not in the backup ({named}{more})"
            )
    return found


def _key_conflicts(archive: Archive, keys: Path) -> list[str]:
    return [
        relative
        for relative, data in sorted(archive.key_files().items())
        if (keys / relative).is_file() and (keys / relative).read_bytes() != data
    ]


def restore_backup(engine: Engine, keys: Path, archive: Archive, *, force: bool) -> RestoreReport:
    """Restore ``archive`` into ``engine``'s database (at the archive's schema revision)
    and the keystore folder ``keys``; raises ``RestoreRefused`` naming what differs."""
    wanted = archive.manifest.get("schema_revision")
    with engine.connect() as connection:
        revision = schema_revision(connection)
        if revision != wanted:
            raise RestoreRefused(
                f"the backup has schema revision {wanted}, the target database "
                f"({describe(engine.url)}) has {revision}: restore with the onechain version "
                "that made the backup, into a database at that revision"
            )
        plans = {name: _plan(connection, name, archive.rows(name)) for name in TABLES}
    conflicts = _conflicts(plans)
    conflicts += [f"key file {k} differs" for k in _key_conflicts(archive, keys)]
    if conflicts and not force:
        raise RestoreRefused(
            "the target already holds different data; nothing was restored: "
            + "; ".join(conflicts)
            + " (restore into an empty database, or --force to replace it with the backup)"
        )
    report = RestoreReport(revision=str(revision))
    with write_session(engine) as session:
        for name in TABLES:
            plan = plans[name]
            table = plan.table
            if name in STRICT and force and plan.extra:
                # Replace the whole table: the target's own rows cannot stay beside
                # the archive's (the audit chain would not verify).
                session.execute(delete(table))
                session.execute(insert(table), [_decode(table, r) for r in plan.rows])
                report.inserted[name], report.replaced[name] = len(plan.rows), 0
                report.unchanged[name] = 0
                continue
            for row in plan.differing:
                key = _key(table, row)
                session.execute(
                    delete(table).where(
                        *(c == v for c, v in zip(table.primary_key.columns, key, strict=True))
                    )
                )
            add = [*plan.missing, *plan.differing]
            if add:
                session.execute(insert(table), [_decode(table, r) for r in add])
            report.inserted[name] = len(plan.missing)
            report.replaced[name] = len(plan.differing)
            report.unchanged[name] = plan.same
        if engine.dialect.name == "postgresql":
            session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), "
                    "COALESCE((SELECT MAX(id) FROM audit_log), 0) + 1, false)"
                )
            )
    _restore_keys(archive, keys, report)
    return report


def _restore_keys(archive: Archive, keys: Path, report: RestoreReport) -> None:
    from runtime.private_files import make_private_dir

    for relative, data in sorted(archive.key_files().items()):
        path = keys / relative
        if path.is_file() and path.read_bytes() == data:
            report.keys_unchanged += 1
            continue
        make_private_dir(path.parent)
        temp = path.with_name(f".{path.name}.restoring")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, path)
        report.keys_written.append(relative)
