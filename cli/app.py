"""The ``onechain`` command line (entry point ``cli.app:main``).

Sub-apps are added here so each area owns its own module.
"""

from __future__ import annotations

import os
import sys

import typer

from cli import actions as actions_command
from cli import (
    audit,
    calendar,
    cases,
    chains,
    daiban,
    importer,
    keys,
    reconcile,
    report,
    run,
    simulate,
    supervise,
    users,
)
from cli import db as db_command
from cli import departments as departments_command
from cli import doctor as doctor_command
from cli import tui as tui_command
from cli import web as web_command
from cli.codec_server import codec_server
from cli.forecast import forecast
from cli.output import EXIT_CODES_HELP
from cli.signin_service import signin_service

app = typer.Typer(
    name="onechain",
    help="onechain — linked government approvals (一链办理) on Temporal.",
    epilog=EXIT_CODES_HELP + " `import` exits 130 when interrupted with rows not attempted.",
    no_args_is_help=True,
)
app.add_typer(calendar.app, name="calendar")
app.add_typer(chains.app, name="chains")
app.add_typer(cases.app, name="cases")
app.add_typer(cases.case_app, name="case")
app.add_typer(keys.app, name="keys")
app.add_typer(actions_command.app, name="actions")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(supervise.app, name="supervise")
app.add_typer(daiban.app, name="daiban")
app.command(name="login", help=users.login.__doc__)(users.login)
app.command(name="logout", help=users.logout.__doc__)(users.logout)
app.command(name="whoami", help=users.whoami.__doc__)(users.whoami)
app.add_typer(db_command.app, name="db")
app.add_typer(departments_command.app, name="departments")
app.add_typer(__import__("cli.backup").backup.app, name="backup")
app.command(name="report")(report.report)
app.command(name="forecast", help=forecast.__doc__)(forecast)
app.command(name="reconcile")(reconcile.reconcile)
app.command(help=run.up.__doc__)(run.up)
app.command(help=run.server.__doc__)(run.server)
app.command(help=run.worker.__doc__)(run.worker)
app.command(name="import", help=importer.import_file.__doc__, epilog=EXIT_CODES_HELP)(
    importer.import_file
)
app.command(name="simulate", help=simulate.simulate.__doc__, epilog=EXIT_CODES_HELP)(
    simulate.simulate
)
app.command(name="tui", help=tui_command.tui.__doc__)(tui_command.tui)
app.command(name="web", help=web_command.web.__doc__)(web_command.web)
app.command(name="codec-server", help=codec_server.__doc__)(codec_server)
app.command(name="signin-service", help=signin_service.__doc__)(signin_service)
app.command(name="doctor", help=doctor_command.doctor.__doc__)(doctor_command.doctor)


def _exit_code(code: object) -> int:
    """``SystemExit.code`` as a process exit status, the way CPython maps it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main() -> None:
    """Console-script entry point.

    Once a command has used the Temporal client, the process ends with
    ``os._exit``: the client's Rust threads can otherwise abort the interpreter
    during shutdown ("PyGILState_Release ... must be current", exit 134,
    temporalio/sdk-python#300), which would turn e.g. exit code 3 into a crash.
    Output is flushed first; commands must finish their own cleanup before returning.
    """
    try:
        app()
    except SystemExit as exc:
        if not any(name.startswith("temporalio.bridge") for name in sys.modules):
            raise
        code = _exit_code(exc.code)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
