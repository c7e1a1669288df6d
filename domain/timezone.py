"""China Standard Time, without touching the tz database.

Deadline day boundaries are in Asia/Shanghai (DOMAIN.md rule 3). China has had a
fixed UTC+8 offset with no daylight saving since 1991, so a fixed-offset zone is
exact for every date this system handles, and it needs no tzdata file access,
which keeps replaying a case free of file reads.
"""

from datetime import UTC, date, datetime, time, timedelta, timezone

CST = timezone(timedelta(hours=8), "Asia/Shanghai")


def cst_date(instant: datetime) -> date:
    """The calendar day in China of an aware instant."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(CST).date()


def start_of_day(day: date) -> datetime:
    """00:00 China time of ``day``, as an aware UTC instant."""
    return datetime.combine(day, time.min, tzinfo=CST).astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """24:00 China time of ``day`` (= 00:00 of the next day), as an aware UTC instant.

    A task is overdue after the end of its due day (DOMAIN.md rule 3).
    """
    return start_of_day(day + timedelta(days=1))
