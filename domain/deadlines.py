"""Deadline bookkeeping on :class:`domain.case.Clock`: pure functions the workflow calls.

Due dates are recomputed only here and only when the workflow says so (start,
extension, suspension, calendar reload), never from a live calendar on replay.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from domain.calendar import Pause, WorkCalendar, warning_threshold
from domain.case import Clock, WarningLevel
from domain.timezone import end_of_day, start_of_day

SINGLE_AUTHORITY_MAX_EXTENSION = 10  # 行政许可法 art. 42
JOINT_HANDLING_MAX_EXTENSION = 15


class ClockEvent(StrEnum):
    WARNING = "warning"
    OVERDUE = "overdue"


def max_extension(department_count: int) -> int:
    """+10 working days for one authority, +15 when several handle it jointly."""
    if department_count > 1:
        return JOINT_HANDLING_MAX_EXTENSION
    return SINGLE_AUTHORITY_MAX_EXTENSION


def new_clock(
    calendar: WorkCalendar,
    *,
    started_on: date,
    limit_days: int,
    department_count: int,
    warning_fraction: float,
    today: date,
) -> Clock:
    clock = Clock(
        started_on=started_on,
        limit_days=limit_days,
        warn_at_days_left=warning_threshold(limit_days, warning_fraction),
        max_extension_days=max_extension(department_count),
        due_on=started_on,
    )
    recompute(clock, calendar, today)
    return clock


def recompute(clock: Clock, calendar: WorkCalendar, today: date) -> None:
    """Recompute due day, provisional/stopped marks and the warning day in place."""
    result = calendar.add_working_days(
        clock.started_on, clock.limit_days + clock.extension_days, clock.pauses, today=today
    )
    clock.due_on = result.due
    clock.provisional = result.provisional
    clock.stopped = result.stopped
    if clock.limit_days == 0:
        clock.warning_on = None  # 即办件: no yellow card
    else:
        closed = [p if p.end is not None else Pause(start=p.start, end=today) for p in clock.pauses]
        clock.warning_on = calendar.warning_day(
            clock.started_on, clock.due_on, clock.warn_at_days_left, closed
        )


def pause(clock: Clock, on: date) -> None:
    clock.pauses.append(Pause(start=on))


def resume(clock: Clock, on: date) -> None:
    """Close the most recent open pause (a pause that ends the day it started still
    excludes that day)."""
    for index in range(len(clock.pauses) - 1, -1, -1):
        if clock.pauses[index].end is None:
            clock.pauses[index] = Pause(start=clock.pauses[index].start, end=on)
            return


def has_open_pause(clock: Clock) -> bool:
    return any(p.end is None for p in clock.pauses)


def next_instant(clock: Clock) -> datetime | None:
    """When this clock next needs attention; None when stopped, finished or fully fired."""
    if not clock.running or has_open_pause(clock):
        return None
    if not clock.warned and clock.warning_on is not None:
        return start_of_day(clock.warning_on)
    if not clock.overdue:
        return end_of_day(clock.due_on)
    return None


def fire_due(clock: Clock, now: datetime) -> list[ClockEvent]:
    """Mark and return the events whose instant has come. Each fires once."""
    if not clock.running or has_open_pause(clock):
        return []
    fired: list[ClockEvent] = []
    if not clock.warned and clock.warning_on is not None and now >= start_of_day(clock.warning_on):
        clock.warned = True
        fired.append(ClockEvent.WARNING)
    if not clock.overdue and now >= end_of_day(clock.due_on):
        clock.overdue = True
        if not clock.warned:
            clock.warned = True
        fired.append(ClockEvent.OVERDUE)
    return fired


def days_left(calendar: WorkCalendar, clock: Clock | None, today: date) -> int | None:
    """The working days left on ``clock`` that every screen shows (剩余, DOMAIN rule 9):
    counted from the later of today and the day after the clock started, through the
    due day; stopped days do not count, and a clock stopped now counts as resuming
    today. None when there is no running limit."""
    if clock is None or not clock.running:
        return None
    closed = [p if p.end is not None else Pause(start=p.start, end=today) for p in clock.pauses]
    return calendar.days_left(today, clock.due_on, closed, started_on=clock.started_on)


def warning_level(clock: Clock | None) -> WarningLevel:
    if clock is None or not clock.running:
        return WarningLevel.NONE
    if clock.overdue:
        return WarningLevel.RED
    if clock.warned:
        return WarningLevel.YELLOW
    return WarningLevel.NONE


def worst(levels: list[WarningLevel]) -> WarningLevel:
    if WarningLevel.RED in levels:
        return WarningLevel.RED
    if WarningLevel.YELLOW in levels:
        return WarningLevel.YELLOW
    return WarningLevel.NONE
