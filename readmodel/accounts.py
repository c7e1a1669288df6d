"""People and sessions: who may sign in, with which roles, and which sessions ended.

These rows are not derived from Temporal (unlike the rest of the read model): they are
the office's own records, kept in the shared database so that every worker on every
machine sees the same people (a disabled person is refused by all of them), and backed
up with it. Passwords are stored only as argon2id hashes (``trust.passwords``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, Session, SQLModel, select

from readmodel.tables import UTCDateTime

PERSON = "person"
SERVICE = "service"


class UserRecord(SQLModel, table=True):
    """One person (or service account) who acts on cases."""

    __tablename__ = "users"

    user_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=64)
    kind: str = Field(default=PERSON, max_length=16)
    grants: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    password_hash: str | None = Field(default=None, max_length=255)
    must_change_password: bool = False
    enabled: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_by: str = Field(default="", max_length=64)


class SessionRecord(SQLModel, table=True):
    """One signed session (token id ``jti``); a revoked one is refused until it expires."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_revoked", "revoked_at", "expires_at"),)

    jti: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=64)
    issued_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class UnknownUser(LookupError):
    pass


class UserExists(ValueError):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


def add_user(
    session: Session,
    *,
    user_id: str,
    name: str,
    grants: Sequence[str],
    password_hash: str,
    kind: str = PERSON,
    must_change_password: bool = True,
    by: str = "",
) -> UserRecord:
    if session.get(UserRecord, user_id) is not None:
        raise UserExists(f"user {user_id} already exists")
    now = _now()
    record = UserRecord(
        user_id=user_id,
        name=name,
        kind=kind,
        grants=list(grants),
        password_hash=password_hash,
        must_change_password=must_change_password,
        enabled=True,
        created_at=now,
        updated_at=now,
        updated_by=by,
    )
    session.add(record)
    return record


def get_user(session: Session, user_id: str) -> UserRecord:
    record = session.get(UserRecord, user_id)
    if record is None:
        raise UnknownUser(f"no user {user_id!r} (see `onechain users list`)")
    return record


def list_users(session: Session) -> list[UserRecord]:
    return list(session.exec(select(UserRecord).order_by(UserRecord.user_id)))


def has_administrator(session: Session) -> bool:
    return any("administrator" in user.grants and user.enabled for user in list_users(session))


def update_user(session: Session, user_id: str, by: str, **changes: Any) -> UserRecord:
    record = get_user(session, user_id)
    for key, value in changes.items():
        setattr(record, key, value)
    record.updated_at = _now()
    record.updated_by = by
    session.add(record)
    return record


def record_session(
    session: Session, *, jti: str, user_id: str, issued_at: datetime, expires_at: datetime
) -> None:
    session.add(SessionRecord(jti=jti, user_id=user_id, issued_at=issued_at, expires_at=expires_at))


def revoke_session(session: Session, jti: str) -> bool:
    record = session.get(SessionRecord, jti)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = _now()
    session.add(record)
    return True


@dataclass(frozen=True)
class DirectoryEntry:
    name: str
    kind: str
    grants: frozenset[str]
    enabled: bool


@dataclass(frozen=True)
class DirectorySnapshot:
    """What a worker needs to judge a token: who is enabled with which grants, and
    which sessions were ended before they expired."""

    users: dict[str, DirectoryEntry]
    revoked: frozenset[str]
    taken_at: datetime


def directory_snapshot(session: Session) -> DirectorySnapshot:
    now = _now()
    users = {
        u.user_id: DirectoryEntry(
            name=u.name, kind=u.kind, grants=frozenset(u.grants), enabled=u.enabled
        )
        for u in session.exec(select(UserRecord))
    }
    revoked = frozenset(
        session.exec(
            select(SessionRecord.jti).where(
                SessionRecord.revoked_at.is_not(None),  # type: ignore[union-attr]
                SessionRecord.expires_at > now,  # type: ignore[arg-type]
            )
        )
    )
    return DirectorySnapshot(users=users, revoked=revoked, taken_at=now)


class SignInFailures(SQLModel, table=True):
    """Consecutive failed sign-ins of one key (``user:<id>`` or ``source:<address>``),
    in the shared database so every sign-in service throttles alike and an
    administrator can unlock (``trust.throttle``)."""

    __tablename__ = "sign_in_failures"

    key: str = Field(primary_key=True, max_length=128)
    failures: int = 0
    last_failure_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    #: No attempt is checked before this instant (backoff).
    blocked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: Locked out until an administrator unlocks (people only).
    locked: bool = False
