"""Sign-in throttling: guessing passwords gets slower with every wrong one, per person
and per source, and a person is locked out after many until an administrator unlocks.

* after :data:`FREE_FAILURES` consecutive failures of a key, each further attempt must
  wait ``2 ** (failures - FREE_FAILURES)`` seconds (at most :data:`MAX_BACKOFF`) after
  the last failure; an attempt too early is refused without checking the password;
* a person (key ``user:<id>``) with :data:`LOCK_AFTER` consecutive failures is locked
  out: every sign-in is refused, even with the right password, until ``onechain users
  unlock``; the lock-out is audited by the caller;
* a right password clears the person's and the source's failures.

The counts live in the shared database (``readmodel.accounts.SignInFailures``), so
every sign-in service of a deployment agrees and a restart forgets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from readmodel.accounts import SignInFailures
from readmodel.database import write_session

FREE_FAILURES = 3
MAX_BACKOFF = timedelta(minutes=15)
LOCK_AFTER = 10


class SignInThrottled(Exception):
    """Too many failures: the message says how long to wait, or that an administrator
    must unlock."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds; None: locked until unlocked


def person_key(user_id: str) -> str:
    return f"user:{user_id}"


def source_key(source: str) -> str:
    return f"source:{source}"


def _backoff(failures: int) -> timedelta:
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_BACKOFF)


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


@dataclass(frozen=True)
class FailureOutcome:
    """What a failure did: whether it just locked the person out."""

    locked_now: bool
    failures: int


class SignInThrottle:
    """Checks and counts sign-in attempts against the shared database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def check(self, user_id: str, source: str, now: datetime | None = None) -> None:
        """Raise :class:`SignInThrottled` if this attempt must not be checked now."""
        now = now or datetime.now(UTC)
        with write_session(self._engine) as session:
            person = session.get(SignInFailures, person_key(user_id))
            origin = session.get(SignInFailures, source_key(source))
            for row in (person, origin):
                if row is not None:
                    session.expunge(row)
        if person is not None and person.locked:
            raise SignInThrottled(
                f"用户 {user_id} 因多次密码错误已被锁定，请联系系统管理员解锁"
                f"（locked after {person.failures} failed sign-ins: "
                f"`onechain users unlock {user_id}`）",
                None,
            )
        waits = [
            _aware(row.blocked_until) - now
            for row in (person, origin)
            if row is not None and row.blocked_until is not None
        ]
        wait = max(waits, default=timedelta(0))
        if wait > timedelta(0):
            seconds = max(1, int(wait.total_seconds() + 0.999))
            raise SignInThrottled(
                f"密码错误次数过多，请 {seconds} 秒后再试（too many failed sign-ins: "
                f"retry in {seconds} s）",
                float(seconds),
            )

    def failed(self, user_id: str, source: str, now: datetime | None = None) -> FailureOutcome:
        """Count a wrong password (or unknown user) for the person and the source."""
        now = now or datetime.now(UTC)
        locked_now = False
        count = 0
        with write_session(self._engine) as session:
            for key, is_person in ((person_key(user_id), True), (source_key(source), False)):
                row = session.get(SignInFailures, key) or SignInFailures(
                    key=key, failures=0, last_failure_at=now
                )
                row.failures += 1
                row.last_failure_at = now
                row.blocked_until = now + _backoff(row.failures)
                if is_person:
                    count = row.failures
                    if row.failures >= LOCK_AFTER and not row.locked:
                        row.locked = True
                        locked_now = True
                session.add(row)
        return FailureOutcome(locked_now=locked_now, failures=count)

    def succeeded(self, user_id: str, source: str) -> None:
        with write_session(self._engine) as session:
            for key in (person_key(user_id), source_key(source)):
                row = session.get(SignInFailures, key)
                if row is not None:
                    session.delete(row)

    def unlock(self, user_id: str) -> bool:
        """Clear a person's failures and lock-out; False if there was nothing to clear."""
        with write_session(self._engine) as session:
            row = session.get(SignInFailures, person_key(user_id))
            if row is None:
                return False
            session.delete(row)
        return True
