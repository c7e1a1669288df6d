"""``onechain tui``: the coordinators' console (Textual)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from cli.actor import AS_HELP, parse_actor
from cli.db import require_read_model
from cli.output import EXIT_USAGE, fail
from domain.roles import Actor

LANG_HELP = "Interface language: zh (default) or en (default: $ONECHAIN_LANG)."


def tui(
    as_: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP)] = None,
    start: Annotated[
        str, typer.Option(help="First screen: overview, cases or departments.")
    ] = "overview",
    refresh: Annotated[
        float, typer.Option(help="Seconds between live refreshes (0: only on demand).")
    ] = 5.0,
) -> None:
    """Watch and unblock cases in a terminal UI (runs as --as USER:ROLE[:DEPT])."""
    from tui.messages import LANGUAGES

    actor = parse_actor(as_)
    language = lang or os.environ.get("ONECHAIN_LANG") or "zh"
    if language not in LANGUAGES:
        fail(f"--lang {language!r}: expected one of {', '.join(LANGUAGES)}", EXIT_USAGE)
    if start not in ("overview", "cases", "departments"):
        fail(f"--start {start!r}: expected overview, cases or departments", EXIT_USAGE)

    require_read_model(say=lambda line: typer.echo(line, err=True))
    make_app(actor, language, start=start, refresh=refresh).run()


def make_app(actor: Actor, language: str, *, start: str = "overview", refresh: float = 5.0) -> Any:
    """The console wired to the facade and the read model (also used by `onechain up`)."""
    from client.facade import CaseDesk
    from readmodel.database import ready_engine
    from runtime.connect import connect
    from runtime.settings import get_settings
    from tui.app import OneChainApp

    async def connect_desk() -> CaseDesk:
        return CaseDesk(await connect())

    engine = ready_engine(get_settings().resolved_database_url)
    return OneChainApp(
        engine=engine,
        actor=actor,
        connect=connect_desk,
        lang=language,
        start=start,
        refresh_seconds=refresh,
    )
