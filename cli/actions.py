"""``onechain actions``: the actions people take on a case, and who may take them.

Everything shown comes from ``domain/action_catalog.py``, the one declaration of each
action; ``actions docs`` keeps README.md's role table equal to it.

Exit codes: 0 ok, 1 ``docs --check`` found README.md out of date, 2 bad usage.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import EXIT_REJECTED, emit_json, guarded, message, table
from domain.action_catalog import role_table

app = typer.Typer(
    help="The actions on a case (onechain case ...) and the roles that may take them.",
    no_args_is_help=True,
)


@app.command("list")
@guarded
def list_actions(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Every action: its command, its workflow Update, the roles that may take it and the department rule."""
    rows = role_table()
    if as_json:
        emit_json(rows)
        return
    table(
        None,
        ["action", "command", "update", "roles", "department rule"],
        [[r["action"], r["command"], r["update"], r["roles"], r["department_rule"]] for r in rows],
    )


@app.command()
@guarded
def docs(
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="Change nothing; exit 1 if README.md's role table is out of date."
        ),
    ] = False,
) -> None:
    """Regenerate the role table in README.md from the action declarations.

    Run it after changing domain/action_catalog.py; the tests run `--check`.
    """
    from docsgen import actions

    if check_only:
        if actions.stale():
            typer.echo("out of date: README.md (role table)")
            message("run `onechain actions docs` to regenerate it")
            raise typer.Exit(EXIT_REJECTED)
        typer.echo("README.md's role table is up to date")
        return
    typer.echo(
        "wrote README.md (role table)"
        if actions.write()
        else "README.md's role table was already up to date"
    )
