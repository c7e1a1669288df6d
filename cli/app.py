"""The ``onechain`` command line (entry point ``cli.app:main``).

Sub-apps are added here so each area owns its own module.
"""

from __future__ import annotations

import typer

from cli import calendar

app = typer.Typer(
    name="onechain",
    help="onechain — linked government approvals (一链办理) on Temporal.",
    no_args_is_help=True,
)
app.add_typer(calendar.app, name="calendar")


def main() -> None:
    """Console-script entry point."""
    app()
