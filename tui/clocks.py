"""Who holds a case now, how many days are left, and why it is late: the words the
case list and the case page share, so they never disagree.

Days left always come from :func:`domain.deadlines.days_left` over the same clock
(the nearest running one: the case's promised limit or an open task's), with its
stopped periods; a list row without stored clocks (written before the read model
kept them) falls back to its due date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from domain.case import Clock
from tui.data import CaseListRow, Holding
from tui.desk import DayCounter
from tui.messages import Catalog


def nearest(clocks: Iterable[Clock | None]) -> Clock | None:
    """The running clock due first (the one 剩余 counts down)."""
    running = [c for c in clocks if c is not None and c.running]
    return min(running, key=lambda c: c.due_on) if running else None


def capped_left(days: DayCounter, today: date, clock: Clock | None) -> int | None:
    """Working days left on ``clock``, never more than its limit (a clock stopped on
    its first day still has at most its limit left)."""
    left = days.of(today, clock)
    if left is None or clock is None:
        return left
    return min(left, clock.limit_days + clock.extension_days)


def due_today(today: date, clock: Clock | None) -> bool:
    """The running limit's due day is today: not late until the day has ended
    (DOMAIN rule 3), whatever the limit (a 即办 step's 0 days included)."""
    return clock is not None and clock.running and clock.due_on == today


def row_clock(row: CaseListRow) -> Clock | None:
    """The clock a list row counts down (the nearest running one)."""
    return nearest([row.promised_clock, *(h.clock for h in row.holders)])


def row_due_today(today: date, row: CaseListRow) -> bool:
    """A running row whose nearest limit is due today."""
    if row.status != "running":
        return False
    clock = row_clock(row)
    if clock is not None:
        return due_today(today, clock)
    return row.due_on == today


def row_left(days: DayCounter, today: date, row: CaseListRow) -> int | None:
    """剩余 for a list row: the same clock and rule as the case page."""
    if row.status != "running":
        return None
    clock = row_clock(row)
    if clock is not None:
        return capped_left(days, today, clock)
    if row.due_on is None:
        return None
    return days.left(today, row.due_on, started_on=row.accepted_on)


def is_stopped(row: CaseListRow) -> bool:
    clocks = [row.promised_clock, *(h.clock for h in row.holders)]
    return any(h.stopped for h in row.holders) or any(
        c is not None and any(p.end is None for p in c.pauses) for c in clocks
    )


def holder_short(catalog: Catalog, holders: list[Holding]) -> str:
    """One cell: the first open task's department(s) and officer, ``+N`` for more."""
    if not holders:
        return ""
    first = holders[0]
    text = catalog.departments(first.departments[:2])
    if len(first.departments) > 2:
        text += f"+{len(first.departments) - 2}"
    if first.assignees:
        text += f"·{first.assignees[0]}"
    if len(holders) > 1:
        text += f" +{len(holders) - 1}"
    return text


def holder_line(catalog: Catalog, holders: list[Holding]) -> str:
    """Every open task: ``T3 消防审查 · 消防救援（张三）· 至 2026-05-22``."""
    parts = []
    for h in holders:
        who = catalog.departments(h.departments)
        if h.assignees:
            who += f"（{'、'.join(h.assignees)}）"
        due = catalog.t("hold.due", due=h.due_on.isoformat()) if h.due_on else ""
        stopped = catalog.t("stopped.mark") if h.stopped else ""
        parts.append(" · ".join(p for p in (f"{h.task_id} {h.name}", who, due + stopped) if p))
    return "；".join(parts)


def _pauses(catalog: Catalog, clock: Clock | None) -> str:
    if clock is None or not clock.pauses:
        return ""
    spans = [
        f"{p.start:%m-%d}–{p.end:%m-%d}" if p.end else f"{p.start:%m-%d}–" for p in clock.pauses
    ]
    return catalog.t("late.stopped", spans="、".join(spans))


def late_line(
    catalog: Catalog,
    days: DayCounter,
    today: date,
    holders: list[Holding],
    promised: Clock | None,
) -> str:
    """Why a case is late, in one line: which task (or the case's own limit), how
    many working days over, and the stopped-clock periods. Empty if nothing is late."""
    reasons = []
    for h in holders:
        left = days.of(today, h.clock) if h.clock else None
        if left is None and h.due_on is not None and h.warning == "red":
            left = days.left(today, h.due_on)
        if left is not None and ((left <= 0 and h.warning == "red") or left < 0):
            text = catalog.t("late.task", task=f"{h.task_id} {h.name}", days=-left)
            reasons.append(text + _pauses(catalog, h.clock))
    left = days.of(today, promised)
    if left is not None and promised is not None and (promised.overdue or left < 0):
        reasons.append(catalog.t("late.case", days=-left) + _pauses(catalog, promised))
    return "；".join(reasons)
