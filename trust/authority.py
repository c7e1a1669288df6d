"""The sign-in authority: the one place that turns a password or a service key into a
signed session, with the private signing key.

It throttles (``trust.throttle``), signs a token bound to the session key the client
made (``trust.action_proof``), and audits every sign-in, refusal and lock-out. The HTTP
service (``trust.signin_service``) serves it; nothing else in a deployment needs the
private key, so a desk, a worker host or a backup holds nothing that mints a token.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from runtime.keys import SigningKeys
from trust import accounts
from trust.audit_log import record_account_event
from trust.passwords import split_service_key
from trust.throttle import SignInThrottle, SignInThrottled

#: Longest session a person may ask for.
MAX_SESSION = timedelta(hours=12)


class SignInRefused(Exception):
    """A refused sign-in; ``status`` is the HTTP status that says why."""

    def __init__(
        self,
        message: str,
        status: int,
        *,
        needs_new_password: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.needs_new_password = needs_new_password
        self.retry_after = retry_after


#: A throttled attempt is audited once per person and source per this many seconds:
#: hammering a blocked sign-in must not fill the audit trail (failures themselves are
#: slowed by the backoff, so each is audited).
THROTTLED_AUDIT_SECONDS = 60.0
_throttled_audited: dict[tuple[str, str], float] = {}
_throttled_lock = threading.Lock()


def _first_throttled_in_a_while(user_id: str, source: str) -> bool:
    now = time.monotonic()
    with _throttled_lock:
        if len(_throttled_audited) > 10_000:  # bounded: forget the oldest picture
            _throttled_audited.clear()
        last = _throttled_audited.get((user_id, source))
        if last is not None and now - last < THROTTLED_AUDIT_SECONDS:
            return False
        _throttled_audited[(user_id, source)] = now
        return True


#: What a refusal records instead of what was typed as the user id when it is not a
#: well-formed id, or names nobody: under load a password typed ahead could end up in
#: the user-id field, and the audit trail must never hold a password fragment.
INVALID_ID = "<invalid id>"
UNKNOWN_ID = "<unknown id>"


@dataclass
class SignInAuthority:
    engine: Engine
    keys: SigningKeys
    session_lifetime: timedelta

    def __post_init__(self) -> None:
        self._throttle = SignInThrottle(self.engine)

    def _audit(self, kind: str, actor_id: str, summary: str, **data: object) -> None:
        record_account_event(self.engine, kind, actor_id, summary, dict(data))

    def _audited_id(self, user_id: str) -> str:
        """The user id as the audit trail and the throttle may keep it: as typed only
        when it is well formed and names an account, else a placeholder."""
        if not re.fullmatch(accounts.USER_ID_PATTERN, user_id):
            return INVALID_ID
        return user_id if accounts.account_exists(self.engine, user_id) else UNKNOWN_ID

    def _checked(self, user_id: str, source: str) -> None:
        try:
            self._throttle.check(user_id, source)
        except SignInThrottled as throttled:
            if not _first_throttled_in_a_while(user_id, source):
                raise SignInRefused(
                    str(throttled), 429, retry_after=throttled.retry_after
                ) from None
            self._audit(
                "login_throttled",
                user_id,
                f"登录被限流：{user_id}",
                source=source,
                locked=throttled.retry_after is None,
            )
            raise SignInRefused(str(throttled), 429, retry_after=throttled.retry_after) from None

    def _failed(self, user_id: str, source: str, why: str) -> None:
        outcome = self._throttle.failed(user_id, source)
        self._audit("login_refused", user_id, f"登录被拒：{user_id}", reason=why, source=source)
        if outcome.locked_now:
            self._audit(
                "login_locked",
                user_id,
                f"连续 {outcome.failures} 次登录失败，已锁定：{user_id}",
                source=source,
            )

    def login(
        self,
        user_id: str,
        password: str,
        session_key: str,
        *,
        source: str,
        new_password: str | None = None,
        hours: float | None = None,
        via: str = "login",
    ) -> accounts.Session:
        """A session for a person whose password matches; raises :class:`SignInRefused`.
        A refusal names the person only by :meth:`_audited_id`."""
        typed, user_id = user_id, self._audited_id(user_id)
        self._checked(user_id, source)
        lifetime = self.session_lifetime
        if hours is not None:
            lifetime = min(timedelta(hours=hours), MAX_SESSION)
        try:
            session = accounts.login(
                self.engine,
                self.keys,
                user_id=typed,
                password=password,
                lifetime=lifetime,
                session_key=session_key,
                new_password=new_password,
            )
        except accounts.AccountError as error:
            message = str(error)
            if "--new-password" in message:  # the one-time password was right
                raise SignInRefused(message, 409, needs_new_password=True) from None
            if message == accounts.WRONG_CREDENTIALS:
                self._failed(user_id, source, message)
                raise SignInRefused(message, 401) from None
            self._audit("login_refused", user_id, f"登录被拒：{user_id}", reason=message)
            raise SignInRefused(message, 403) from None
        self._throttle.succeeded(user_id, source)
        self._audit(
            "login",
            user_id,
            f"登录（{via}）：{session.claims.name}（{user_id}）",
            jti=session.claims.jti,
            source=source,
        )
        return session

    def service_login(self, api_key: str, session_key: str, *, source: str) -> accounts.Session:
        """A short session for a service account's key; raises :class:`SignInRefused`."""
        parts = split_service_key(api_key)
        user_id = parts[0] if parts else "?"
        self._checked(user_id, source)
        try:
            session = accounts.service_login(self.engine, self.keys, api_key, session_key)
        except accounts.AccountError as error:
            self._failed(user_id, source, str(error))
            raise SignInRefused(str(error), 401) from None
        self._throttle.succeeded(user_id, source)
        return session


def authority_from_settings() -> SignInAuthority:
    """The authority on the configured database and keys (the private signing key must
    be on this machine: ``ONECHAIN_SIGNING_PRIVATE_KEY_FILE`` or the keys folder)."""
    from readmodel.database import ready_engine
    from runtime.keys import keys_dir, load_signing_keys
    from runtime.settings import get_settings

    settings = get_settings()
    keys = load_signing_keys(keys_dir(settings))
    if keys.private_key is None:
        raise accounts.AccountError(
            "this machine has no private signing key: the sign-in service runs where it is "
            "(ONECHAIN_SIGNING_PRIVATE_KEY_FILE, or `onechain keys init` on the embedded default)"
        )
    return SignInAuthority(
        engine=ready_engine(settings.resolved_database_url),
        keys=keys,
        session_lifetime=timedelta(hours=settings.session_hours),
    )
