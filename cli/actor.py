"""Who the CLI acts as: the signed-in session (``onechain login``), or a service
account's key in ``$ONECHAIN_API_KEY`` for batch jobs. Never a name typed on the
command line: the worker records who acted from the verified token alone.

``--role`` only chooses among the roles the person holds (e.g. ``reviewer:fire`` for
someone who reviews for two departments).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

from cli.output import EXIT_USAGE, fail
from domain.roles import Actor, Grant
from trust.action_proof import SessionKey
from trust.credentials import Credentials
from trust.tokens import Claims, read_claims

ROLE_HELP = (
    "Act in this role of yours, e.g. reviewer:fire (default: the role chosen at login, "
    "or your only role). Who you are comes from `onechain login` or $ONECHAIN_API_KEY."
)
#: A batch job re-signs its service token when less than this is left.
REFRESH_MARGIN = timedelta(minutes=10)

_resolved: dict[str | None, Credentials] = {}


def _service_session(api_key: str, key: SessionKey) -> tuple[str, Claims]:
    """A service account's token bound to ``key``, from the sign-in service."""
    from cli.output import EXIT_UNREACHABLE
    from trust.signin_client import SignInFailed, SignInUnavailable, sign_in_service

    try:
        token = sign_in_service(api_key, key)
    except SignInFailed as refused:
        fail(f"ONECHAIN_API_KEY: {refused}", EXIT_USAGE)
    except SignInUnavailable as unavailable:
        fail(str(unavailable), EXIT_UNREACHABLE)
    return token, read_claims(token)


def _grant_for(claims: Claims, wanted: str | None) -> Grant:
    held = ", ".join(claims.grants) or "none"
    if wanted is None:
        if len(claims.grants) != 1:
            fail(f"你有多个角色（{held}），请用 --role 选择一个（choose with --role）", EXIT_USAGE)
        wanted = claims.grants[0]
    try:
        grant = Grant.parse(wanted)
    except ValueError as error:
        fail(f"--role {wanted!r}: {error}", EXIT_USAGE)
    if grant.label() not in claims.grants:
        fail(f"--role {wanted}: 你没有这个角色（your roles: {held}）", EXIT_USAGE)
    return grant


def cli_credentials(role: str | None = None) -> Credentials:
    """The credentials of this process's signed-in person or service account."""
    if role in _resolved:
        return _resolved[role]
    from trust import session_file

    api_key = os.environ.get("ONECHAIN_API_KEY")
    if api_key:
        key = SessionKey.generate()
        token, claims = _service_session(api_key, key)
        chosen = role
    else:
        stored = session_file.load()
        if stored is None or stored.key is None:
            fail("未登录：请先运行 onechain login（not signed in）", EXIT_USAGE)
        token, claims = stored.token, read_claims(stored.token)
        key = SessionKey.from_text(stored.key)
        from trust.accounts import expires_soon

        if expires_soon(claims, timedelta(0)):
            fail("会话已过期，请重新登录：onechain login（session expired）", EXIT_USAGE)
        chosen = role or stored.grant
    credentials = Credentials(token=token, grant=_grant_for(claims, chosen), key=key)
    _resolved[role] = credentials
    return credentials


def credential_source(role: str | None = None) -> Callable[[Actor | None], Credentials]:
    """For long jobs (import, simulate): a service account's token is re-signed before it
    expires; a person's session is used as it is."""

    def source(_actor: Actor | None) -> Credentials:
        credentials = cli_credentials(role)
        if os.environ.get("ONECHAIN_API_KEY"):
            from trust.accounts import expires_soon

            if expires_soon(read_claims(credentials.token), REFRESH_MARGIN):
                _resolved.pop(role, None)
                credentials = cli_credentials(role)
        return credentials

    return source


def forget_credentials() -> None:
    """Drop what this process resolved (tests run many commands in one process)."""
    _resolved.clear()


def signed_actor(role: str | None = None) -> Actor:
    """The actor the verified token will show (for building action models)."""
    return cli_credentials(role).actor


def acting_for_each(role: str | None = None) -> Callable[[Actor | None], Credentials]:
    """For programs that act for several departments (the simulator): the grant is
    chosen per action from the actor it names, among the roles the session holds."""
    from trust.signer import ServiceCredentials

    api_key = os.environ.get("ONECHAIN_API_KEY")
    if api_key:

        def login(key: SessionKey) -> str:
            return _service_session(api_key, key)[0]

        return ServiceCredentials(login)
    from trust import session_file

    # A person's session as it is (its key cannot be renewed without a new sign-in).
    stored = session_file.load()
    if stored is None or stored.key is None:
        fail(
            "未登录：请先运行 onechain login，或设置 ONECHAIN_API_KEY（not signed in）", EXIT_USAGE
        )
    token, key = stored.token, SessionKey.from_text(stored.key)
    default = Grant.parse(role or stored.grant or read_claims(token).grants[0])

    def source(actor: Actor | None) -> Credentials:
        grant = Grant(role=actor.role, department=actor.department) if actor else default
        return Credentials(token=token, grant=grant, key=key)

    return source
