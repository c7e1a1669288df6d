"""Working-day arithmetic, calendar sources and the ``onechain calendar`` CLI.

The dates come from DOMAIN.md "Time-limit rules" and the 2026 State Council
notice (Mid-Autumn 09-25..27, National Day 10-01..07, 调休 Sun 09-20 and Sat 10-10).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from domain.calendar import (
    CalendarData,
    Pause,
    WorkCalendar,
    YearSchedule,
    shared_work_calendar,
    warning_threshold,
)
from domain.calendar_sources import (
    PROVISIONAL_SOURCE,
    ScheduleFileError,
    build_calendar,
    builtin_schedule,
    load_schedule_file,
    provisional_schedule,
    save_schedule,
    saved_schedules,
)
from domain.timezone import cst_date, end_of_day, start_of_day
from readmodel.calendar_store import stored_schedules
from readmodel.database import create_read_model, ready_engine, reset_engines
from runtime.settings import get_settings
from tests.harness import sign_in_cli
from trust.credentials import Credentials

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_2027 = REPO / "docs" / "calendar-2027.example.json"

D = date.fromisoformat


@pytest.fixture
def calendars_dir(tmp_path: Path) -> Path:
    return tmp_path / "calendars"


@pytest.fixture
def cal(calendars_dir: Path) -> WorkCalendar:
    return WorkCalendar(build_calendar(calendars_dir, 2025, 2028))


def test_cases_admitted_with_the_same_schedules_share_one_calendar(calendars_dir: Path) -> None:
    """A worker keeps thousands of cases; each decodes its own copy of the schedules it was
    admitted with. Equal copies must become one calendar, and a changed one must not."""
    admitted = build_calendar(calendars_dir, 2025, 2028)
    decoded = CalendarData.model_validate_json(admitted.model_dump_json())  # another case's copy
    assert decoded is not admitted
    one = shared_work_calendar(admitted)
    assert shared_work_calendar(decoded) is one
    assert one.data == admitted

    # A reloaded 2026 with one more day off is another snapshot, answering differently.
    extra = date(2026, 11, 2)  # a Monday
    old_2026 = admitted.years[2026]
    reloaded = CalendarData(
        years={
            **admitted.years,
            2026: old_2026.model_copy(update={"holidays": [*old_2026.holidays, extra]}),
        }
    )
    other = shared_work_calendar(reloaded)
    assert other is not one
    assert not other.is_working_day(extra)
    assert one.is_working_day(extra)


# --------------------------------------------------------------------------- due dates


def test_domain_example_five_days_over_national_day(cal: WorkCalendar) -> None:
    # 10-08, 10-09, Sat 10-10 (调休), 10-12, 10-13
    result = cal.add_working_days(D("2026-09-30"), 5)
    assert result.due == D("2026-10-13")
    assert not result.provisional
    assert not result.stopped
    assert str(result) == "2026-10-13"


def test_domain_example_with_pause(cal: WorkCalendar) -> None:
    # Sun 09-20 (调休), 09-21, 09-22 | paused 09-23..24 | 09-28, 09-29, 09-30, 10-08, 10-09,
    # Sat 10-10, 10-12
    result = cal.add_working_days(
        D("2026-09-18"), 10, [Pause(start=D("2026-09-23"), end=D("2026-09-24"))]
    )
    assert result.due == D("2026-10-12")
    assert not result.stopped


def test_start_day_on_holiday_never_counts(cal: WorkCalendar) -> None:
    # Accepted online on a National Day holiday: day 1 is the next working day.
    assert cal.add_working_days(D("2026-10-03"), 1).due == D("2026-10-08")


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ("2026-11-14", "2026-11-16"),  # Saturday -> Monday
        ("2026-11-15", "2026-11-16"),  # Sunday -> Monday
        ("2026-11-13", "2026-11-16"),  # Friday: the weekend does not count
        ("2026-09-19", "2026-09-20"),  # Saturday before a 调休 Sunday: that Sunday counts
    ],
)
def test_start_on_weekend(cal: WorkCalendar, start: str, due: str) -> None:
    assert cal.add_working_days(D(start), 1).due == D(due)


@pytest.mark.parametrize("start", ["2026-09-30", "2026-10-03", "2026-11-14"])
def test_limit_zero_is_due_on_acceptance_day(cal: WorkCalendar, start: str) -> None:
    result = cal.add_working_days(D(start), 0)
    assert result.due == D(start)
    assert not result.provisional


def test_limit_zero_on_holiday_is_not_late_that_day(cal: WorkCalendar) -> None:
    due = cal.add_working_days(D("2026-10-03"), 0).due
    assert cal.days_left(D("2026-10-03"), due) == 1
    assert cal.days_left(D("2026-10-08"), due) == -1


def test_negative_limit_rejected(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="limit"):
        cal.add_working_days(D("2026-09-30"), -1)


def test_make_up_saturday_counts(cal: WorkCalendar) -> None:
    assert cal.is_working_day(D("2026-10-10"))  # Saturday, 调休
    assert cal.is_working_day(D("2026-09-20"))  # Sunday, 调休
    assert not cal.is_working_day(D("2026-10-17"))  # ordinary Saturday
    assert not cal.is_working_day(D("2026-10-05"))  # Monday, National Day
    assert cal.add_working_days(D("2026-10-09"), 1).due == D("2026-10-10")


def test_open_pause_marks_stopped(cal: WorkCalendar) -> None:
    start = D("2026-10-30")  # Friday
    assert cal.add_working_days(start, 3).due == D("2026-11-04")
    open_pause = [Pause(start=D("2026-11-02"))]
    # Assumed to end today: counting resumes tomorrow (11-05, 11-06, 11-09).
    result = cal.add_working_days(start, 3, open_pause, today=D("2026-11-04"))
    assert result.stopped
    assert result.due == D("2026-11-09")
    # Without ``today`` the pause is assumed to end on its own start day.
    result = cal.add_working_days(start, 3, open_pause)
    assert result.stopped
    assert result.due == D("2026-11-05")


def test_pause_covering_holidays(cal: WorkCalendar) -> None:
    start = D("2026-09-30")
    # A pause over holidays only changes nothing: those days did not count anyway.
    only_holidays = [Pause(start=D("2026-10-01"), end=D("2026-10-07"))]
    assert cal.add_working_days(start, 5, only_holidays).due == D("2026-10-13")
    # Running on into 10-08, 10-09 removes two working days: 10-10, 10-12..10-15.
    longer = [Pause(start=D("2026-10-01"), end=D("2026-10-09"))]
    assert cal.add_working_days(start, 5, longer).due == D("2026-10-15")


def test_pause_covers() -> None:
    closed = Pause(start=D("2026-09-23"), end=D("2026-09-24"))
    assert closed.covers(D("2026-09-23")) and closed.covers(D("2026-09-24"))
    assert not closed.covers(D("2026-09-22")) and not closed.covers(D("2026-09-25"))
    assert Pause(start=D("2026-09-23")).covers(D("2030-01-01"))


# --------------------------------------------------------------------------- days left, warning


@pytest.mark.parametrize(
    ("today", "left"),
    [
        ("2026-09-30", 5),  # acceptance day: never counts (rule 9: the limit itself)
        ("2026-10-05", 5),  # holiday: all five still ahead
        ("2026-10-10", 3),  # 调休 Saturday counts itself: 10-10, 10-12, 10-13
        ("2026-10-11", 2),  # Sunday: 10-12, 10-13
        ("2026-10-12", 2),
        ("2026-10-13", 1),  # the due day itself
        ("2026-10-14", -1),  # one working day late
        ("2026-10-17", -3),  # Saturday: 10-14, 10-15, 10-16 late
    ],
)
def test_days_left(cal: WorkCalendar, today: str, left: int) -> None:
    # A 5-day limit accepted on 09-30 is due 10-13 (National Day in between).
    assert cal.days_left(D(today), D("2026-10-13"), started_on=D("2026-09-30")) == left


@pytest.mark.parametrize("start", ["2026-09-30", "2026-10-03", "2026-11-13", "2026-12-31"])
@pytest.mark.parametrize("limit", [0, 1, 5, 15, 20])
def test_days_left_is_the_limit_on_acceptance_day_and_1_on_the_due_day(
    cal: WorkCalendar, start: str, limit: int
) -> None:
    """DOMAIN rule 9, through the one function every screen uses."""
    from domain.deadlines import days_left, new_clock

    clock = new_clock(
        cal,
        started_on=D(start),
        limit_days=limit,
        department_count=1,
        warning_fraction=0.2,
        today=D(start),
    )
    assert days_left(cal, clock, D(start)) == max(1, limit)
    assert days_left(cal, clock, clock.due_on) == 1
    # Every day in between: one less per counted working day; the yellow card shows
    # exactly from the day on which no more than the threshold is left.
    day, previous = D(start), max(1, limit)
    while day < clock.due_on:
        day += timedelta(days=1)
        left = days_left(cal, clock, day)
        assert left in (previous, previous - 1)
        if limit:
            assert (left <= clock.warn_at_days_left) == (day >= clock.warning_on), day
        previous = left
    assert days_left(cal, clock, clock.due_on + timedelta(days=1)) <= 0


def test_days_left_skips_paused_days(cal: WorkCalendar) -> None:
    pauses = [Pause(start=D("2026-10-12"), end=D("2026-10-12"))]
    assert cal.days_left(D("2026-10-10"), D("2026-10-13"), pauses) == 2


def test_working_days_between(cal: WorkCalendar) -> None:
    assert cal.working_days_between(D("2026-09-30"), D("2026-10-13")) == 5
    assert cal.working_days_between(D("2026-10-13"), D("2026-09-30")) == 0


def test_warning_day_starts_on_weekend_before(cal: WorkCalendar) -> None:
    # Due Monday 11-16 with 1 day of warning: from Saturday on only Monday is left.
    warn = cal.warning_day(D("2026-11-02"), D("2026-11-16"), 1)
    assert warn == D("2026-11-14")
    # Threshold 2 with due 10-13: 10-12 and 10-13 left from Sunday 10-11; the 调休
    # Saturday 10-10 is a working day, so it still has three.
    assert cal.warning_day(D("2026-09-30"), D("2026-10-13"), 2) == D("2026-10-11")


def test_warning_day_never_before_day_after_start(cal: WorkCalendar) -> None:
    assert cal.warning_day(D("2026-09-30"), D("2026-10-13"), 10) == D("2026-10-01")


@pytest.mark.parametrize("start", ["2026-09-18", "2026-09-30", "2026-12-18", "2026-02-10"])
@pytest.mark.parametrize("limit", [1, 5, 20, 45])
def test_warning_day_agrees_with_days_left(cal: WorkCalendar, start: str, limit: int) -> None:
    """The warning starts exactly when days_left first drops to the threshold."""
    first = D(start)
    due = cal.add_working_days(first, limit).due
    threshold = warning_threshold(limit)
    warn = cal.warning_day(first, due, threshold)
    assert first < warn <= due
    assert cal.days_left(warn, due) <= threshold
    if warn > first + timedelta(days=1):
        assert cal.days_left(warn - timedelta(days=1), due) > threshold


@pytest.mark.parametrize(("limit", "threshold"), [(0, 1), (1, 1), (5, 1), (20, 4), (45, 9)])
def test_warning_threshold(limit: int, threshold: int) -> None:
    assert warning_threshold(limit) == threshold


# --------------------------------------------------------------------------- provisional years


def test_2027_is_provisional_until_loaded(calendars_dir: Path) -> None:
    start = D("2026-12-20")
    before = WorkCalendar(build_calendar(calendars_dir, 2025, 2028))
    assert not before.is_official(2027)
    result = before.add_working_days(start, 10)
    assert result.due == D("2027-01-04")
    assert result.provisional
    assert str(result) == "2027-01-04 provisional"

    save_schedule(calendars_dir, load_schedule_file(EXAMPLE_2027))
    after = WorkCalendar(build_calendar(calendars_dir, 2025, 2028))
    assert after.is_official(2027)
    result = after.add_working_days(start, 10)
    assert result.due == D("2027-01-04")
    assert not result.provisional
    # The example's 调休 Sunday 2027-09-26 only counts once the file is loaded.
    assert not before.is_working_day(D("2027-09-26"))
    assert after.is_working_day(D("2027-09-26"))


def test_due_within_official_year_is_not_provisional(cal: WorkCalendar) -> None:
    # 12-29, 12-30, 12-31: never steps into 2027.
    assert not cal.add_working_days(D("2026-12-28"), 3).provisional


def test_year_missing_from_snapshot_is_provisional() -> None:
    cal = WorkCalendar(CalendarData())
    result = cal.add_working_days(D("2026-09-30"), 5)
    assert result.provisional
    assert result.due == D("2026-10-07")  # weekends only


# --------------------------------------------------------------------------- sources


def test_builtin_schedule_2026() -> None:
    schedule = builtin_schedule(2026)
    assert schedule is not None
    assert schedule.official
    assert schedule.source.startswith("chinese_calendar ")
    assert D("2026-10-01") in schedule.holidays
    assert set(schedule.workdays) >= {D("2026-09-20"), D("2026-10-10")}
    assert all(d.year == 2026 for d in [*schedule.holidays, *schedule.workdays])


@pytest.mark.parametrize("year", [2003, 2027, 2100])
def test_builtin_schedule_unknown_year(year: int) -> None:
    assert builtin_schedule(year) is None


def test_builtin_covers_all_shipped_years() -> None:
    for year in range(2004, 2027):
        schedule = builtin_schedule(year)
        assert schedule is not None and schedule.official, year
        assert all(d.weekday() >= 5 for d in schedule.workdays), year


def test_provisional_schedule_is_statutory_only() -> None:
    schedule = provisional_schedule(2027)
    assert not schedule.official
    assert schedule.source == PROVISIONAL_SOURCE
    assert schedule.workdays == []
    assert {D("2027-01-01"), D("2027-10-01"), D("2027-10-03")} <= set(schedule.holidays)
    # For a known year the library also lists 调休 days off; without their make-up
    # working days they would be half a swap, so they are left out.
    known = provisional_schedule(2026)
    assert D("2026-10-01") in known.holidays
    assert D("2026-10-06") not in known.holidays


def test_build_calendar_precedence(calendars_dir: Path) -> None:
    own_2026 = YearSchedule(
        year=2026, official=True, holidays=[D("2026-01-01")], source="test notice"
    )
    save_schedule(calendars_dir, own_2026)
    data = build_calendar(calendars_dir, 2025, 2027)
    assert set(data.years) == {2025, 2026, 2027}
    assert data.years[2026].source == "test notice"  # saved file beats chinese_calendar
    assert data.years[2025].source.startswith("chinese_calendar")
    assert data.years[2027].source == PROVISIONAL_SOURCE
    with pytest.raises(ValueError):
        build_calendar(calendars_dir, 2027, 2026)


def test_save_and_reload_round_trip(calendars_dir: Path) -> None:
    schedule = load_schedule_file(EXAMPLE_2027)
    path = save_schedule(calendars_dir, schedule)
    assert path == calendars_dir / "2027.json"
    (calendars_dir / "notes.txt").write_text("ignored")
    assert saved_schedules(calendars_dir) == {2027: schedule}
    assert saved_schedules(calendars_dir / "missing") == {}


def test_save_refuses_provisional(calendars_dir: Path) -> None:
    with pytest.raises(ValueError, match="provisional"):
        save_schedule(calendars_dir, provisional_schedule(2027))


def test_saved_file_under_wrong_year_name(calendars_dir: Path) -> None:
    calendars_dir.mkdir()
    (calendars_dir / "2028.json").write_text(EXAMPLE_2027.read_text(encoding="utf-8"))
    with pytest.raises(
        ScheduleFileError, match=r"2028\.json: holds the schedule for 2027, not 2028"
    ):
        saved_schedules(calendars_dir)


def test_example_file_is_marked_as_example() -> None:
    schedule = load_schedule_file(EXAMPLE_2027)
    assert schedule.year == 2027 and schedule.official
    assert "example" in schedule.source.lower()


# --------------------------------------------------------------------------- schedule file errors


def _good() -> dict[str, object]:
    return {
        "year": 2027,
        "holidays": ["2027-01-01", "2027-10-01"],
        "workdays": ["2027-09-26"],
        "source": "test",
    }


def _with(**changes: object) -> str:
    raw = _good()
    raw.update(changes)
    return json.dumps(raw)


def _without(key: str) -> str:
    raw = _good()
    del raw[key]
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"year": 2027,\n  "holidays": [}', "invalid JSON at line 2, column"),
        ("[]", "top level must be a JSON object"),
        (_without("workdays"), "missing key(s): 'workdays'"),
        (_with(holiday=[]), "unknown key(s): 'holiday'"),
        (_with(year="2027"), "'year' must be an integer"),
        (_with(year=207), "out of range"),
        (_with(holidays="2027-01-01"), "'holidays' must be a list"),
        (_with(holidays=[]), "'holidays' is empty"),
        (_with(holidays=["2027-01-01", 20270101]), "holidays[1] must be a date string"),
        (_with(holidays=["2027/01/01"]), "holidays[0] '2027/01/01' is not an ISO date"),
        (_with(holidays=["2027-02-30"]), "holidays[0] '2027-02-30' is not a valid date"),
        (
            _with(holidays=["2027-01-01", "2026-12-31"]),
            "holidays[1] 2026-12-31 is not in year 2027",
        ),
        (_with(workdays=["2028-01-02"]), "workdays[0] 2028-01-02 is not in year 2027"),
        (_with(workdays=["2027-02-03"]), "workdays[0] 2027-02-03 is a Wednesday"),
        (
            _with(holidays=["2027-01-01", "2027-09-26"]),
            "listed both as holiday and as workday: 2027-09-26",
        ),
        (
            _with(holidays=["2027-01-01", "2027-10-01", "2027-01-01"]),
            "holidays[2] 2027-01-01 is listed twice (also holidays[0])",
        ),
        (_with(workdays=["2027-09-26", "2027-09-26"]), "workdays[1] 2027-09-26 is listed twice"),
        (_with(source=12), "'source' must be a string"),
    ],
)
def test_schedule_file_errors(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad-2027.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScheduleFileError) as info:
        load_schedule_file(path)
    message = str(info.value)
    assert str(path) in message
    assert problem in message
    assert isinstance(info.value, ValueError)


def test_schedule_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ScheduleFileError, match=r"missing\.json: file not found"):
        load_schedule_file(tmp_path / "missing.json")


def test_schedule_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.json"
    raw = {**_good(), "source": "国务院办公厅"}
    path.write_bytes(json.dumps(raw, ensure_ascii=False).encode("gbk"))
    with pytest.raises(ScheduleFileError, match="not UTF-8"):
        load_schedule_file(path)


def test_schedule_file_defaults_source_to_file_name(tmp_path: Path) -> None:
    path = tmp_path / "notice.json"
    path.write_text(_without("source"), encoding="utf-8")
    assert load_schedule_file(path).source == "schedule file notice.json"


# --------------------------------------------------------------------------- time zone


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        ("2026-09-30T15:59:59+00:00", "2026-09-30"),  # 23:59:59 in China
        ("2026-09-30T16:00:00+00:00", "2026-10-01"),  # midnight in China
        ("2026-09-30T16:30:00+00:00", "2026-10-01"),
        ("2026-10-01T07:59:59+08:00", "2026-10-01"),
        ("2026-09-30T09:30:00-07:00", "2026-10-01"),  # Los Angeles morning
    ],
)
def test_cst_date(instant: str, day: str) -> None:
    assert cst_date(datetime.fromisoformat(instant)) == D(day)


def test_cst_date_rejects_naive() -> None:
    with pytest.raises(ValueError, match="aware"):
        cst_date(datetime(2026, 9, 30, 16, 30))


def test_day_boundaries_in_china() -> None:
    assert start_of_day(D("2026-10-01")) == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert end_of_day(D("2026-10-13")) == datetime(2026, 10, 13, 16, tzinfo=UTC)


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings pointing at a fresh data dir whose read model `onechain db upgrade` made;
    get_settings is cached, so clear it."""
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    reset_engines()
    create_read_model(get_settings().resolved_database_url)
    yield tmp_path / "data"
    reset_engines()
    get_settings.cache_clear()


