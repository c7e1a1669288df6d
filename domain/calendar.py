"""Working-day arithmetic for statutory time limits (DOMAIN.md rules 1, 2, 4, 5, 8).

The arithmetic is pure: it works on a :class:`CalendarData` snapshot, never on
live library data, so a workflow can keep the snapshot in its state and replay
deterministically. Where the snapshot comes from (``chinese_calendar``,
``holidays``, loaded schedule files) is ``domain.calendar_sources``' job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, model_validator


class YearSchedule(BaseModel):
    """One year's holiday schedule.

    ``official`` is True when it comes from the State Council's notice for that
    year; False when it is a provisional guess from the statutory holidays only.
    """

    model_config = ConfigDict(frozen=True)

    year: int
    official: bool
    holidays: list[date] = Field(default_factory=list, description="days off (any weekday)")
    workdays: list[date] = Field(
        default_factory=list, description="make-up working days (调休) on weekends"
    )
    source: str = ""

    @model_validator(mode="after")
    def _dates_in_year(self) -> YearSchedule:
        for field_name in ("holidays", "workdays"):
            for day in getattr(self, field_name):
                if day.year != self.year:
                    raise ValueError(f"{field_name}: {day.isoformat()} is not in year {self.year}")
        overlap = set(self.holidays) & set(self.workdays)
        if overlap:
            listed = ", ".join(sorted(d.isoformat() for d in overlap))
            raise ValueError(f"days listed as both holiday and workday: {listed}")
        return self


class CalendarData(BaseModel):
    """The schedules a computation may use, keyed by year.

    A year missing from ``years`` is treated as weekends-only and provisional.
    """

    model_config = ConfigDict(frozen=True)

    years: dict[int, YearSchedule] = Field(default_factory=dict)

    def covering(self, first_year: int, last_year: int) -> CalendarData:
        """A smaller snapshot with only the years a case can plausibly touch."""
        return CalendarData(
            years={y: s for y, s in self.years.items() if first_year <= y <= last_year}
        )


#: A case's calendar snapshot covers the years around its acceptance year: one before
#: (late corrections), three after (statutory limits with extensions and stops).
SNAPSHOT_YEARS_BEFORE, SNAPSHOT_YEARS_AFTER = 1, 3


class CalendarRequest(BaseModel):
    """Which years a case's snapshot must cover."""

    first_year: int
    last_year: int


class Pause(BaseModel):
    """A stopped clock: working days ``start``..``end`` inclusive do not count.

    ``end`` is None while the pause is still running.
    """

    model_config = ConfigDict(frozen=True)

    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class DueDate:
    """The result of a due-date computation.

    ``provisional``: some counted day lies in a year without an official schedule.
    ``stopped``: an open pause covers the counting, so the date assumes the clock
    restarts tomorrow and will move when it really does.
    """

    due: date
    provisional: bool = False
    stopped: bool = False

    def __str__(self) -> str:
        return self.due.isoformat() + (" provisional" if self.provisional else "")


#: Working-day calendars by their snapshot's content: every case admitted with the same
#: schedules shares one (see :func:`shared_work_calendar`). Few distinct snapshots exist
#: at once (one per admission window and reload), so the cache is small and simply
#: emptied when full.
_SHARED: dict[str, WorkCalendar] = {}
SHARED_CALENDARS = 64


def shared_work_calendar(data: CalendarData) -> WorkCalendar:
    """The process's one :class:`WorkCalendar` for a snapshot with ``data``'s content.

    Why: each case kept its own decoded copy of the same schedules and built its own
    day sets from it, about a sixth of what a cached case holds in a worker. Both are
    frozen and equal by content, so sharing them changes no answer and replay takes
    the same path; a race between two workflow threads at worst builds one twice.
    """
    key = data.model_dump_json()
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= SHARED_CALENDARS:
            _SHARED.clear()
        found = _SHARED.setdefault(key, WorkCalendar(data))
    return found


