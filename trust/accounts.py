"""Managing people and signing them in: the operations behind ``onechain users``,
``login`` and ``logout``.

Signing in needs the deployment's private signing key and the shared database; on the
embedded default both are in the data folder. Every operation here is recorded in the
audit trail by its caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from domain.roles import Grant, Role
from readmodel import accounts as store
from readmodel.database import read_session, write_session
from runtime.keys import SigningKeys
from trust.action_proof import check_public_key_text
from trust.directory import refresh_shared
from trust.passwords import (
    check_new_password,
    hash_secret,
    one_time_password,
    service_key,
    split_service_key,
    verify_secret,
)
from trust.tokens import Claims, issue_token, read_claims

#: Lifetime of a service account's token: batch jobs mint a fresh one as they go.
SERVICE_TOKEN_LIFETIME = timedelta(hours=1)
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class AccountError(Exception):
    """A refused account operation; the message is fit to show the person."""


@dataclass(frozen=True)
class Session:
    token: str
    claims: Claims


def parse_grants(
    labels: Sequence[str], *, service: bool, departments: set[str] | None = None
) -> list[str]:
    """Validated, de-duplicated grant labels (``reviewer:fire``, ``coordinator`` ...);
    departments named must be in ``departments`` (the office's, from the database)."""
    known = departments if departments is not None else known_departments()
    grants: list[str] = []
    for label in labels:
        try:
            grant = Grant.parse(label)
        except ValueError as error:
            raise AccountError(f"role {label!r}: {error}") from None
        if grant.department is not None and grant.department not in known:
            raise AccountError(
                f"role {label!r}: unknown department {grant.department!r} "
                "(see `onechain departments list`)"
            )
        if grant.role is Role.SYSTEM and not service:
            raise AccountError("role system is only for service accounts (--service)")
        if grant.label() not in grants:
            grants.append(grant.label())
    if not grants:
        raise AccountError("give at least one role, e.g. --role coordinator")
    return grants


def known_departments() -> set[str]:
    """The built-in department codes (when no database is at hand)."""
    from domain.departments import DEPARTMENTS

    return set(DEPARTMENTS)


def office_departments(engine: Engine) -> set[str]:
    """The office's department codes (the database's table, seeded with the built-in
    list; ``onechain departments add``)."""
    from readmodel.departments import department_codes

    return department_codes(engine)


def _check_user_id(user_id: str) -> None:
    import re

    if not re.match(USER_ID_PATTERN, user_id):
        raise AccountError(
            f"user id {user_id!r}: 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )


def add_user(
    engine: Engine,
    *,
    user_id: str,
    name: str,
    grants: Sequence[str],
    service: bool = False,
    by: str,
) -> str:
    """Create a person (returns a one-time password) or a service account (returns its
    API key). Either is shown once and stored only as a hash."""
    _check_user_id(user_id)
    name = name.strip()
    if not name or len(name) > 64:
        raise AccountError("name: 1-64 characters")
    labels = parse_grants(grants, service=service, departments=office_departments(engine))
    secret = service_key(user_id) if service else one_time_password()
    try:
        with write_session(engine) as session:
            store.add_user(
                session,
                user_id=user_id,
                name=name,
                grants=labels,
                password_hash=hash_secret(secret),
                kind=store.SERVICE if service else store.PERSON,
                must_change_password=not service,
                by=by,
            )
    except store.UserExists as exists:
        raise AccountError(str(exists)) from None
    refresh_shared(engine)
    return secret


def bootstrap(engine: Engine, *, user_id: str, name: str) -> str:
    """The first administrator, only while there is none; returns a one-time password."""
    with read_session(engine) as session:
        if store.has_administrator(session):
            raise AccountError(
                "an administrator already exists: sign in as one and use `onechain users add`"
            )
    return add_user(
        engine, user_id=user_id, name=name, grants=[Role.ADMINISTRATOR.value], by="bootstrap"
    )


def update(engine: Engine, user_id: str, *, by: str, **changes: object) -> store.UserRecord:
    try:
        with write_session(engine) as session:
            record = store.update_user(session, user_id, by, **changes)
            session.flush()
            session.expunge(record)
    except store.UnknownUser as unknown:
        raise AccountError(str(unknown)) from None
    refresh_shared(engine)
    return record


def reset_password(engine: Engine, user_id: str, *, by: str) -> str:
    with read_session(engine) as session:
        try:
            kind = store.get_user(session, user_id).kind
        except store.UnknownUser as unknown:
            raise AccountError(str(unknown)) from None
    secret = service_key(user_id) if kind == store.SERVICE else one_time_password()
    update(
        engine,
        user_id,
        by=by,
        password_hash=hash_secret(secret),
        must_change_password=kind != store.SERVICE,
    )
    return secret


def _start_session(
    engine: Engine,
    keys: SigningKeys,
    record: store.UserRecord,
    lifetime: timedelta,
    session_key: str,
) -> Session:
    return sign_session(
        engine,
        keys,
        user_id=record.user_id,
        name=record.name,
        grants=list(record.grants),
        kind=record.kind,
        lifetime=lifetime,
        session_key=session_key,
    )


def sign_session(
    engine: Engine,
    keys: SigningKeys,
    *,
    user_id: str,
    name: str,
    grants: list[str],
    kind: str,
    lifetime: timedelta,
    session_key: str,
) -> Session:
    """Sign a token bound to ``session_key`` (the public half of the key pair the
    signing-in client made: only its holder can act with the token, see
    ``trust.action_proof``) and record its session (so ``logout`` ends it everywhere)."""
    try:
        check_public_key_text(session_key)
    except ValueError as error:
        raise AccountError(str(error)) from None
    if keys.private_key is None:
        raise AccountError(
            "this machine has no private signing key, so it cannot sign anyone in "
            "(run `onechain keys init` on the embedded default, or sign in where the key is)"
        )
    token, claims = issue_token(
        keys.private_key,
        keys.active_kid,
        user_id=user_id,
        name=name,
        grants=grants,
        kind=kind,
        lifetime=lifetime,
        session_key=session_key,
    )
    with write_session(engine) as session:
        store.record_session(
            session,
            jti=claims.jti,
            user_id=user_id,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
        )
    return Session(token=token, claims=claims)


WRONG_CREDENTIALS = "用户名或密码错误（wrong user id or password）"


def login(
    engine: Engine,
    keys: SigningKeys,
    *,
    user_id: str,
    password: str,
    lifetime: timedelta,
    session_key: str,
    new_password: str | None = None,
) -> Session:
    """A signed session for a person whose password matches. A one-time password must
    be replaced (``new_password``) at the first sign-in."""
    with read_session(engine) as session:
        record = session.get(store.UserRecord, user_id)
        if record is not None:
            session.expunge(record)
    if record is None or record.kind != store.PERSON:
        verify_secret(None, password)  # same work either way: no user-id probing by timing
        raise AccountError(WRONG_CREDENTIALS)
    if not verify_secret(record.password_hash, password):
        raise AccountError(WRONG_CREDENTIALS)
    if not record.enabled:
        raise AccountError(f"用户 {user_id} 已停用（user disabled）")
    if record.must_change_password:
        if not new_password:
            raise AccountError(
                "首次登录须设置新密码（a one-time password must be changed: --new-password）"
            )
        set_password(engine, user_id, new_password)
    return _start_session(engine, keys, record, lifetime, session_key)


def account_exists(engine: Engine, user_id: str) -> bool:
    """Whether ``user_id`` names an account (a person or a service)."""
    with read_session(engine) as session:
        return session.get(store.UserRecord, user_id) is not None


def set_password(engine: Engine, user_id: str, new_password: str) -> None:
    problem = check_new_password(new_password)
    if problem:
        raise AccountError(problem)
    update(
        engine,
        user_id,
        by=user_id,
        password_hash=hash_secret(new_password),
        must_change_password=False,
    )


def service_login(engine: Engine, keys: SigningKeys, api_key: str, session_key: str) -> Session:
    """A short-lived token for a service account's API key (batch jobs, outside systems)."""
    parts = split_service_key(api_key)
    if parts is None:
        raise AccountError("ONECHAIN_API_KEY is not a onechain service key (oc1.<user>.<secret>)")
    user_id, secret = parts
    with read_session(engine) as session:
        record = session.get(store.UserRecord, user_id)
        if record is not None:
            session.expunge(record)
    if (
        record is None
        or record.kind != store.SERVICE
        or not verify_secret(record.password_hash, secret)
    ):
        raise AccountError("服务密钥无效（invalid service key）")
    if not record.enabled:
        raise AccountError(f"服务账号 {user_id} 已停用（service account disabled）")
    return _start_session(engine, keys, record, SERVICE_TOKEN_LIFETIME, session_key)


def logout(engine: Engine, token: str) -> str:
    """End the session: the token is refused from now on, on every worker."""
    claims = read_claims(token)
    with write_session(engine) as session:
        store.revoke_session(session, claims.jti)
    refresh_shared(engine)
    return claims.sub


def expires_soon(claims: Claims, within: timedelta, now: datetime | None = None) -> bool:
    return claims.expires_at - (now or datetime.now(UTC)) < within