def forget_read_model(data_dir: Path) -> None:
    """Delete the fixture's read model, so that the next `db upgrade` makes it anew."""
    reset_engines()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data_dir / 'readmodel.sqlite3'}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def admin(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An administrator signed in for the CLI (loading a calendar needs one)."""
    session = tmp_path / "session.json"
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(session))
    return sign_in_cli(session, "administrator", user_id="cal-admin")


def _stored() -> dict[int, YearSchedule]:
    """The schedules in the configured (shared) database."""
    return stored_schedules(ready_engine(get_settings().resolved_database_url))


def _fake_facade(monkeypatch: pytest.MonkeyPatch, result: int | Exception) -> list[Credentials]:
    """The broadcast stands in for Temporal here; tests/test_calendar_reload.py runs it
    against a real server."""
    calls: list[Credentials] = []

    async def broadcast_calendar_reload(
        credentials: Credentials, refused: object = None, **options: object
    ) -> int:
        calls.append(credentials)
        if isinstance(result, Exception):
            raise result
        return result

    module = types.ModuleType("client.facade")
    module.broadcast_calendar_reload = broadcast_calendar_reload  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "client.facade", module)
    return calls


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (["2026-09-30", "5"], "2026-10-13\n"),
        (["2026-09-18", "10", "--pause", "2026-09-23:2026-09-24"], "2026-10-12\n"),
        (
            [
                "2026-09-18",
                "10",
                "--pause",
                "2026-09-23:2026-09-23",
                "--pause",
                "2026-09-24:2026-09-24",
            ],
            "2026-10-12\n",
        ),
        (["2026-10-03", "0"], "2026-10-03\n"),
        (["2026-12-20", "10"], "2027-01-04 provisional\n"),
        (["2040-03-01", "5"], "2040-03-08 provisional\n"),
    ],
)
def test_cli_due(data_dir: Path, runner: CliRunner, args: list[str], output: str) -> None:
    result = runner.invoke(app, ["calendar", "due", *args])
    assert result.exit_code == 0, result.output
    assert result.stdout == output


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["2026-9-30", "5"], "DATE '2026-9-30'"),
        (["2026-02-30", "5"], "DATE '2026-02-30'"),
        (["tomorrow", "5"], "DATE 'tomorrow'"),
        (["0001-01-05", "5"], "DATE '0001-01-05' is outside the years"),
        (["9999-12-31", "5"], "DATE '9999-12-31' is outside the years"),
        (["2026-09-30", "five"], "DAYS 'five'"),
        (["--", "2026-09-30", "-1"], "DAYS '-1'"),
        (["2026-09-30", "1000000000"], "DAYS '1000000000' is more than 1000"),
        (["2026-09-30", "5", "--pause", "2026-09-23"], "--pause '2026-09-23'"),
        (["2026-09-30", "5", "--pause", "2026-09-23:soon"], "--pause '2026-09-23:soon': END"),
        (["2026-09-30", "5", "--pause", "2026-09-24:2026-09-23"], "END is before START"),
    ],
)
def test_cli_due_bad_input(data_dir: Path, runner: CliRunner, args: list[str], names: str) -> None:
    result = runner.invoke(app, ["calendar", "due", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert names in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_load_then_due_is_official(
    data_dir: Path, runner: CliRunner, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_facade(monkeypatch, 0)
    assert runner.invoke(app, ["calendar", "due", "2026-12-20", "10"]).stdout.endswith(
        "provisional\n"
    )
    result = runner.invoke(app, ["calendar", "load", str(EXAMPLE_2027)])
    assert result.exit_code == 0, result.output
    assert "Loaded 2027: 29 holidays, 6 make-up working days" in result.stdout
    assert "Notified 0 running case(s)" in result.stdout
    assert "shared database" in result.stdout
    assert _stored()[2027] == load_schedule_file(EXAMPLE_2027)
    assert not (data_dir / "calendars").exists()  # nothing in this machine's folder
    result = runner.invoke(app, ["calendar", "due", "2026-12-20", "10"])
    assert result.stdout == "2027-01-04\n"


def test_cli_load_needs_an_administrator(
    data_dir: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = tmp_path / "session.json"
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(session))
    calls = _fake_facade(monkeypatch, 0)
    sign_in_cli(session, "coordinator", user_id="cal-coordinator")
    result = runner.invoke(app, ["calendar", "load", str(EXAMPLE_2027)])
    assert result.exit_code == 2
    assert "administrator" in result.stderr
    assert 2027 not in _stored() and not calls


def test_cli_load_bad_file(data_dir: Path, runner: CliRunner, tmp_path: Path, admin: str) -> None:
    bad = tmp_path / "2027.json"
    bad.write_text(_with(workdays=["2027-02-03"]), encoding="utf-8")
    result = runner.invoke(app, ["calendar", "load", str(bad)])
    assert result.exit_code == 2
    assert str(bad) in result.stderr and "Wednesday" in result.stderr
    assert 2027 not in _stored()


def test_cli_load_notifies_running_cases(
    data_dir: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, admin: str
) -> None:
    calls = _fake_facade(monkeypatch, 3)
    result = runner.invoke(app, ["calendar", "load", str(EXAMPLE_2027)])
    assert result.exit_code == 0, result.output
    assert "Notified 3 running case(s)" in result.stdout
    [credentials] = calls
    assert credentials.actor.user_id == admin and credentials.grant.label() == "administrator"


def test_cli_load_temporal_unreachable(
    data_dir: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, admin: str
) -> None:
    _fake_facade(monkeypatch, RuntimeError("Failed client connect: connection refused"))
    result = runner.invoke(app, ["calendar", "load", str(EXAMPLE_2027)])
    assert result.exit_code == 3
    assert "Temporal is unreachable" in result.stderr
    assert 2027 in _stored()


def test_cli_load_does_not_hide_facade_bugs(
    data_dir: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, admin: str
) -> None:
    _fake_facade(monkeypatch, KeyError("bug"))
    result = runner.invoke(app, ["calendar", "load", str(EXAMPLE_2027)])
    assert isinstance(result.exception, KeyError)


def test_cli_show(data_dir: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["calendar", "show", "2026"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2026: official")
    assert "2026-10-01 Thu – 2026-10-07 Wed (7 days)" in result.stdout
    assert "2026-10-10 Sat" in result.stdout

    result = runner.invoke(app, ["calendar", "show", "2027"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2027: PROVISIONAL")
    assert "calendar load" in result.stdout


def test_cli_show_bad_year(data_dir: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["calendar", "show", "0"])
    assert result.exit_code == 2
    assert "YEAR 0 is outside" in result.stderr


def test_cli_imports_a_schedule_file_left_by_an_older_version_once(
    data_dir: Path, runner: CliRunner
) -> None:
    """An office upgraded from file storage keeps its loaded years: the new database
    takes them from this machine's folder once, then never reads the folder again."""
    forget_read_model(data_dir)
    save_schedule(data_dir / "calendars", load_schedule_file(EXAMPLE_2027))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["calendar", "due", "2026-12-20", "10"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "2027-01-04\n"
    (data_dir / "calendars" / "2027.json").unlink()
    assert runner.invoke(app, ["calendar", "due", "2026-12-20", "10"]).stdout == "2027-01-04\n"


def test_cli_damaged_old_schedule_file_stops_the_import_and_says_which(
    data_dir: Path, runner: CliRunner
) -> None:
    forget_read_model(data_dir)
    (data_dir / "calendars").mkdir(parents=True)
    (data_dir / "calendars" / "2027.json").write_text("{", encoding="utf-8")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "2027.json" in result.stderr and "move it out" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    (data_dir / "calendars" / "2027.json").unlink()  # moved aside: nothing was half done
    reset_engines()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["calendar", "due", "2026-09-30", "5"])
    assert result.exit_code == 0 and result.stdout == "2026-10-13\n"


@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles", "Asia/Shanghai"])
def test_cli_due_subprocess_any_server_time_zone(tmp_path: Path, tz: str) -> None:
    """The installed command gives the same answer whatever the host's TZ."""
    script = Path(sys.executable).parent / "onechain"
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from cli.app import main; main()"]
    )
    env = {**os.environ, "TZ": tz, "ONECHAIN_DATA_DIR": str(tmp_path / "data")}
    subprocess.run([*command, "db", "upgrade"], env=env, cwd=tmp_path, timeout=60, check=True)
    result = subprocess.run(
        [*command, "calendar", "due", "2026-09-30", "5"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2026-10-13\n"


def test_cli_load_subprocess_temporal_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 3, not a crash at interpreter shutdown (temporalio/sdk-python#300), every time."""
    pytest.importorskip("client.facade")
    script = Path(sys.executable).parent / "onechain"
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from cli.app import main; main()"]
    )
    session = tmp_path / "session.json"
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        sign_in_cli(session, "administrator", user_id="cal-admin")
    finally:
        get_settings.cache_clear()
    env = {
        **os.environ,
        "ONECHAIN_DATA_DIR": str(tmp_path / "data"),
        "ONECHAIN_SESSION_FILE": str(session),
        "TEMPORAL_ADDRESS": "127.0.0.1:1",  # nothing listens on port 1
    }
    for _ in range(3):
        result = subprocess.run(
            [*command, "calendar", "load", str(EXAMPLE_2027)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert result.returncode == 3, result.stderr
        assert "Temporal is unreachable" in result.stderr
        assert "Loaded 2027" in result.stdout
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        assert 2027 in _stored()
    finally:
        get_settings.cache_clear()
