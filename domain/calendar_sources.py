"""Where the holiday schedules in a :class:`~domain.calendar.CalendarData` come from.

``domain.calendar`` does the arithmetic on a frozen snapshot; this module builds
that snapshot, in order of trust (DOMAIN.md rule 8):

1. an official schedule loaded by an administrator (``onechain calendar load``),
   kept in the shared database (``readmodel.calendar_store``) and handed in here as
   a mapping — it wins because it is the newest word of the State Council and may
   correct a stale library;
2. the ``chinese_calendar`` package, which ships the official schedules it knew
   about when it was released (2004–2026 for 1.11);
3. otherwise a *provisional* schedule from ``holidays``: statutory holidays only,
   no 调休, so every deadline computed from it is flagged provisional.

It reads schedule files and third-party libraries, so unlike ``domain.calendar``
it must not be imported from workflow code: activities or clients build the
snapshot and hand it to workflows. ``<calendars_dir>/<year>.json`` files are how
schedules were kept before they moved to the database; they are read only by the
one-time import (revision ``0003``) and by :func:`build_calendar` for old callers.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from domain.calendar import CalendarData, YearSchedule

PROVISIONAL_SOURCE = "holidays (statutory only, provisional)"

_REQUIRED_KEYS = ("year", "holidays", "workdays")
_KNOWN_KEYS = (*_REQUIRED_KEYS, "source")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SAVED_NAME = re.compile(r"(\d{4})\.json")
# Sanity bounds on a schedule year: catches typos such as 207 or 20277.
_MIN_YEAR, _MAX_YEAR = 1950, 2200


class ScheduleFileError(ValueError):
    """A schedule file that cannot be used; the message names the file and the fault."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# --------------------------------------------------------------------------- libraries


def _chinese_calendar_version() -> str:
    import chinese_calendar

    return str(getattr(chinese_calendar, "__version__", "unknown version"))


@functools.cache
def builtin_schedule(year: int) -> YearSchedule | None:
    """The official schedule for ``year`` shipped with ``chinese_calendar``, if any.

    Cached for the process (the installed package cannot change under it; the
    schedule is frozen): admission builds a snapshot for every case it starts.

    ``chinese_calendar`` raises ``NotImplementedError`` for years it has no notice
    for; that is the normal "not published yet" case, so it becomes ``None``.
    Its holiday list includes the weekend days inside a holiday period, which is
    harmless (they are not working days anyway) and keeps the data verbatim.
    """
    import chinese_calendar

    try:
        # Any call validates the year; Jan 1 is always a date it must know.
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return None
    holidays = sorted(d for d in chinese_calendar.holidays if d.year == year)
    workdays = sorted(d for d in chinese_calendar.workdays if d.year == year)
    return YearSchedule(
        year=year,
        official=True,
        holidays=holidays,
        workdays=workdays,
        source=f"chinese_calendar {_chinese_calendar_version()}",
    )


@functools.cache
def provisional_schedule(year: int) -> YearSchedule:
    """A stand-in for a year whose notice is not loaded: statutory holidays only.

    Cached for the process: the ``holidays`` package builds its calendar afresh for
    each call, 6 % of a worker's time while cases start before the cache.

    ``holidays`` also lists the 调休 days off of the years it knows; they are dropped
    because their make-up working days are not in the data, and keeping one half
    of a swap would be worse than keeping neither. The result is never official.
    """
    import holidays as holidays_lib

    china = holidays_lib.China(years=year, observed=False)
    substituted_prefix = _substituted_label_prefix(china)
    days: list[date] = []
    for day, name in sorted(china.items()):
        if day.year != year:
            continue
        names = [n.strip() for n in str(name).split(";")]
        if substituted_prefix and all(n.startswith(substituted_prefix) for n in names):
            continue
        days.append(day)
    return YearSchedule(year=year, official=False, holidays=days, source=PROVISIONAL_SOURCE)


def _substituted_label_prefix(china: Any) -> str:
    """The translated start of the "day off (substituted from …)" label, or ''."""
    label = getattr(china, "substituted_label", None)
    translate = getattr(china, "tr", None)
    if not label or translate is None:
        return ""
    return str(translate(label)).split("%s", 1)[0].strip()


# --------------------------------------------------------------------------- files


