"""``onechain tui``: the coordinators' console (Textual), as the signed-in person.

Without a valid session the console first asks for a sign-in (the same check as
``onechain login``) and keeps the session for later commands. With
``--no-session-file`` (each browser session of ``onechain web``) it never reads or
writes the session file: it always asks, on its own first screen, and keeps the
session in memory for as long as it runs.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from cli.db import require_read_model
from cli.output import EXIT_USAGE, fail
from trust.action_proof import SessionKey
from trust.credentials import Credentials

LANG_HELP = "Interface language: zh (default) or en (default: $ONECHAIN_LANG)."
NO_SESSION_FILE_HELP = (
    "Always ask for a sign-in and keep the session in memory only: never read or write "
    "the saved session (each browser session of `onechain web` runs this way)."
)


#: The console's first screen and its refresh, shared by `tui` and `web`.
StartScreen = Annotated[
    str, typer.Option(help="First screen: overview, cases, departments or supervision.")
]
RefreshSeconds = Annotated[
    float, typer.Option(help="Seconds between live refreshes (0: only on demand).")
]


def tui(
    role: Annotated[
        str | None, typer.Option("--role", help="The role to work in, if you hold several.")
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP)] = None,
    start: StartScreen = "overview",
    refresh: RefreshSeconds = 5.0,
    no_session_file: Annotated[
        bool,
        typer.Option(
            "--no-session-file", envvar="ONECHAIN_NO_SESSION_FILE", help=NO_SESSION_FILE_HELP
        ),
    ] = False,
) -> None:
    """Watch and unblock cases in a terminal UI, as the signed-in person."""
    from tui.messages import LANGUAGES

    language = lang or os.environ.get("ONECHAIN_LANG") or "zh"
    if language not in LANGUAGES:
        fail(f"--lang {language!r}: expected one of {', '.join(LANGUAGES)}", EXIT_USAGE)
    if start not in ("overview", "cases", "departments", "supervision"):
        fail(f"--start {start!r}: expected overview, cases, departments or supervision", EXIT_USAGE)
    require_read_model(say=lambda line: typer.echo(line, err=True))
    from runtime.console_logging import console_logs_to_file
    from runtime.settings import get_settings

    # Before the first Temporal client: no log line may be written over the console.
    console_logs_to_file(get_settings().data_dir / "console.log")
    if no_session_file:
        make_sign_in_first_app(language, start=start, refresh=refresh).run()
        return
    credentials = console_credentials(role, language)
    if credentials is None:
        raise typer.Exit(0)
    make_app(credentials, language, start=start, refresh=refresh).run()


def _stored_credentials(role: str | None) -> Credentials | None:
    """The saved session's credentials if it is still valid and names a usable role."""
    from domain.roles import Grant
    from trust import session_file
    from trust.tokens import read_claims

    stored = session_file.load()
    if stored is None or stored.key is None:
        return None
    claims = read_claims(stored.token)
    if claims.expires_at <= datetime.now(UTC):
        return None
    label = role or stored.grant or (claims.grants[0] if len(claims.grants) == 1 else None)
    if label is None or label not in claims.grants:
        return None
    return Credentials(
        token=stored.token, grant=Grant.parse(label), key=SessionKey.from_text(stored.key)
    )


def console_credentials(role: str | None, language: str) -> Credentials | None:
    """A valid saved session, else the sign-in app's result (saved); None if cancelled."""
    from trust import session_file

    credentials = _stored_credentials(role)
    if credentials is not None:
        return credentials
    from tui.login import LoginApp

    signed_in = LoginApp(sign_in_with_password, lang=language).run()
    if signed_in is None:
        return None
    session_file.save(
        session_file.StoredSession(token=signed_in.token, grant=signed_in.grant, key=signed_in.key)
    )
    return _credentials_of(signed_in)


def _credentials_of(signed: Any) -> Credentials:
    """Credentials from the sign-in screen's result (``tui.login.SignedIn``)."""
    from domain.roles import Grant

    return Credentials(
        token=signed.token, grant=Grant.parse(signed.grant), key=SessionKey.from_text(signed.key)
    )


def sign_in_with_password(
    user_id: str, password: str, new_password: str | None
) -> tuple[str, list[str], str]:
    """The console's sign-in, through the sign-in service, for a session key made here
    (returned as text, kept by this process only)."""
    from trust.signin_client import SignInFailed, SignInUnavailable, sign_in
    from trust.tokens import read_claims
    from tui.login import SignInRefused

    try:
        signed = sign_in(user_id, password, new_password=new_password, via="console")
    except SignInFailed as refused:
        raise SignInRefused(str(refused), needs_new_password=refused.needs_new_password) from None
    except SignInUnavailable as unavailable:
        raise SignInRefused(str(unavailable)) from None
    return signed.token, list(read_claims(signed.token).grants), signed.key.to_text()


def _desk_connector(credentials: Credentials) -> Any:
    """How the console reaches the facade as the signed-in person (connects lazily)."""
    from client.facade import CaseDesk
    from runtime.connect import connect

    async def connect_desk() -> CaseDesk:
        return CaseDesk(await connect(), credentials=credentials)

    return connect_desk


def make_sign_in_first_app(language: str, *, start: str = "overview", refresh: float = 5.0) -> Any:
    """The console that signs its person in on its first screen; the session stays in
    this process's memory (``--no-session-file``, each browser session)."""
    from readmodel.database import ready_engine
    from runtime.settings import get_settings
    from tui.login import SignedIn
    from tui.sign_in_first import SignInFirstApp

    def open_session(signed: SignedIn) -> tuple[Any, Any]:
        credentials = _credentials_of(signed)
        return credentials.actor, _desk_connector(credentials)

    return SignInFirstApp(
        sign_in=sign_in_with_password,
        open_session=open_session,
        engine=ready_engine(get_settings().resolved_database_url),
        lang=language,
        start=start,
        refresh_seconds=refresh,
    )


def make_app(
    credentials: Credentials, language: str, *, start: str = "overview", refresh: float = 5.0
) -> Any:
    """The console wired to the facade and the read model (also used by `onechain up`)."""
    from readmodel.database import ready_engine
    from runtime.settings import get_settings
    from tui.app import OneChainApp

    engine = ready_engine(get_settings().resolved_database_url)
    return OneChainApp(
        engine=engine,
        actor=credentials.actor,
        connect=_desk_connector(credentials),
        lang=language,
        start=start,
        refresh_seconds=refresh,
    )
