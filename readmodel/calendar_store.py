"""The office's official holiday schedules, kept in the shared database.

Every machine must compute the same due dates, so a schedule loaded by an
administrator (``onechain calendar load``) is one row per year here, not a file in
one machine's data folder. :func:`calendar_from_store` is the one calendar source:
the worker's admission and reload activities, ``calendar show/due``, reports and the
console all build their snapshot with it. Like users and sessions, these rows are
the office's own records (not derived from Temporal): back them up with the database.

Schedule files kept in ``<data>/calendars/`` by older versions are imported once by
revision ``0004_calendars_departments`` (see its notes).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

from sqlalchemy import JSON, Column, Engine, String
from sqlmodel import Field, SQLModel, select

from domain.calendar import CalendarData, YearSchedule
from domain.calendar_sources import calendar_from_schedules
from readmodel.database import read_session, write_session
from readmodel.tables import UTCDateTime


class CalendarScheduleRecord(SQLModel, table=True):
    """One year's official schedule (节假日安排), as the State Council published it."""

    __tablename__ = "calendar_schedules"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    workdays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(sa_column=Column(String, nullable=False))
    loaded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    loaded_by: str = Field(default="", max_length=64)

    def schedule(self) -> YearSchedule:
        return YearSchedule(
            year=self.year,
            official=True,
            holidays=[date.fromisoformat(d) for d in self.holidays],
            workdays=[date.fromisoformat(d) for d in self.workdays],
            source=self.source,
        )


def store_schedule(engine: Engine, schedule: YearSchedule, by: str) -> None:
    """Keep ``schedule`` as its year's official schedule, replacing an older load."""
    if not schedule.official:
        raise ValueError(f"only official schedules are stored; {schedule.year} is provisional")
    with write_session(engine) as session:
        record = session.get(CalendarScheduleRecord, schedule.year) or CalendarScheduleRecord(
            year=schedule.year, source="", loaded_at=datetime.now(UTC)
        )
        record.holidays = [d.isoformat() for d in sorted(schedule.holidays)]
        record.workdays = [d.isoformat() for d in sorted(schedule.workdays)]
        record.source = schedule.source
        record.loaded_at = datetime.now(UTC)
        record.loaded_by = by
        session.add(record)


def stored_schedules(engine: Engine) -> dict[int, YearSchedule]:
    """Every loaded schedule, keyed by year."""
    with read_session(engine) as session:
        return {r.year: r.schedule() for r in session.exec(select(CalendarScheduleRecord))}


def calendar_from_store(engine: Engine, first_year: int, last_year: int) -> CalendarData:
    """The snapshot for ``first_year``..``last_year``: the office's loaded schedules,
    else the builtin ones, else provisional (``domain.calendar_sources``)."""
    return calendar_from_schedules(stored_schedules(engine), first_year, last_year)


def schedules_revision(schedules: dict[int, YearSchedule]) -> str:
    """The calendar revision of a set of loaded schedules: a digest of their days.

    Why a content digest and not a counter: every worker and the CLI derive the same
    revision from the same rows without a second table to keep in step, and loading the
    same file twice is the same revision (nothing for the cases to do). A case records
    the revision its due dates were computed with (``CaseState.calendar_revision``).
    """
    content = {
        str(year): [
            [d.isoformat() for d in sorted(s.holidays)],
            [d.isoformat() for d in sorted(s.workdays)],
        ]
        for year, s in sorted(schedules.items())
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return digest[:12]


def calendar_revision(engine: Engine) -> str:
    """The revision of the office's schedules as loaded now (see :func:`schedules_revision`)."""
    return schedules_revision(stored_schedules(engine))


class RevisedCalendars:
    """A worker's calendar source that also says which revision it read.

    One read of the schedules gives both the snapshot and its revision (a load between
    two reads cannot pair a calendar with another revision), and the snapshot built for
    a revision and span of years is kept: a `calendar load` makes every running case ask
    for the same few, and building one (the builtin years included) is most of a
    reload's activity.
    """

    def __init__(self, engine: Engine, kept: int = 32) -> None:
        self.engine = engine
        self.kept = kept
        self._built: dict[tuple[str, int, int], CalendarData] = {}
        self._last: tuple[str, dict[int, YearSchedule]] | None = None

    def __call__(
        self, first_year: int, last_year: int, wanted: str | None = None
    ) -> tuple[CalendarData, str]:
        """``wanted``: the revision the case was told of. When the schedules last read
        are that revision they are used again without a query (a load tells every case
        of the same revision); otherwise, and without ``wanted``, they are read."""
        last = self._last
        if wanted and last is not None and last[0] == wanted:
            revision, schedules = last
        else:
            schedules = stored_schedules(self.engine)
            revision = schedules_revision(schedules)
            self._last = (revision, schedules)
        key = (revision, first_year, last_year)
        found = self._built.get(key)
        if found is None:
            if len(self._built) >= self.kept:
                self._built.clear()
            found = calendar_from_schedules(schedules, first_year, last_year)
            self._built[key] = found
        return found, revision
