"""``onechain calendar``: compute due dates, load and inspect holiday schedules.

Operators use it to answer "when is this due?" the same way the workflows do
(DOMAIN.md time-limit rules) and to load the State Council's yearly notice, which
turns provisional deadlines in that year into official ones (rule 8).

Loaded schedules live in the shared database (``readmodel.calendar_store``), so
every machine and every worker computes the same due dates.

Exit codes: 0 ok, 2 bad input, 3 Temporal or the database unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from domain.calendar import CalendarData, DueDate, Pause, WorkCalendar, YearSchedule
from domain.calendar_sources import (
    ScheduleFileError,
    describe_schedule,
    holiday_runs,
    load_schedule_file,
)
from runtime.settings import get_settings
from trust.credentials import Credentials

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="Working-day calendar: due dates, holiday schedules (节假日安排) and 调休.",
    no_args_is_help=True,
)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Far-off years are typos; they would also overflow the calendar arithmetic.
_MIN_YEAR, _MAX_YEAR = 1950, 2200
# Statutory limits are at most 45 + 15 working days; this only stops runaway loops.
_MAX_DAYS = 1000
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr and a non-zero exit: scripts check the code, humans read the line."""
    from domain.text import visible

    typer.echo(f"error: {visible(message)}", err=True)  # may quote the loaded file
    raise typer.Exit(code)


