"""The calendar snapshot a new case computes its deadlines with.

Run as a local activity only when the starter did not pass a snapshot in; the
result lands in history, so replay never consults live calendar data.
"""

from __future__ import annotations

from temporalio import activity

from activities.projection import read_model_engine
from domain.calendar import CalendarData, CalendarRequest
from readmodel.calendar_store import calendar_from_store


@activity.defn(name="load_calendar")
def load_calendar(request: CalendarRequest) -> CalendarData:
    """From the office's schedules in the shared database, as admission does."""
    return calendar_from_store(read_model_engine(), request.first_year, request.last_year)