def load_schedule_file(path: Path | str) -> YearSchedule:
    """Read and check an official schedule file (JSON, see ``docs/calendar-2027.example.json``).

    The file is typed in by hand from the State Council notice, so it is checked
    strictly and every fault is reported as a :class:`ScheduleFileError` that says
    what is wrong and where: a wrong date would silently move legal deadlines.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScheduleFileError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise ScheduleFileError(
            path, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ScheduleFileError(path, f"cannot read file: {exc.strerror or exc}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScheduleFileError(
            path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    return parse_schedule(raw, path)


def parse_schedule(raw: object, path: Path | str = "<schedule>") -> YearSchedule:
    """Check already-decoded JSON as an official schedule; ``path`` names it in errors."""
    if not isinstance(raw, dict):
        raise ScheduleFileError(path, f"top level must be a JSON object, got {_json_type(raw)}")
    missing = [k for k in _REQUIRED_KEYS if k not in raw]
    if missing:
        raise ScheduleFileError(path, f"missing key(s): {', '.join(map(repr, missing))}")
    unknown = sorted(k for k in raw if k not in _KNOWN_KEYS)
    if unknown:
        raise ScheduleFileError(
            path,
            f"unknown key(s): {', '.join(map(repr, unknown))} "
            f"(expected {', '.join(map(repr, _KNOWN_KEYS))})",
        )

    year = raw["year"]
    if isinstance(year, bool) or not isinstance(year, int):
        raise ScheduleFileError(path, f"'year' must be an integer, got {year!r}")
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ScheduleFileError(path, f"'year' {year} is out of range {_MIN_YEAR}..{_MAX_YEAR}")

    source = raw.get("source", "")
    if not isinstance(source, str):
        raise ScheduleFileError(path, f"'source' must be a string, got {_json_type(source)}")
    source = source.strip() or f"schedule file {Path(path).name}"

    holidays = _parse_dates(path, raw["holidays"], "holidays", year)
    workdays = _parse_dates(path, raw["workdays"], "workdays", year)
    if not holidays:
        raise ScheduleFileError(
            path, "'holidays' is empty: an official schedule always lists holidays"
        )
    for index, day in enumerate(workdays):
        if day.weekday() < 5:
            raise ScheduleFileError(
                path,
                f"workdays[{index}] {day.isoformat()} is a {day.strftime('%A')}: "
                "make-up working days (调休) must be a Saturday or Sunday",
            )
    both = sorted(set(holidays) & set(workdays))
    if both:
        listed = ", ".join(d.isoformat() for d in both)
        raise ScheduleFileError(path, f"listed both as holiday and as workday: {listed}")
    return YearSchedule(
        year=year, official=True, holidays=holidays, workdays=workdays, source=source
    )


def _parse_dates(path: Path | str, value: object, key: str, year: int) -> list[date]:
    if not isinstance(value, list):
        raise ScheduleFileError(path, f"'{key}' must be a list of dates, got {_json_type(value)}")
    seen: dict[date, int] = {}
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, str):
            raise ScheduleFileError(
                path, f"{where} must be a date string YYYY-MM-DD, got {_json_type(item)}"
            )
        if not _ISO_DATE.fullmatch(item):
            raise ScheduleFileError(path, f"{where} {item!r} is not an ISO date YYYY-MM-DD")
        try:
            day = date.fromisoformat(item)
        except ValueError:
            raise ScheduleFileError(path, f"{where} {item!r} is not a valid date") from None
        if day.year != year:
            raise ScheduleFileError(path, f"{where} {item} is not in year {year}")
        if day in seen:
            raise ScheduleFileError(
                path, f"{where} {item} is listed twice (also {key}[{seen[day]}])"
            )
        seen[day] = index
    return sorted(seen)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return type(value).__name__


def schedule_to_json(schedule: YearSchedule) -> dict[str, object]:
    """The file form of a schedule (the same format ``load_schedule_file`` reads)."""
    return {
        "year": schedule.year,
        "holidays": [d.isoformat() for d in sorted(schedule.holidays)],
        "workdays": [d.isoformat() for d in sorted(schedule.workdays)],
        "source": schedule.source,
    }


def save_schedule(calendars_dir: Path | str, schedule: YearSchedule) -> Path:
    """Keep an official schedule as ``<calendars_dir>/<year>.json``; returns the path.

    Written to a temporary file and renamed, so a crash never leaves a half-written
    schedule that would later be read as official.
    """
    if not schedule.official:
        raise ValueError(f"only official schedules are saved; {schedule.year} is provisional")
    directory = Path(calendars_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{schedule.year}.json"
    text = json.dumps(schedule_to_json(schedule), ensure_ascii=False, indent=2) + "\n"
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{schedule.year}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp creates 0600; the server and workers may run as another user.
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def saved_schedules(calendars_dir: Path | str) -> dict[int, YearSchedule]:
    """The schedules saved by :func:`save_schedule`, keyed by year.

    A damaged saved file raises :class:`ScheduleFileError` rather than being
    skipped: silently falling back to older data would move deadlines unnoticed.
    Files not named ``<year>.json`` are ignored.
    """
    directory = Path(calendars_dir)
    if not directory.is_dir():
        return {}
    result: dict[int, YearSchedule] = {}
    for file in sorted(directory.iterdir()):
        match = _SAVED_NAME.fullmatch(file.name)
        if not match or not file.is_file():
            continue
        schedule = load_schedule_file(file)
        if schedule.year != int(match.group(1)):
            raise ScheduleFileError(
                file, f"holds the schedule for {schedule.year}, not {match.group(1)}"
            )
        result[schedule.year] = schedule
    return result


def calendar_from_schedules(
    loaded: Mapping[int, YearSchedule], first_year: int, last_year: int
) -> CalendarData:
    """A snapshot for ``first_year``..``last_year``: a loaded official schedule, else
    the builtin one, else a provisional one (see the module notes)."""
    if first_year > last_year:
        raise ValueError(f"first_year {first_year} is after last_year {last_year}")
    years: dict[int, YearSchedule] = {}
    for year in range(first_year, last_year + 1):
        years[year] = loaded.get(year) or builtin_schedule(year) or provisional_schedule(year)
    return CalendarData(years=years)


def build_calendar(calendars_dir: Path | str, first_year: int, last_year: int) -> CalendarData:
    """:func:`calendar_from_schedules` with the schedule files of ``calendars_dir``
    (the pre-database store; the office's calendar is ``readmodel.calendar_store``)."""
    return calendar_from_schedules(saved_schedules(calendars_dir), first_year, last_year)


def describe_schedule(schedule: YearSchedule) -> str:
    """One line for humans: year, trust level, counts and source."""
    kind = "official" if schedule.official else "PROVISIONAL"
    return (
        f"{schedule.year}: {kind}, {len(schedule.holidays)} holidays, "
        f"{len(schedule.workdays)} make-up working days — {schedule.source}"
    )


def holiday_runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days grouped into (first, last) runs, for compact display."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
