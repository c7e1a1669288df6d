"""People and the audit trail as an administrator uses them: ``onechain users``,
``login``/``logout``/``whoami`` and ``audit verify``/``export``, in-process on a fresh
data folder (its own SQLite read model and keys)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from cli.actor import forget_credentials
from cli.app import app
from readmodel.database import ready_engine, reset_engines
from runtime.keys import init_keys, keys_dir
from runtime.settings import get_settings

runner = CliRunner()


@pytest.fixture
def office(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_installation_temporal: str
) -> Iterator[Path]:
    """A fresh data folder with keys, and a session file of its own, on a Temporal
    that holds no cases."""
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    monkeypatch.delenv("ONECHAIN_API_KEY", raising=False)
    get_settings.cache_clear()
    forget_credentials()
    init_keys(keys_dir(get_settings()))
    assert run("db", "upgrade").exit_code == 0  # the one command that creates it
    yield tmp_path
    forget_credentials()
    reset_engines()
    get_settings.cache_clear()


def run(*args: str, input: str | None = None) -> Result:
    forget_credentials()
    return runner.invoke(app, list(args), input=input)


def secret_in(result: Result) -> str:
    match = re.search(r"（只显示这一次）：(\S+)", result.stdout)
    assert match, result.output
    return match.group(1)


def sign_in(user: str, password: str, new_password: str | None = None) -> Result:
    lines = password + "\n" + (f"{new_password}\n" if new_password else "")
    return run("login", user, "--password-stdin", input=lines)


def test_bootstrap_login_manage_people_and_logout(office: Path) -> None:
    first = run("users", "bootstrap")
    assert first.exit_code == 0, first.output
    one_time = secret_in(first)
    again = run("users", "bootstrap")
    assert again.exit_code == 2 and "already exists" in again.stderr

    assert run("users", "list").exit_code == 2  # nobody signed in yet
    short = sign_in("admin", one_time, "short")
    assert short.exit_code == 2 and "至少 10 个字符" in short.stderr
    assert sign_in("admin", one_time, "admin-secret-2026").exit_code == 0
    session_file = office / "session.json"
    assert session_file.stat().st_mode & 0o777 == 0o600
    assert sign_in("admin", one_time).exit_code == 2  # the one-time password is spent

    added = run("users", "add", "wang.fire", "--name", "王消防", "--role", "reviewer:fire")
    assert added.exit_code == 0, added.output
    wang_password = secret_in(added)
    bad_role = run("users", "add", "x1", "--name", "某人", "--role", "reviewer:wizard")
    assert bad_role.exit_code == 2 and "unknown department 'wizard'" in bad_role.stderr
    no_system = run("users", "add", "x2", "--name", "某人", "--role", "system")
    assert no_system.exit_code == 2 and "service accounts" in no_system.stderr
    service = run(
        "users", "add", "importer", "--name", "导入", "--role", "window_clerk:window", "--service"
    )
    assert secret_in(service).startswith("oc1.importer.")

    listed = json.loads(run("users", "list", "--json").stdout)
    assert {u["user_id"]: u["roles"] for u in listed} == {
        "admin": ["administrator"],
        "importer": ["window_clerk:window"],
        "wang.fire": ["reviewer:fire"],
    }
    assert (
        run(
            "users", "set-roles", "wang.fire", "--role", "reviewer:fire", "--role", "reviewer:urban"
        ).exit_code
        == 0
    )
    assert run("users", "disable", "admin").exit_code == 2  # not yourself
    assert run("users", "disable", "wang.fire").exit_code == 0
    shown = json.loads(run("users", "show", "wang.fire", "--json").stdout)
    assert shown["roles"] == ["reviewer:fire", "reviewer:urban"] and not shown["enabled"]

    assert run("logout").exit_code == 0
    assert not session_file.exists()
    # A disabled person cannot sign in; enabled again, they can (and must change the password).
    assert "已停用" in sign_in("wang.fire", wang_password, "fire-secret-2026").stderr
    assert sign_in("admin", "admin-secret-2026").exit_code == 0
    assert run("users", "enable", "wang.fire").exit_code == 0
    assert sign_in("wang.fire", wang_password, "fire-secret-2026").exit_code == 0
    who = json.loads(run("whoami", "--json").stdout)
    assert who["user_id"] == "wang.fire" and who["roles"] == ["reviewer:fire", "reviewer:urban"]
    assert run("users", "list").exit_code == 2  # a reviewer is not an administrator


def test_audit_trail_finds_edited_deleted_and_inserted_rows(office: Path) -> None:
    one_time = secret_in(run("users", "bootstrap"))
    assert sign_in("admin", one_time, "admin-secret-2026").exit_code == 0
    for n in range(3):
        run("users", "add", f"p{n}", "--name", f"同事{n}", "--role", "coordinator")
    verified = run("audit", "verify", "--json")
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.stdout)
    assert report["rows"] >= 5 and report["problems"] == []

    exported = run("audit", "export", "--format", "jsonl")
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    kinds = [r["kind"] for r in rows]
    assert kinds[:2] == ["user_bootstrap", "login"] and kinds.count("user_added") == 3
    assert all(r["row_hash"] and r["prev_hash"] for r in rows)

    engine = ready_engine(get_settings().resolved_database_url)
    victim = rows[2]["id"]
    with engine.begin() as db:  # someone edits a row in the database
        db.execute(text("UPDATE audit_log SET summary = '无事' WHERE id = :id"), {"id": victim})
    edited = json.loads(run("audit", "verify", "--json").stdout)
    assert [p["row_id"] for p in edited["problems"]] == [victim]
    assert run("audit", "verify").exit_code == 1

    with engine.begin() as db:  # put it back, then delete another row instead
        db.execute(
            text("UPDATE audit_log SET summary = :s WHERE id = :id"),
            {"s": rows[2]["summary"], "id": victim},
        )
        db.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": rows[3]["id"]})
    deleted = json.loads(run("audit", "verify", "--json").stdout)
    assert [p["row_id"] for p in deleted["problems"]] == [rows[4]["id"]]

    from tests.test_private_files import loose_umask

    csv_out = office / "audit.csv"
    with loose_umask():
        assert run("audit", "export", "--format", "csv", "-o", str(csv_out)).exit_code == 0
    assert csv_out.read_text(encoding="utf-8").startswith("id,at,kind")
    assert csv_out.stat().st_mode & 0o777 == 0o600  # names people and cases: owner-only


def test_bootstrap_refuses_where_the_audit_trail_has_rows_unless_restoring(office: Path) -> None:
    """A read model with a trail but no administrator was not just installed: bootstrap
    refuses (whoever ran it first would be administrator) unless told it is a restore,
    and the audit trail records the restore with what was found."""
    from trust.audit_log import record_account_event

    engine = ready_engine(get_settings().resolved_database_url)
    record_account_event(engine, "user_added", "admin9", "添加用户 x", {"user": "x"})
    refused = run("users", "bootstrap", "--user", "first")
    assert refused.exit_code == 2, refused.output
    assert "audit trail has 1 row(s)" in refused.stderr and "--restore" in refused.stderr
    restored = run("users", "bootstrap", "--user", "first", "--restore")
    assert restored.exit_code == 0, restored.output
    with engine.connect() as db:
        data = db.execute(
            text("SELECT data FROM audit_log WHERE kind = 'user_bootstrap'")
        ).scalar_one()
    recorded = data if isinstance(data, dict) else json.loads(data)
    assert recorded["restore"] is True and recorded["audit_rows"] == 1
    assert recorded["temporal_cases"] == 0


def test_security_events_are_listed_for_supervisors_and_exported(office: Path) -> None:
    from datetime import UTC, datetime

    from readmodel.audit import append
    from readmodel.database import write_session
    from trust.audit_log import security_entry
    from trust.tokens import InvalidToken

    one_time = secret_in(run("users", "bootstrap"))
    assert sign_in("admin", one_time, "admin-secret-2026").exit_code == 0
    engine = ready_engine(get_settings().resolved_database_url)
    old = datetime.now(UTC) - timedelta(days=3)
    with write_session(engine) as session:
        append(
            session,
            [
                security_entry(
                    at=old, case_no="SEC1", update="decide", update_id="u1", error=None, token=None
                ),
                security_entry(
                    at=datetime.now(UTC),
                    case_no="SEC2",
                    update="urge",
                    update_id="u2",
                    error=InvalidToken("会话凭据签名无效（bad signature）"),
                    token="not.a.token",
                ),
            ],
        )
    listed = json.loads(run("audit", "security", "--json").stdout)
    assert [(r["case_no"], r["data"]["reason"]) for r in listed] == [
        ("SEC1", "no_token"),
        ("SEC2", "bad_signature"),
    ]
    today = datetime.now(UTC).date().isoformat()
    recent = json.loads(run("audit", "security", "--since", today, "--json").stdout)
    assert [r["case_no"] for r in recent] == ["SEC2"]
    assert "not.a.token" not in run("audit", "export").stdout
    assert '"kind": "security"' in run("audit", "export").stdout

    assert run("logout").exit_code == 0
    assert run("audit", "security").exit_code == 2  # nobody signed in
