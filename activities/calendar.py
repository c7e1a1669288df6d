"""The calendar snapshot a new case computes its deadlines with.

Run as a local activity only when the starter did not pass a snapshot in; the
result lands in history, so replay never consults live calendar data.
"""

from __future__ import annotations

from temporalio import activity

from domain.calendar import CalendarData, CalendarRequest
from domain.calendar_sources import build_calendar
from runtime.settings import get_settings


@activity.defn(name="load_calendar")
def load_calendar(request: CalendarRequest) -> CalendarData:
    return build_calendar(get_settings().calendars_dir, request.first_year, request.last_year)
