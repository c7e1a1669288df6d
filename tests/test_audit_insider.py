"""The audit trail against a hostile insider: someone with the database (and the app's
own code) but not the audit key, who edits, inserts, deletes, re-chains and cuts rows,
or edits the anchor file. ``onechain audit verify`` must name each of them, on a real
SQLite file; old keyless rows still verify as legacy rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select
from typer.testing import CliRunner, Result

from cli.actor import forget_credentials
from cli.app import app
from readmodel.audit import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    _content,
    append,
    current_keys,
    row_digest,
    verify_chain,
)
from readmodel.database import make_engine, ready_engine, reset_engines, write_session
from readmodel.schema import head_revision, migrate
from runtime.keys import init_keys, keys_dir
from runtime.settings import get_settings

pytestmark = pytest.mark.insider

runner = CliRunner()


@pytest.fixture
def office(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_installation_temporal: str
) -> Iterator[Path]:
    """A data folder of its own (SQLite file made by `db upgrade`, keys, anchors), an
    administrator signed in, and a trail of 12 rows whose head ``audit export`` anchored."""
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    monkeypatch.delenv("ONECHAIN_API_KEY", raising=False)
    monkeypatch.delenv("ONECHAIN_AUDIT_ANCHORS", raising=False)
    get_settings.cache_clear()
    forget_credentials()
    init_keys(keys_dir(get_settings()))
    assert run("db", "upgrade").exit_code == 0
    first = run("users", "bootstrap")
    secret = re.search(r"（只显示这一次）：(\S+)", first.stdout)
    assert secret, first.output
    lines = f"{secret.group(1)}\nadmin-secret-2026\n"
    assert run("login", "admin", "--password-stdin", input=lines).exit_code == 0
    now = datetime.now(UTC)
    with write_session(engine()) as session:
        append(
            session,
            [
                AuditEntry(
                    at=now + timedelta(seconds=i),
                    kind="decided",
                    actor_id="rev-fire",
                    case_no=f"IN{i}",
                    seq=1,
                    summary=f"审查通过 {i}",
                )
                for i in range(10)
            ],
        )
    assert run("audit", "export", "-o", str(tmp_path / "export.jsonl")).exit_code == 0
    yield tmp_path
    forget_credentials()
    reset_engines()
    get_settings.cache_clear()


def run(*args: str, input: str | None = None) -> Result:
    forget_credentials()
    return runner.invoke(app, list(args), input=input)


def engine():  # type: ignore[no-untyped-def]
    return ready_engine(get_settings().resolved_database_url)


def verify() -> dict:  # type: ignore[type-arg]
    result = run("audit", "verify", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == (1 if report["problems"] or report["anchors"]["problems"] else 0)
    return report


def kinds(report: dict) -> list[tuple[str, int, int | None]]:  # type: ignore[type-arg]
    return [(p["kind"], p["row_id"], p["last_row_id"]) for p in report["problems"]]


def ids() -> list[int]:
    with engine().connect() as db:
        return [r[0] for r in db.execute(text("SELECT id FROM audit_log ORDER BY id"))]


def test_an_intact_trail_verifies_and_names_its_head_and_last_anchor(office: Path) -> None:
    report = verify()
    assert report["problems"] == [] and report["rows"] == 12 and report["legacy_rows"] == 0
    last = report["anchors"]["last"]
    assert last["last_id"] == report["head_id"] == 12
    assert last["last_hash"] == report["head_hash"]
    anchors = get_settings().audit_anchors_file
    assert anchors.stat().st_mode & 0o777 == 0o600
    shown = run("audit", "verify")
    assert shown.exit_code == 0 and "完好" in shown.stdout and "最近锚点" in shown.stdout


def test_an_edited_row_is_named(office: Path) -> None:
    with engine().begin() as db:
        db.execute(text("UPDATE audit_log SET summary = '审查不通过' WHERE id = 7"))
    assert kinds(verify()) == [("edited", 7, None)]
    assert run("audit", "verify").exit_code == 1


def test_an_inserted_row_is_named(office: Path) -> None:
    """Rows 6.. moved up one id, a forged row put in at 6 (its hash plain SHA-256)."""
    with engine().begin() as db:
        db.execute(text("UPDATE audit_log SET id = -id WHERE id >= 6"))
        db.execute(text("UPDATE audit_log SET id = 1 - id WHERE id < 0"))
    with write_session(engine()) as session:
        before = session.get(AuditRecord, 5)
        assert before is not None
        forged = AuditRecord(
            id=6,
            at=before.at,
            kind="decided",
            actor_id="rev-fire",
            case_no="FORGED",
            seq=1,
            summary="审查通过",
            prev_hash=before.row_hash,
            row_hash="",
            key_id=before.key_id,
        )
        forged.row_hash = row_digest(before.row_hash, _content(forged))
        session.add(forged)
    # Named at 6; and the anchored head's id now holds another row (ids were shifted).
    assert kinds(verify()) == [("inserted", 6, None), ("cut", 12, None)]


def test_a_deleted_middle_row_is_named(office: Path) -> None:
    with engine().begin() as db:
        db.execute(text("DELETE FROM audit_log WHERE id = 5"))
    report = verify()
    assert kinds(report) == [("deleted", 6, None)]
    assert "ids 5..5 missing" in report["problems"][0]["problem"]


def test_an_edit_re_chained_with_sha256_is_named(office: Path) -> None:
    """The old attack: edit row 4, then recompute every hash after it as the code
    would without the key (SHA-256), so each row links to the one before."""
    with write_session(engine()) as session:
        rows = list(session.exec(select(AuditRecord).order_by(AuditRecord.id)))  # type: ignore[arg-type]
        rows[3].summary = "无事"
        prev = rows[2].row_hash
        for row in rows[3:]:
            row.prev_hash = prev
            row.row_hash = row_digest(prev, _content(row))
            prev = row.row_hash
            session.add(row)
    report = verify()
    assert kinds(report)[:2] == [("edited", 4, None), ("rechained", 5, 12)]
    assert "without the audit key" in report["problems"][0]["problem"]
    assert ("cut", 12, None) in kinds(report)  # the anchored head differs too


def test_re_sealing_everything_as_legacy_rows_is_named(office: Path) -> None:
    """Downgrade: every row made a keyless legacy row and re-chained from the start —
    a chain that checks on its own, but not against the anchors."""
    with write_session(engine()) as session:
        rows = list(session.exec(select(AuditRecord).order_by(AuditRecord.id)))  # type: ignore[arg-type]
        prev = GENESIS
        for row in rows:
            row.key_id = None
            row.summary = row.summary.replace("通过", "不通过")
            row.prev_hash = prev
            row.row_hash = row_digest(prev, _content(row))
            prev = row.row_hash
            session.add(row)
    report = verify()
    assert report["legacy_rows"] == 12
    assert {"cut", "rechained"} <= {p["kind"] for p in report["problems"]}


def test_a_cut_tail_is_named_back_to_the_last_anchor(office: Path) -> None:
    with engine().begin() as db:
        db.execute(text("DELETE FROM audit_log WHERE id > 9"))
    report = verify()
    assert kinds(report) == [("cut", 12, None)]
    assert "rows after 9 were deleted" in report["problems"][0]["problem"]

    # New rows written after the cut take the cut rows' ids: still named.
    with write_session(engine()) as session:
        append(session, [AuditEntry(at=datetime.now(UTC), kind="login", actor_id="admin")])
    assert ids()[-1] == 10
    assert [p["kind"] for p in verify()["problems"]] == ["cut"]


def test_a_missing_or_edited_anchor_file_is_named(office: Path) -> None:
    anchors = get_settings().audit_anchors_file
    lines = anchors.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2  # the first account event, then the export
    edited = json.loads(lines[1])
    edited["last_id"] = 9  # hide a cut: anchor an earlier head
    anchors.write_text(lines[0] + "\n" + json.dumps(edited) + "\n", encoding="utf-8")
    report = verify()
    assert any("anchor line 2 edited" in p for p in report["anchors"]["problems"])

    anchors.write_text(lines[1] + "\n", encoding="utf-8")  # the first line removed
    report = verify()
    assert any("lines removed or inserted" in p for p in report["anchors"]["problems"])

    anchors.write_text("", encoding="utf-8")  # emptied
    report = verify()
    assert [p["kind"] for p in report["problems"]] == ["anchors"]
    assert "anchor file empty" in report["problems"][0]["problem"]

    anchors.unlink()
    report = verify()
    assert report["anchors"]["missing"] and [p["kind"] for p in report["problems"]] == ["anchors"]


def test_legacy_rows_still_verify_and_new_rows_chain_on_them(tmp_path: Path) -> None:
    """A database from before the audit key: its keyless rows are legacy rows, the first
    keyed row chains on the last of them, and an edit of a legacy row is still named."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate(engine, "0005_case_and_task_clocks")
    prev = GENESIS
    at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    with engine.begin() as db:
        for i in range(3):
            fields = {
                "at": at + timedelta(minutes=i),
                "kind": "login",
                "actor_id": f"u{i}",
                "actor_name": "",
                "actor_role": "",
                "case_no": None,
                "seq": None,
                "summary": f"登录 {i}",
                "reason": "",
                "data": {},
            }
            digest = row_digest(prev, fields)
            db.execute(
                text(
                    "INSERT INTO audit_log (at, kind, actor_id, actor_name, actor_role, "
                    "summary, reason, data, prev_hash, row_hash) VALUES (:at, :kind, "
                    ":actor_id, '', '', :summary, '', '{}', :prev, :hash)"
                ),
                {**fields, "at": fields["at"].isoformat(), "prev": prev, "hash": digest},
            )
            prev = digest
    migrate(engine, head_revision())
    keys = current_keys()
    with write_session(engine) as session:
        append(session, [AuditEntry(at=datetime.now(UTC), kind="login", actor_id="u9")], keys)
        report = verify_chain(session, keys)
    assert report.problems == [] and report.rows == 4 and report.legacy_rows == 3
    with write_session(engine) as session:
        keyed = session.get(AuditRecord, 4)
        assert keyed is not None and keyed.prev_hash == prev and keyed.key_id == keys.active_kid

    with engine.begin() as db:
        db.execute(text("UPDATE audit_log SET summary = '登录 X' WHERE id = 2"))
    with write_session(engine) as session:
        assert [(p.kind, p.row_id) for p in verify_chain(session, keys).problems] == [("edited", 2)]
    engine.dispose()