def _parse_date(text: str, what: str) -> date:
    if not _ISO_DATE.fullmatch(text.strip()):
        _fail(f"{what} {text!r} is not a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        _fail(f"{what} {text!r} is not a valid date")
    if not _MIN_YEAR <= day.year <= _MAX_YEAR:
        _fail(f"{what} {text!r} is outside the years {_MIN_YEAR}..{_MAX_YEAR}")
    return day


def _parse_pause(text: str) -> Pause:
    start_text, sep, end_text = text.partition(":")
    if not sep or not start_text or not end_text:
        _fail(f"--pause {text!r} must be START:END, e.g. 2026-09-23:2026-09-24")
    start = _parse_date(start_text, f"--pause {text!r}: START")
    end = _parse_date(end_text, f"--pause {text!r}: END")
    if end < start:
        _fail(f"--pause {text!r}: END is before START")
    return Pause(start=start, end=end)


def _engine() -> Engine:
    """The shared database, or exit with why it cannot be used (3 when unreachable)."""
    from readmodel.database import ready_engine
    from readmodel.errors import ReadModelError

    try:
        return ready_engine(get_settings().resolved_database_url)
    except ReadModelError as error:
        _fail(str(error), EXIT_UNREACHABLE if error.unreachable else EXIT_USAGE)


def _calendar(first_year: int, last_year: int) -> CalendarData:
    """The calendar exactly as the workers build it (the one calendar source)."""
    from readmodel.calendar_store import calendar_from_store

    return calendar_from_store(_engine(), first_year, last_year)


def compute_due(start: date, days: int, pauses: list[Pause]) -> DueDate:
    """Due date with a calendar wide enough to hold it.

    Years outside the snapshot count as weekends-only, so if the result lands past
    the years built, rebuild wider rather than trust that fallback.
    """
    first = start.year - 1
    last = max([start.year, *(p.end.year for p in pauses if p.end)]) + 3
    while True:
        due = WorkCalendar(_calendar(first, last)).add_working_days(start, days, pauses)
        if due.due.year <= last:
            return due
        last = due.due.year + 1


@app.command()
def due(
    start: Annotated[
        str, typer.Argument(metavar="DATE", help="Day of acceptance (受理日), YYYY-MM-DD.")
    ],
    days: Annotated[str, typer.Argument(metavar="DAYS", help="Limit in working days (0 = 即办).")],
    pause: Annotated[
        list[str] | None,
        typer.Option(
            "--pause",
            metavar="START:END",
            help="Stopped clock (hearing, testing, 补正...), inclusive days; repeatable.",
        ),
    ] = None,
) -> None:
    """Print the due date; ' provisional' follows when a year's schedule is not official."""
    start_day = _parse_date(start, "DATE")
    if not re.fullmatch(r"\d+", days.strip()):
        _fail(f"DAYS {days!r} is not a whole number of working days >= 0")
    if int(days) > _MAX_DAYS:
        _fail(f"DAYS {days!r} is more than {_MAX_DAYS} working days")
    pauses = [_parse_pause(p) for p in pause or []]
    typer.echo(str(compute_due(start_day, int(days), pauses)))


@app.command()
def load(
    file: Annotated[
        Path, typer.Argument(help="Official schedule JSON (see docs/calendar-2027.example.json).")
    ],
) -> None:
    """Check an official schedule file, keep it in the shared database, and tell running
    cases to recompute (an administrator's session is required)."""
    from cli.actor import cli_credentials
    from cli.users import require_administrator
    from readmodel.calendar_revisions import running_on
    from readmodel.calendar_store import calendar_revision, store_schedule
    from readmodel.database import describe

    admin = require_administrator()
    credentials = cli_credentials("administrator")
    try:
        schedule = load_schedule_file(file)
    except ScheduleFileError as exc:
        _fail(str(exc))
    engine = _engine()
    store_schedule(engine, schedule, by=admin)
    typer.echo(
        f"Loaded {schedule.year}: {len(schedule.holidays)} holidays, "
        f"{len(schedule.workdays)} make-up working days (调休) — {schedule.source}"
    )
    typer.echo(f"Saved in the shared database ({describe(engine.url)}) for every worker")
    revision = calendar_revision(engine)
    typer.echo(f"Calendar revision {revision}")
    notify_running_cases(schedule, credentials, revision, running_on(engine, revision))


def _is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means Temporal could not be reached (vs. a bug to surface)."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    try:
        from temporalio.service import RPCError, RPCStatusCode
    except ImportError:  # pragma: no cover - temporalio is a hard dependency
        return False
    if isinstance(exc, RPCError):
        return exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
    # temporalio's Client.connect raises a plain RuntimeError("Failed client connect: ...").
    return isinstance(exc, RuntimeError) and "connect" in str(exc).lower()


@app.command()
def notify() -> None:
    """Tell the running cases not on the current calendar revision to recompute (an
    administrator's session is required): finishes a load that was interrupted, or
    reaches cases admitted before revisions were recorded, without the schedule file."""
    from cli.actor import cli_credentials
    from cli.users import require_administrator
    from readmodel.calendar_revisions import running_on
    from readmodel.calendar_store import calendar_revision

    require_administrator()
    credentials = cli_credentials("administrator")
    engine = _engine()
    revision = calendar_revision(engine)
    typer.echo(f"Calendar revision {revision}")
    notify_running_cases(None, credentials, revision, running_on(engine, revision))


def notify_running_cases(
    schedule: YearSchedule | None,
    credentials: Credentials,
    revision: str | None = None,
    current: frozenset[str] = frozenset(),
) -> None:
    """Signal every running case to recompute its deadlines from the calendar store
    (each case checks that an administrator sent the signal), many at once, with a
    progress line; cases an interrupted load of the same schedule told are skipped
    (``runtime.reload_journal``), and so are ``current``, the cases the read model shows
    on ``revision`` already (a case told of ``revision`` twice ignores the second)."""
    from cli.output import stderr
    from client.facade import broadcast_calendar_reload
    from runtime.reload_journal import ReloadJournal

    journal = (
        ReloadJournal(get_settings().data_dir / "calendar-reload", schedule)
        if schedule is not None
        else None
    )
    already = (journal.told() if journal else frozenset()) | current
    if already:
        typer.echo(
            f"Resuming: {len(already)} running case(s) are on this revision already "
            "or were told by an earlier load."
        )
    capped: list[str] = []
    with _progress(stderr) as progress:
        try:
            count = asyncio.run(
                broadcast_calendar_reload(
                    credentials,
                    lambda case_no, _why: capped.append(case_no),
                    skip=already,
                    sent=journal.record if journal else None,
                    progress=progress,
                    revision=revision,
                )
            )
        except Exception as exc:
            if journal:
                journal.close()
            if not _is_unreachable(exc):
                raise
            saved = f"schedule {schedule.year} saved, but " if schedule else ""
            _fail(
                f"{saved}Temporal is unreachable so some running cases were not notified "
                f"({exc}); run `onechain calendar notify` (or the same `calendar load`) once it "
                "is up: it tells only the cases not told yet",
                EXIT_UNREACHABLE,
            )
        except KeyboardInterrupt:
            if journal:
                journal.close()
            _fail(
                "interrupted: run `onechain calendar notify` (or the same `calendar load`) to "
                "tell the cases not told yet",
                EXIT_UNREACHABLE,
            )
    if journal:
        journal.finished()
    typer.echo(f"Notified {count + len(already)} running case(s) to recompute their deadlines.")
    if capped:
        shown = ", ".join(capped[:20]) + (" …" if len(capped) > 20 else "")
        _fail(
            f"{len(capped)} running case(s) refused the reload: they took as many signals as "
            f"Temporal allows a case (someone flooded them; see `onechain audit security`) "
            f"and keep their old calendar: {shown}",
            EXIT_REJECTED,
        )


@contextlib.contextmanager
def _progress(console: Any) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal; a line every 10 % otherwise (logs, CI)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    if console.is_terminal:
        bar = Progress(
            "通知运行中案件（telling running cases）",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        task = bar.add_task("reload", total=None)
        with bar:
            yield lambda done, total: bar.update(task, completed=done, total=total)
        return
    said = -1

    def line(done: int, total: int) -> None:
        nonlocal said
        tenth = done * 10 // max(total, 1)
        if tenth > said:
            said = tenth
            console.print(f"told {done}/{total} running case(s)", highlight=False)

    yield line


@app.command()
def show(year: Annotated[int, typer.Argument(help="Calendar year, e.g. 2026.")]) -> None:
    """List a year's holidays and make-up working days, and whether they are official."""
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        _fail(f"YEAR {year} is outside the years {_MIN_YEAR}..{_MAX_YEAR}")
    schedule = _calendar(year, year).years[year]
    typer.echo(describe_schedule(schedule))
    if not schedule.official:
        typer.echo(
            "  No official notice loaded: statutory holidays only, no 调休; deadlines in "
            f"{year} are provisional. Load it with `onechain calendar load FILE`."
        )
    typer.echo(f"Holidays ({len(schedule.holidays)} days):")
    for first, last in holiday_runs(schedule.holidays):
        typer.echo(f"  {_span(first, last)}")
    typer.echo(f"Make-up working days (调休, {len(schedule.workdays)}):")
    for day in sorted(schedule.workdays):
        typer.echo(f"  {day.isoformat()} {day.strftime('%a')}")
    if not schedule.workdays:
        typer.echo("  (none)")


def _span(first: date, last: date) -> str:
    if first == last:
        return f"{first.isoformat()} {first.strftime('%a')}"
    length = (last - first).days + 1
    return (
        f"{first.isoformat()} {first.strftime('%a')} – {last.isoformat()} "
        f"{last.strftime('%a')} ({length} days)"
    )
