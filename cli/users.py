"""``onechain users ...`` (an administrator manages the people who work cases) and
``onechain login`` / ``logout`` / ``whoami``.

People live in the shared database. A new person gets a one-time password, printed
once, that they replace at their first sign-in; a service account (``--service``) gets
an API key for batch jobs (``ONECHAIN_API_KEY``). Disabling someone takes effect on
their next action on every worker within seconds, even on a session already open.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from cli.output import EXIT_UNREACHABLE, EXIT_USAGE, emit_json, fail, guarded, message, note, table
from readmodel import accounts as store

app = typer.Typer(
    help="Manage the people who work cases (an administrator's session is required).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
UserArg = Annotated[str, typer.Argument(metavar="USER", help="User id, e.g. wang.fire")]
RolesOption = Annotated[
    list[str],
    typer.Option(
        "--role",
        help="A role, repeatable: window_clerk, reviewer:<department>, coordinator, "
        "supervisor, administrator (system: service accounts only).",
    ),
]


def _engine() -> Any:
    from readmodel.database import ready_engine
    from runtime.settings import get_settings

    return ready_engine(get_settings().resolved_database_url)


def _keys() -> Any:
    from runtime.keys import keys_dir, load_signing_keys
    from runtime.settings import get_settings

    try:
        return load_signing_keys(keys_dir(get_settings()))
    except Exception as error:  # KeystoreError and unreadable key files alike
        fail(str(error), EXIT_USAGE)


def require_role(*roles: str) -> str:
    """The signed-in person's user id, verified like the worker does (signature, expiry,
    enabled, session not ended), if they hold one of ``roles``."""
    from cli.actor import cli_credentials
    from trust import session_file
    from trust.directory import UserDirectory
    from trust.tokens import InvalidToken, read_claims
    from trust.verifier import IdentityVerifier, NotPermitted

    held: list[str] = []
    stored = session_file.load()
    if stored is not None:
        held = read_claims(stored.token).grants
    role = next((r for r in roles if r in held), roles[0])
    credentials = cli_credentials(role)
    directory = UserDirectory.for_engine(_engine())
    directory.refresh()
    verifier = IdentityVerifier(_keys().public_keys, directory)
    try:
        actor = verifier.verify(credentials.token, credentials.grant.label(), datetime.now(UTC))
    except (InvalidToken, NotPermitted) as refused:
        fail(str(refused), EXIT_USAGE)
    return actor.user_id


def require_administrator() -> str:
    """The signed-in administrator's user id."""
    return require_role("administrator")


def _account_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from trust.accounts import AccountError

    try:
        return fn(*args, **kwargs)
    except AccountError as error:
        fail(str(error), EXIT_USAGE)


def _audit(kind: str, actor_id: str, summary: str, **data: Any) -> None:
    from trust.audit_log import record_account_event

    record_account_event(_engine(), kind, actor_id, summary, data)


def _public(record: store.UserRecord) -> dict[str, Any]:
    return {
        "user_id": record.user_id,
        "name": record.name,
        "kind": record.kind,
        "roles": list(record.grants),
        "enabled": record.enabled,
        "must_change_password": record.must_change_password,
        "updated_at": record.updated_at,
        "updated_by": record.updated_by,
    }


@app.command("bootstrap")
@guarded
def bootstrap(
    user_id: Annotated[str, typer.Option("--user", help="The administrator's user id.")] = "admin",
    name: Annotated[str, typer.Option(help="The administrator's name.")] = "系统管理员",
    restore: Annotated[
        bool,
        typer.Option(
            "--restore",
            help="This is a restore: bootstrap even though Temporal holds cases or the audit "
            "trail has rows (recorded in the audit trail).",
        ),
    ] = False,
) -> None:
    """Create the first administrator (only while there is none, and only on a new
    installation unless --restore); prints a one-time password.

    Refuses when Temporal already holds cases or the audit trail has rows: the read
    model was lost, and whoever bootstraps it first would become administrator.
    """
    from readmodel.database import read_session
    from trust.accounts import bootstrap as make_first
    from trust.bootstrap_guard import past_life

    engine = _engine()
    with read_session(engine) as session:
        has_administrator = store.has_administrator(session)
    found = None if has_administrator else past_life(engine)  # else refused just below
    if found is not None and not found.empty and not restore:
        fail(f"拒绝创建首个管理员 (refused): {found.refusal()}", EXIT_USAGE)
    password = _account_call(make_first, engine, user_id=user_id, name=name)
    extra: dict[str, Any] = {}
    if restore and found is not None:
        extra = {
            "restore": True,
            "temporal_cases": found.temporal_cases,
            "audit_rows": found.audit_rows,
        }
    _audit("user_bootstrap", "bootstrap", f"创建首个管理员 {user_id}", user=user_id, **extra)
    message(f"管理员 {user_id} 已创建。一次性密码（只显示这一次）：{password}")
    message(f"登录：onechain login {user_id}（首次登录须设置新密码）")


