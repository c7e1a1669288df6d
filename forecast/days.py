"""Working-day indices: the office calendar as a ruler, so the forecast counts in
working days with integer arithmetic (the same calendar the cases' clocks use)."""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta

from domain.calendar import WorkCalendar


class WorkingDays:
    """Working days from ``first`` to ``last``; ``index(d)`` is how many of them are on or
    before ``d`` (so two indices subtract to the working days between two dates)."""

    def __init__(
        self, calendar: WorkCalendar, first: date, last: date, off: frozenset[date] = frozenset()
    ) -> None:
        """``off``: extra days off (a what-if holiday); the statutory rules then count the
        working days around them, so every deadline after them moves as the law says."""
        self.first, self.last = first, last
        self.calendar = calendar
        self.days: list[date] = [
            first + timedelta(n)
            for n in range((last - first).days + 1)
            if calendar.is_working_day(first + timedelta(n)) and first + timedelta(n) not in off
        ]

    def provisional_years(self, days: list[date]) -> list[int]:
        """Years among ``days`` without the State Council's official schedule."""
        return sorted({d.year for d in days if not self.calendar.is_official(d.year)})

    def index(self, day: date) -> int:
        return bisect_right(self.days, day)

    def on_or_after(self, day: date) -> int:
        """The index of the first working day on or after ``day``: a yellow card whose
        warning starts on a weekend is on the desk the next working day."""
        return self.index(day - timedelta(days=1)) + 1

    def at(self, index: int) -> date:
        """The working day with ``index`` (1 = the first working day in the range)."""
        return self.days[index - 1]

    def after(self, day: date, count: int) -> list[date]:
        """The ``count`` working days after ``day``."""
        start = self.index(day)
        return self.days[start : start + count]