def test_an_inserted_row_with_the_next_link_rewritten_is_named(office: Path) -> None:
    """The insider also points the next row's prev_hash at the forged row (but cannot
    re-seal it): the forged row is still named inserted, the next one relinked."""
    with engine().begin() as db:
        db.execute(text("UPDATE audit_log SET id = -id WHERE id >= 6"))
        db.execute(text("UPDATE audit_log SET id = 1 - id WHERE id < 0"))
    with write_session(engine()) as session:
        before, after = session.get(AuditRecord, 5), session.get(AuditRecord, 7)
        assert before is not None and after is not None
        forged = AuditRecord(
            id=6,
            at=before.at,
            kind="login",
            actor_id="admin",
            prev_hash=before.row_hash,
            row_hash="",
            key_id=before.key_id,
        )
        forged.row_hash = row_digest(before.row_hash, _content(forged))
        after.prev_hash = forged.row_hash
        session.add(forged)
        session.add(after)
    assert kinds(verify())[:2] == [("inserted", 6, None), ("rechained", 7, None)]


def test_a_tail_re_chained_as_unkeyed_rows_is_one_problem(office: Path) -> None:
    with write_session(engine()) as session:
        rows = list(session.exec(select(AuditRecord).order_by(AuditRecord.id)))  # type: ignore[arg-type]
        prev = rows[7].row_hash
        for row in rows[8:]:
            row.key_id = None
            row.prev_hash = prev
            row.row_hash = row_digest(prev, _content(row))
            prev = row.row_hash
            session.add(row)
    assert kinds(verify())[0] == ("unkeyed", 9, 12)


def test_rows_sealed_with_a_rotated_audit_key_still_verify(office: Path) -> None:
    from runtime.keys import rotate

    old = current_keys().active_kid
    new = rotate(keys_dir(get_settings()), "audit")
    with write_session(engine()) as session:
        append(session, [AuditEntry(at=datetime.now(UTC), kind="login", actor_id="admin")])
    with write_session(engine()) as session:
        last = session.exec(select(AuditRecord).order_by(AuditRecord.id.desc())).first()  # type: ignore[union-attr]
        assert last is not None and last.key_id == new != old
    assert verify()["problems"] == []
