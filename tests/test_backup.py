"""``onechain backup``: people, sessions, departments, calendars, the audit trail and keys
survive into a new, empty database (SQLite and PostgreSQL) exactly, the trail still
verifies there, and a restore that would mix two installations is refused. Archives
are encrypted with a passphrase and hold the private signing key only when asked;
old unencrypted archives still restore."""

from __future__ import annotations

import json
import os
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from cli.app import app
from cli.backup import PASSPHRASE_ENV
from domain.calendar_sources import load_schedule_file
from readmodel.accounts import SessionRecord
from readmodel.audit import AuditEntry, append
from readmodel.audit_anchors import anchor_now
from readmodel.backup import TABLES, RestoreRefused, _dump, _table, read_archive, restore_backup
from readmodel.backup_crypto import MAGIC, unseal
from readmodel.calendar_store import store_schedule
from readmodel.database import create_schema, make_engine, reset_engines, write_session
from readmodel.departments import add_department
from runtime.keys import init_keys
from runtime.settings import get_settings
from tests.harness import sign_in_cli
from trust.accounts import add_user, bootstrap

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every command here finds the passphrase in the environment (unless a test says)."""
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    return PASSPHRASE


@pytest.fixture
def empty_target(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = f"restored_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def installation(url: str, keys: Path, session_file: Path | None = None) -> Iterator[None]:
    """Point settings (and the CLI) at ``url`` and the keystore ``keys`` for a while (the
    audit anchors beside the keystore, so an office and its restore share them)."""
    names = ("ONECHAIN_DATABASE_URL", "ONECHAIN_KEYS_DIR", "ONECHAIN_SESSION_FILE")
    saved = {k: os.environ.get(k) for k in (*names, "ONECHAIN_AUDIT_ANCHORS")}
    os.environ["ONECHAIN_DATABASE_URL"] = url
    os.environ["ONECHAIN_KEYS_DIR"] = str(keys)
    os.environ["ONECHAIN_AUDIT_ANCHORS"] = str(keys.parent / "anchors.jsonl")
    if session_file is not None:
        os.environ["ONECHAIN_SESSION_FILE"] = str(session_file)
    reset_engines()
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_engines()
        get_settings.cache_clear()


def onechain(*args: str, code: int = 0) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def fill(url: str) -> None:
    """Everything that is not derived: people, a session, a loaded calendar, a new
    department, audit rows (user changes audit themselves, plus case-event rows)."""
    engine = make_engine(url)
    create_schema(engine)
    try:
        bootstrap(engine, user_id="admin1", name="管理员甲")
        add_user(engine, user_id="clerk7", name="窗口乙", grants=["window_clerk"], by="admin1")
        now = datetime.now(UTC).replace(microsecond=0)
        store_schedule(
            engine, load_schedule_file(ROOT / "docs" / "calendar-2027.example.json"), by="admin1"
        )
        add_department(engine, "backup_test_dept", "备份测试部门", by="admin1")
        with write_session(engine) as session:
            session.add(
                SessionRecord(
                    jti=uuid.uuid4().hex,
                    user_id="clerk7",
                    issued_at=now,
                    expires_at=now + timedelta(hours=8),
                )
            )
            append(
                session,
                [
                    AuditEntry(
                        at=now + timedelta(seconds=i),
                        kind="case.received",
                        actor_id="clerk7",
                        actor_name="窗口乙",
                        actor_role="window_clerk",
                        case_no=f"BK{i}",
                        seq=1,
                        summary="受理",
                        data={"department": "window", "task_id": None},
                    )
                    for i in range(5)
                ],
            )
        anchor_now(engine)  # as the office's worker does: its head anchored outside
    finally:
        engine.dispose()


def contents(url: str) -> dict[str, list[dict[str, object]]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {name: _dump(connection, _table(name)) for name in TABLES}
    finally:
        engine.dispose()


def key_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_backup_restores_into_an_empty_database_and_the_trail_verifies(
    database_url: str, empty_target: str, tmp_path: Path
) -> None:
    keys_a, keys_b = tmp_path / "keys-a", tmp_path / "keys-b"
    init_keys(keys_a)
    with installation(database_url, keys_a):  # the office's rows sealed with its audit key
        fill(database_url)
    archive = tmp_path / "office.tar.gz"
    from tests.test_private_files import loose_umask

    with installation(database_url, keys_a), loose_umask():
        # The machine that signs people in: its backup keeps the private key too.
        created = onechain("backup", "create", str(archive), "--include-signing-key", "--json")
        made = json.loads(created.stdout)
    assert "private signing key" in created.stderr  # warned: keep it like the key files
    assert archive.stat().st_mode & 0o777 == 0o600
    source = contents(database_url)
    assert made["counts"] == {name: len(rows) for name, rows in source.items()}
    assert made["counts"]["users"] == 2 and made["counts"]["audit_log"] >= 5
    assert made["keys"] == "included" and made["schema_revision"]
    assert made["signing_private_key"] == "included"

    checked = json.loads(onechain("backup", "verify", str(archive), "--json").stdout)
    assert checked["ok"] and checked["counts"] == made["counts"]

    with installation(empty_target, keys_b, tmp_path / "session.json"):
        restored = json.loads(onechain("backup", "restore", str(archive), "--json").stdout)
        assert restored["inserted"]["users"] == 2
        assert contents(empty_target) == source
        assert key_files(keys_b) == key_files(keys_a)
        again = json.loads(onechain("backup", "restore", str(archive), "--json").stdout)
        assert again["inserted"] == dict.fromkeys(TABLES, 0)  # matching: nothing to do

        sign_in_cli(tmp_path / "session.json", "supervisor", user_id="auditor1")
        verified = json.loads(onechain("audit", "verify", "--json").stdout)
    assert verified["problems"] == [] and verified["rows"] == made["counts"]["audit_log"]
    assert verified["head_hash"] == source["audit_log"][-1]["row_hash"]


def test_restore_refuses_a_database_with_other_people_unless_forced(
    database_url: str, empty_target: str, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    init_keys(keys)
    with installation(database_url, keys):
        fill(database_url)
    archive = tmp_path / "office.tar.gz"
    with installation(database_url, keys):
        onechain("backup", "create", str(archive))
    engine = make_engine(empty_target)
    create_schema(engine)
    add_user(engine, user_id="stranger", name="别处的人", grants=["coordinator"], by="test")
    engine.dispose()

    with installation(empty_target, keys):
        refused = onechain("backup", "restore", str(archive), code=1)
        assert "users" in refused.stderr and "stranger" in refused.stderr
        assert "--force" in refused.stderr
        assert [r["user_id"] for r in contents(empty_target)["users"]] == ["stranger"]
        onechain("backup", "restore", str(archive), "--force")
    assert contents(empty_target) == contents(database_url)


def test_restore_refuses_another_schema_revision(database_url: str, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_keys(keys)
    with installation(database_url, keys):
        fill(database_url)
    archive_path = tmp_path / "office.tar.gz"
    with installation(database_url, keys):
        onechain("backup", "create", str(archive_path))
    archive = read_archive(archive_path, PASSPHRASE)
    archive.manifest["schema_revision"] = "0001_baseline"
    engine = make_engine(database_url)
    try:
        with pytest.raises(RestoreRefused, match="0001_baseline"):
            restore_backup(engine, keys, archive, force=True)
    finally:
        engine.dispose()


def plain_members(archive: Path) -> dict[str, bytes]:
    """The parts inside a sealed archive (opened with the test's passphrase)."""
    import io

    with tarfile.open(fileobj=io.BytesIO(unseal(archive.read_bytes(), PASSPHRASE))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def write_plain(target: Path, members: dict[str, bytes]) -> Path:
    """An unencrypted tar.gz, as onechain wrote archives before they were sealed."""
    import io

    with tarfile.open(target, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return target


def test_a_damaged_archive_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rm.sqlite3'}"
    keys = tmp_path / "keys"
    init_keys(keys)
    with installation(url, keys):
        fill(url)
    archive = tmp_path / "office.tar.gz"
    with installation(url, keys):
        onechain("backup", "create", str(archive))
    members = plain_members(archive)
    members["tables/users.jsonl"] = members["tables/users.jsonl"].replace(b"admin1", b"admin2")
    damaged = write_plain(tmp_path / "damaged.tar.gz", members)
    result = onechain("backup", "verify", str(damaged), code=2)
    assert "tables/users.jsonl" in result.stderr and "sha256" in result.stderr
    assert "no backup at" in onechain("backup", "verify", str(tmp_path / "nope"), code=2).stderr

    flipped = bytearray(archive.read_bytes())
    flipped[-40] ^= 0x01  # one bit of the ciphertext
    (tmp_path / "flipped.tar.gz").write_bytes(bytes(flipped))
    result = onechain("backup", "verify", str(tmp_path / "flipped.tar.gz"), code=2)
    assert "wrong passphrase or damaged archive" in result.stderr


def test_archives_are_encrypted_and_leave_out_the_private_signing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'rm.sqlite3'}"
    keys = tmp_path / "keys"
    init_keys(keys)
    fill(url)
    archive = tmp_path / "office.tar.gz"
    monkeypatch.delenv(PASSPHRASE_ENV)
    with installation(url, keys):
        made = json.loads(
            runner.invoke(
                app,
                ["backup", "create", str(archive), "--passphrase-stdin", "--json"],
                input=PASSPHRASE + "\n",
            ).stdout
        )
    assert made["signing_private_key"] == "left out"
    sealed = archive.read_bytes()
    assert sealed.startswith(MAGIC)
    header = json.loads(sealed[len(MAGIC) : sealed.index(b"\n", len(MAGIC))])
    assert header["kdf"] == "scrypt" and header["cipher"] == "AES-256-GCM"
    assert header["salt"] and header["nonce"] and header["version"] == 1
    assert b"admin1" not in sealed and b"PRIVATE KEY" not in sealed  # nothing in clear

    inside = {n.removeprefix("keys/") for n in plain_members(archive) if n.startswith("keys/")}
    pems = {p.relative_to(keys).as_posix() for p in keys.rglob("signing/*.pem")}
    assert pems and not pems & inside  # no private signing key
    assert any(n.startswith("signing/") and n.endswith(".pub") for n in inside)
    assert any(n.startswith("payload/") for n in inside) and any(
        n.startswith("lookup/") for n in inside
    ), inside

    wrong = runner.invoke(
        app, ["backup", "verify", str(archive), "--passphrase-stdin"], input="not it at all\n"
    )
    assert wrong.exit_code == 2 and "wrong passphrase or damaged archive" in wrong.stderr
    none = runner.invoke(app, ["backup", "verify", str(archive)], input="")
    assert none.exit_code == 2 and "--passphrase-stdin" in none.stderr
    right = runner.invoke(
        app, ["backup", "verify", str(archive), "--passphrase-stdin", "--json"], input=PASSPHRASE
    )
    assert right.exit_code == 0, right.output
    assert json.loads(right.stdout)["encrypted"] is True

    restored_keys = tmp_path / "restored-keys"
    with installation(f"sqlite:///{tmp_path / 'restored.sqlite3'}", restored_keys):
        result = runner.invoke(
            app, ["backup", "restore", str(archive), "--passphrase-stdin"], input=PASSPHRASE
        )
        assert result.exit_code == 0, result.output
    assert not list(restored_keys.rglob("signing/*.pem"))  # verifies, mints nothing
    assert list(restored_keys.rglob("signing/*.pub"))


def test_an_old_unencrypted_archive_still_restores(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rm.sqlite3'}"
    keys = tmp_path / "keys"
    init_keys(keys)
    fill(url)
    with installation(url, keys):
        onechain("backup", "create", str(tmp_path / "new.tar.gz"))
    old = write_plain(tmp_path / "old.tar.gz", plain_members(tmp_path / "new.tar.gz"))
    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    with installation(target, tmp_path / "keys-b"):
        result = onechain("backup", "restore", str(old))
        assert "unencrypted archive from an older onechain" in result.stderr
    assert contents(target) == contents(url)