@app.command("add")
@guarded
def add(
    user_id: UserArg,
    name: Annotated[str, typer.Option(help="Full name as shown in case histories.")],
    role: RolesOption,
    service: Annotated[
        bool, typer.Option("--service", help="A service account (API key, no password).")
    ] = False,
) -> None:
    """Add a person (prints a one-time password) or a service account (prints its API key)."""
    from trust.accounts import add_user

    admin = require_administrator()
    secret = _account_call(
        add_user, _engine(), user_id=user_id, name=name, grants=role, service=service, by=admin
    )
    _audit("user_added", admin, f"添加用户 {user_id}", user=user_id, roles=role, service=service)
    if service:
        message(f"服务账号 {user_id} 已创建。API 密钥（只显示这一次）：{secret}")
        message("批处理使用：export ONECHAIN_API_KEY=<密钥>")
    else:
        message(f"用户 {user_id} 已创建。一次性密码（只显示这一次）：{secret}")


@app.command("list")
@guarded
def list_users(as_json: JsonOption = False) -> None:
    """Everyone who may sign in, with roles and state."""
    from readmodel.database import read_session

    require_administrator()
    with read_session(_engine()) as session:
        users = [_public(u) for u in store.list_users(session)]
    if as_json:
        emit_json(users)
        return
    table(
        "用户",
        ["用户", "姓名", "类型", "角色", "状态"],
        [
            [
                u["user_id"],
                u["name"],
                u["kind"],
                ", ".join(u["roles"]),
                "启用" if u["enabled"] else "停用",
            ]
            for u in users
        ],
    )


@app.command("show")
@guarded
def show(user_id: UserArg, as_json: JsonOption = False) -> None:
    """One user's roles and state."""
    from readmodel.database import read_session

    require_administrator()
    with read_session(_engine()) as session:
        try:
            user = _public(store.get_user(session, user_id))
        except store.UnknownUser as unknown:
            fail(str(unknown), EXIT_USAGE)
    if as_json:
        emit_json(user)
        return
    for key, value in user.items():
        message(f"{key}: {', '.join(value) if isinstance(value, list) else value}")


def _set(user_id: str, kind: str, summary: str, **changes: Any) -> None:
    from trust.accounts import update

    admin = require_administrator()
    if kind == "user_disabled" and user_id == admin:
        fail("you cannot disable yourself (another administrator can)", EXIT_USAGE)
    _account_call(update, _engine(), user_id, by=admin, **changes)
    _audit(kind, admin, summary, user=user_id, **{k: v for k, v in changes.items()})
    message(summary)


@app.command("disable")
@guarded
def disable(user_id: UserArg) -> None:
    """Stop someone acting: refused on their next action, on every worker, within seconds."""
    _set(user_id, "user_disabled", f"用户 {user_id} 已停用", enabled=False)


@app.command("enable")
@guarded
def enable(user_id: UserArg) -> None:
    """Let a disabled person act again."""
    _set(user_id, "user_enabled", f"用户 {user_id} 已启用", enabled=True)


@app.command("unlock")
@guarded
def unlock(user_id: UserArg) -> None:
    """Let someone sign in again after too many wrong passwords locked them out."""
    from trust.throttle import SignInThrottle

    by = require_administrator()
    if not SignInThrottle(_engine()).unlock(user_id):
        message(f"用户 {user_id} 未被锁定（not locked）")
        return
    _audit("login_unlocked", by, f"解除登录锁定：{user_id}", user_id=user_id)
    message(f"已解除登录锁定：{user_id}")


@app.command("set-roles")
@guarded
def set_roles(user_id: UserArg, role: RolesOption) -> None:
    """Replace someone's roles (takes effect on their next action)."""
    from readmodel.database import read_session
    from trust.accounts import parse_grants

    with read_session(_engine()) as session:
        try:
            service = store.get_user(session, user_id).kind == store.SERVICE
        except store.UnknownUser as unknown:
            fail(str(unknown), EXIT_USAGE)
    from trust.accounts import office_departments

    grants = _account_call(
        parse_grants, role, service=service, departments=office_departments(_engine())
    )
    _set(user_id, "user_roles_set", f"用户 {user_id} 的角色：{', '.join(grants)}", grants=grants)


