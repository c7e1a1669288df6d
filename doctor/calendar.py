"""Official holiday schedules loaded for the days new cases will count.

A case accepted today runs for up to ~60 working days plus extensions and stopped
clocks, so every year the next :data:`HORIZON_DAYS` touch needs its official schedule
(the State Council publishes next year's in October/November). A year without one
gives provisional due dates (DOMAIN.md rule 8): a warning, with the command to fix it.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine

from doctor.findings import Finding, ok, warn
from readmodel.calendar_store import calendar_from_store

HORIZON_DAYS = 120
#: Words in a schedule's source that say it is not the official notice.
EXAMPLE_MARKS = ("example", "示例", "sample", "样例")


def is_example(source: str) -> bool:
    lowered = source.lower()
    return any(mark in lowered for mark in EXAMPLE_MARKS)


def calendar_coverage(engine: Engine, today: date) -> Finding:
    horizon = today + timedelta(days=HORIZON_DAYS)
    snapshot = calendar_from_store(engine, today.year, horizon.year)
    missing = [year for year, s in sorted(snapshot.years.items()) if not s.official]
    if missing:
        years = ", ".join(map(str, missing))
        return warn(
            "calendar",
            f"the official holiday schedule for {years} is not loaded: new cases get "
            f"provisional due dates once they reach into {years}. Load the State Council's "
            "notice with `onechain calendar load FILE` (see docs/calendar-2027.example.json)",
        )
    examples = [y for y, s in sorted(snapshot.years.items()) if is_example(s.source)]
    if examples:
        years = ", ".join(map(str, examples))
        return warn(
            "calendar",
            f"the schedule loaded for {years} is an example, not the State Council's notice "
            f"(source: {snapshot.years[examples[0]].source}): due dates in {years} may be wrong. "
            "Load the official notice with `onechain calendar load FILE`",
        )
    sources = "; ".join(f"{y}: {s.source}" for y, s in sorted(snapshot.years.items()))
    return ok("calendar", f"official schedules until {horizon.isoformat()} ({sources})")