class WorkCalendar:
    """Answers working-day questions from one :class:`CalendarData` snapshot."""

    def __init__(self, data: CalendarData) -> None:
        self.data = data

    @cached_property
    def _holidays(self) -> frozenset[date]:
        return frozenset(d for s in self.data.years.values() for d in s.holidays)

    @cached_property
    def _workdays(self) -> frozenset[date]:
        return frozenset(d for s in self.data.years.values() for d in s.workdays)

    def is_official(self, year: int) -> bool:
        schedule = self.data.years.get(year)
        return schedule is not None and schedule.official

    def is_working_day(self, day: date) -> bool:
        """Mon–Fri minus holidays, plus make-up working weekends (rule 1)."""
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        return day.weekday() < 5

    def _counts(self, day: date, pauses: Sequence[Pause]) -> bool:
        return self.is_working_day(day) and not any(p.covers(day) for p in pauses)

    def add_working_days(
        self,
        start: date,
        days: int,
        pauses: Iterable[Pause] = (),
        *,
        today: date | None = None,
    ) -> DueDate:
        """The due day of a limit of ``days`` working days starting on ``start``.

        The start day never counts (rule 2); a limit of 0 is due on the start day.
        An open pause is assumed to end on ``today`` (or on its start day when
        ``today`` is not given) and the result is marked ``stopped``.
        """
        if days < 0:
            raise ValueError(f"limit must be >= 0 working days, got {days}")
        closed: list[Pause] = []
        stopped = False
        for pause in pauses:
            if pause.end is None:
                stopped = True
                assumed_end = max(pause.start, today or pause.start)
                closed.append(Pause(start=pause.start, end=assumed_end))
            else:
                closed.append(pause)
        day = start
        counted = 0
        provisional = False
        while counted < days:
            day += timedelta(days=1)
            if self._counts(day, closed):
                counted += 1
            if not self.is_official(day.year):
                provisional = True
        return DueDate(due=day, provisional=provisional, stopped=stopped)

    def working_days_between(self, after: date, through: date, pauses: Sequence[Pause] = ()) -> int:
        """Counted working days in ``(after, through]``; 0 when ``through <= after``."""
        count = 0
        day = after
        while day < through:
            day += timedelta(days=1)
            if self._counts(day, pauses):
                count += 1
        return count

    def days_left(
        self,
        today: date,
        due: date,
        pauses: Sequence[Pause] = (),
        *,
        started_on: date | None = None,
    ) -> int:
        """Working days left (剩余, DOMAIN rule 9): the counted working days from the later
        of ``today`` and the day after ``started_on`` (the acceptance day never counts),
        through the due day. A 15-day limit shows 15 on the acceptance day and 1 on the
        due day; after the due day, minus the working days late.

        Screens call :func:`domain.deadlines.days_left` with a clock, which passes its
        start day; without ``started_on`` today counts when it is a working day.
        """
        if today <= due:
            first = today if started_on is None else max(today, started_on + timedelta(days=1))
            # At least 1 while not late, even when the due day itself does not count
            # (a limit of 0 accepted online on a holiday is due that same day).
            return max(1, self.working_days_between(first - timedelta(days=1), due, pauses))
        return -self.working_days_between(due, today, pauses)

    def warning_day(
        self, start: date, due: date, threshold: int, pauses: Sequence[Pause] = ()
    ) -> date:
        """The first day on which at most ``threshold`` working days are left.

        Walks back from the due day over counted working days; never earlier than
        the day after ``start``.
        """
        day = due
        counted = 0
        first = start + timedelta(days=1)
        while day >= first:
            if self._counts(day, pauses):
                counted += 1
                if counted == threshold:
                    # Non-counted days just before (a weekend) already have only
                    # ``threshold`` days left, so the warning starts on the first of them.
                    while day > first and not self._counts(day - timedelta(days=1), pauses):
                        day -= timedelta(days=1)
                    return day
            day -= timedelta(days=1)
        return first


def warning_threshold(limit_days: int, fraction: float = 0.2) -> int:
    """Working days left at which the yellow card shows: max(1, 20% of the limit)."""
    return max(1, int(limit_days * fraction))