@app.command("reset-password")
@guarded
def reset_password(user_id: UserArg) -> None:
    """A new one-time password (or API key for a service account), printed once."""
    from trust.accounts import reset_password as reset

    admin = require_administrator()
    secret = _account_call(reset, _engine(), user_id, by=admin)
    _audit("user_password_reset", admin, f"重置用户 {user_id} 的密码", user=user_id)
    message(f"用户 {user_id} 的新一次性凭据（只显示这一次）：{secret}")


# ------------------------------------------------------------ login / logout
def _read_secret(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            fail(f"{prompt}: nothing on standard input", EXIT_USAGE)
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        fail(f"{prompt}: no terminal to ask on; use --password-stdin", EXIT_USAGE)
    return typer.prompt(prompt, hide_input=True)


@guarded
def login(
    user_id: Annotated[str, typer.Argument(metavar="USER", help="Your user id.")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password (and, at a first sign-in, the new one on the next line) "
            "from standard input.",
        ),
    ] = False,
    role: Annotated[
        str | None,
        typer.Option("--role", help="The role to act in by default, if you hold several."),
    ] = None,
    hours: Annotated[
        float | None, typer.Option(help="Session length in hours (default 8, at most 12).")
    ] = None,
) -> None:
    """Sign in through the sign-in service ($ONECHAIN_SIGNIN_URL; `onechain up` runs one):
    a signed session for 8 hours, kept in your config folder (mode 0600)."""
    from domain.roles import Grant
    from trust import session_file
    from trust.signin_client import SignInFailed, SignInUnavailable, sign_in
    from trust.tokens import read_claims

    password = _read_secret("密码 password", password_stdin)
    try:
        try:
            signed = sign_in(user_id, password, hours=hours)
        except SignInFailed as refused:
            if not refused.needs_new_password:
                fail(str(refused), EXIT_USAGE)
            note("首次登录：请设置新密码（at least 10 characters）")
            new_password = _read_secret("新密码 new password", password_stdin)
            if not password_stdin and _read_secret("再次输入 again", False) != new_password:
                fail("两次输入的新密码不一致（passwords differ）", EXIT_USAGE)
            signed = sign_in(user_id, password, new_password=new_password, hours=hours)
    except SignInFailed as refused:
        fail(str(refused), EXIT_USAGE)
    except SignInUnavailable as unavailable:
        fail(str(unavailable), EXIT_UNREACHABLE)
    claims = read_claims(signed.token)
    grant = None
    if role is not None:
        try:
            grant = Grant.parse(role).label()
        except ValueError as error:
            fail(f"--role {role!r}: {error}", EXIT_USAGE)
        if grant not in claims.grants:
            fail(f"--role {role}: 你没有这个角色（your roles: {', '.join(claims.grants)})")
    path = session_file.save(
        session_file.StoredSession(token=signed.token, grant=grant, key=signed.key.to_text())
    )
    expires = claims.expires_at.astimezone().strftime("%Y-%m-%d %H:%M")
    message(
        f"已登录：{claims.name}（{user_id}），角色 {', '.join(claims.grants)}；"
        f"会话至 {expires}（{path}）"
    )


@guarded
def logout() -> None:
    """End your session: the token is refused from now on, on every worker."""
    from trust import accounts, session_file

    stored = session_file.load()
    if stored is None:
        message("未登录（not signed in）")
        return
    user_id = accounts.logout(_engine(), stored.token)
    session_file.clear()
    _audit("logout", user_id, f"退出登录：{user_id}")
    message(f"已退出：{user_id}")


@guarded
def whoami(
    as_json: JsonOption = False,
    token: Annotated[
        bool,
        typer.Option("--token", help="Print only the session token (for the codec server)."),
    ] = False,
) -> None:
    """Who this shell is signed in as, with which roles, until when."""
    import os

    from trust import session_file
    from trust.tokens import read_claims

    if os.environ.get("ONECHAIN_API_KEY"):
        from cli.actor import cli_credentials

        claims = read_claims(cli_credentials().token)
        grant = None
    else:
        stored = session_file.load()
        if stored is None:
            fail("未登录：请先运行 onechain login（not signed in）", EXIT_USAGE)
        claims, grant = read_claims(stored.token), stored.grant
    if token:
        from cli.actor import cli_credentials

        typer.echo(cli_credentials(grant).token)
        return
    info = {
        "user_id": claims.sub,
        "name": claims.name,
        "kind": claims.kind,
        "roles": claims.grants,
        "acting_role": grant,
        "expires_at": claims.expires_at,
    }
    if as_json:
        emit_json(info)
        return
    expires = claims.expires_at.astimezone().strftime("%Y-%m-%d %H:%M")
    message(f"{claims.name}（{claims.sub}），角色 {', '.join(claims.grants)}，会话至 {expires}")
