"""The sign-in service over real HTTP: the only holder of the private signing key.

A desk whose keys folder has no private key still signs in (``onechain login`` asks the
service) and acts; it cannot mint a token itself. Wrong passwords are throttled per
person and per source, a person is locked out after many until an administrator
unlocks, and every refusal, lock-out and unlock is on the audit trail.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from readmodel.audit import AuditRecord
from readmodel.database import read_session, ready_engine
from runtime.keys import keys_dir, load_signing_keys
from runtime.settings import get_settings
from tests.test_users_cli import office, run, secret_in, sign_in  # noqa: F401  (fixture)
from trust import accounts
from trust.action_proof import SessionKey
from trust.authority import authority_from_settings
from trust.signin_service import RunningService, start_in_thread
from trust.throttle import FREE_FAILURES, LOCK_AFTER, SignInThrottle, SignInThrottled
from trust.tokens import read_claims

pytestmark = pytest.mark.insider


@dataclass
class Office:
    folder: Path
    service: RunningService


@pytest.fixture
def signin_office(office: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Office]:  # noqa: F811
    """An office whose own sign-in service holds the private key, bound at start."""
    assert run("db", "upgrade").exit_code == 0
    service = start_in_thread(
        (lambda authority: lambda: authority)(authority_from_settings()), "127.0.0.1", 0
    )
    monkeypatch.setenv("ONECHAIN_SIGNIN_URL", service.url)
    get_settings.cache_clear()
    try:
        yield Office(office, service)
    finally:
        service.stop()


def _post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object], dict[str, str]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read()), dict(refused.headers)


def _bootstrap_admin() -> str:
    first = run("users", "bootstrap")
    assert first.exit_code == 0, first.output
    password = secret_in(first)
    assert sign_in("admin", password, "admin-password-2026").exit_code == 0
    return "admin-password-2026"


def _audit_kinds() -> list[str]:
    engine = ready_engine(get_settings().resolved_database_url)
    with read_session(engine) as session:
        return [r.kind for r in session.exec(select(AuditRecord).order_by(AuditRecord.id))]


def test_a_desk_without_the_private_key_signs_in_and_cannot_mint(
    signin_office: Office,
) -> None:
    password = _bootstrap_admin()
    # The desk's keys folder loses its private signing key: only the service has it.
    private = next((keys_dir(get_settings()) / "signing").glob("*.pem"))
    private.unlink()
    desk_keys = load_signing_keys(keys_dir(get_settings()))
    assert desk_keys.private_key is None
    with pytest.raises(accounts.AccountError, match="no private signing key"):
        accounts.sign_session(
            ready_engine(get_settings().resolved_database_url),
            desk_keys,
            user_id="admin",
            name="x",
            grants=["administrator"],
            kind="person",
            lifetime=timedelta(hours=1),
            session_key=SessionKey.generate().public_text,
        )
    result = sign_in("admin", password)
    assert result.exit_code == 0, result.output
    stored = json.loads((signin_office.folder / "session.json").read_text())
    assert read_claims(stored["token"]).cnf == SessionKey.from_text(stored["key"]).public_text
    # An administrator's command verifies the session with public keys alone.
    listed = run("users", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert "login" in _audit_kinds()


def test_a_session_key_that_is_not_a_key_is_refused_naming_the_field(
    signin_office: Office,
) -> None:
    _bootstrap_admin()
    status, body, _ = _post(
        f"{signin_office.service.url}/v1/sessions",
        {"user_id": "admin", "password": "admin-password-2026", "session_key": "nope"},
    )
    assert status == 403 and "session_key" in str(body["error"])
    status, body, _ = _post(f"{signin_office.service.url}/v1/sessions", {"user_id": "admin"})
    assert status == 400 and "password" in str(body["error"])


def test_wrong_passwords_back_off_then_the_right_one_works(signin_office: Office) -> None:
    password = _bootstrap_admin()
    url = f"{signin_office.service.url}/v1/sessions"
    key = SessionKey.generate().public_text
    for _ in range(FREE_FAILURES):
        status, body, _ = _post(url, {"user_id": "admin", "password": "wrong", "session_key": key})
        assert status == 401, body
    # Now even the right password waits: nothing is checked during the backoff.
    status, body, headers = _post(
        url, {"user_id": "admin", "password": password, "session_key": key}
    )
    assert status == 429 and "秒后再试" in str(body["error"]), body
    assert int(headers["Retry-After"]) >= 1
    time.sleep(float(body["retry_after"]) + 0.2)  # type: ignore[arg-type]
    status, body, _ = _post(url, {"user_id": "admin", "password": password, "session_key": key})
    assert status == 200 and read_claims(str(body["token"])).sub == "admin"
    kinds = _audit_kinds()
    assert kinds.count("login_refused") == FREE_FAILURES and "login_throttled" in kinds


def test_many_failures_lock_a_person_out_until_an_administrator_unlocks(
    signin_office: Office,
) -> None:
    password = _bootstrap_admin()
    added = run("users", "add", "li.coord", "--name", "李协调", "--role", "coordinator")
    assert added.exit_code == 0, added.output
    engine = ready_engine(get_settings().resolved_database_url)
    throttle = SignInThrottle(engine)
    start = datetime.now(UTC) - timedelta(days=1)
    outcome = None
    for attempt in range(LOCK_AFTER):  # spread out: the backoff never stops them
        outcome = throttle.failed("li.coord", "10.0.0.9", now=start + timedelta(hours=attempt))
    assert outcome is not None and outcome.locked_now
    with pytest.raises(SignInThrottled, match="锁定") as locked:
        throttle.check("li.coord", "127.0.0.9")  # another source: the person is locked
    assert locked.value.retry_after is None
    refused = sign_in("li.coord", "whatever-it-is")
    assert refused.exit_code == 2 and "锁定" in refused.output

    assert sign_in("admin", password).exit_code == 0
    unlocked = run("users", "unlock", "li.coord")
    assert unlocked.exit_code == 0 and "已解除" in unlocked.output
    throttle.check("li.coord", "10.0.0.9")  # nothing left to wait for
    assert "login_unlocked" in _audit_kinds()


def test_login_says_where_it_looked_when_the_service_is_down(
    office: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ONECHAIN_SIGNIN_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    result = sign_in("admin", "whatever-password")
    assert result.exit_code == 3
    assert "http://127.0.0.1:9" in result.output and "onechain up" in result.output


def _audit_trail() -> list[AuditRecord]:
    engine = ready_engine(get_settings().resolved_database_url)
    with read_session(engine) as session:
        return list(session.exec(select(AuditRecord).order_by(AuditRecord.id)))


def test_a_refused_sign_in_records_only_a_user_id_that_passed_validation(
    signin_office: Office,
) -> None:
    """Under load a password typed ahead once landed in the user-id field (issue 26): a
    refusal must keep nothing typed but a well-formed id of a real account."""
    _bootstrap_admin()
    url = f"{signin_office.service.url}/v1/sessions"
    key = SessionKey.generate().public_text
    fragment = "admin-pass"  # what the user-id field holds when a password crossed over
    typed_ids = [
        "admin s3cr",  # a space: not a well-formed id
        f"nobody{fragment}",  # well formed, names nobody
    ]
    before = len(_audit_trail())
    for typed in typed_ids:
        status, body, _ = _post(url, {"user_id": typed, "password": "x", "session_key": key})
        assert status == 401, body
    status, body, _ = _post(url, {"user_id": "admin", "password": "wrong", "session_key": key})
    assert status == 401, body
    refusals = [r for r in _audit_trail()[before:] if r.kind.startswith("login")]
    assert [r.actor_id for r in refusals] == ["<invalid id>", "<unknown id>", "admin"]
    written = json.dumps([[r.actor_id, r.summary, r.data] for r in refusals], ensure_ascii=False)
    assert "s3cr" not in written and fragment not in written
