"""Why a case is late, named: which steps (and departments) used its working days,
and whether the statutory limit (法定时限) has already passed.

「整体时限超 N 个工作日」 alone names no cause. Here every step with a clock is
measured: the working days it used (from the day after it started through the day it
concluded, or today while open; stopped periods do not count, DOMAIN rules 2 and 4)
against its own limit. The steps over their limit are the cause; when none is, the
step that used the most days is named. The statutory limit is the law's (行政许可法
art. 42): once its due day has ended (DOMAIN rule 3) the case page says so in red.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.case import CaseState, Clock, Pause, Task
from domain.timezone import cst_date
from tui.desk import DayCounter
from tui.messages import Catalog


@dataclass(frozen=True)
class StepUse:
    """One step's working days against its limit."""

    task: Task
    used: int
    limit: int

    @property
    def over(self) -> int:
        return self.used - self.limit


def _closed(clock: Clock, through: date) -> list[Pause]:
    return [p if p.end is not None else Pause(start=p.start, end=through) for p in clock.pauses]


def step_uses(days: DayCounter, today: date, state: CaseState) -> list[StepUse]:
    """Every step with a clock: working days used so far (or in all, once concluded)."""
    uses = []
    for task in state.tasks:
        clock = task.clock
        if clock is None:
            continue
        end = cst_date(task.concluded_at) if task.concluded_at is not None else today
        used = days.calendar.working_days_between(clock.started_on, end, _closed(clock, end))
        uses.append(StepUse(task, used, clock.limit_days + clock.extension_days))
    return uses


def causes(days: DayCounter, today: date, state: CaseState) -> list[StepUse]:
    """The steps that used the case's days: those over their own limit, most over
    first; else the one step that used the most."""
    uses = step_uses(days, today, state)
    over = sorted((u for u in uses if u.over > 0), key=lambda u: -u.over)
    if over:
        return over
    busiest = max(uses, key=lambda u: u.used, default=None)
    return [busiest] if busiest is not None and busiest.used > 0 else []


def cause_line(catalog: Catalog, days: DayCounter, today: date, state: CaseState) -> str:
    """「耗时：T2 消防安全检查（消防救援支队）用 7 个工作日（时限 5，超 2）…」, or ""."""
    found = causes(days, today, state)
    if not found:
        return ""
    parts = []
    for use in found[:3]:
        departments = catalog.departments([p.department for p in use.task.parts])
        over = catalog.t("cause.over", days=use.over) if use.over > 0 else ""
        parts.append(
            catalog.t(
                "cause.step",
                task=f"{use.task.id} {catalog.step(state.chain, use.task.name)}",
                departments=departments,
                used=use.used,
                limit=use.limit,
                over=over,
            )
        )
    if len(found) > 3:
        parts.append(catalog.t("cause.more", count=len(found) - 3))
    return catalog.t("cause.line", steps="；".join(parts))


def statutory_passed(days: DayCounter, today: date, state: CaseState) -> int | None:
    """Working days past the statutory due day once that day has ended, else None."""
    clock = state.statutory
    if clock is None or today <= clock.due_on:
        return None
    return days.calendar.working_days_between(clock.due_on, today, _closed(clock, today))


def statutory_line(catalog: Catalog, days: DayCounter, today: date, state: CaseState) -> str:
    """「已超过法定时限 N 个工作日（法定到期 …）」, or "" while within the law's limit."""
    passed = statutory_passed(days, today, state)
    if passed is None:
        return ""
    due = state.statutory.due_on.isoformat()
    if passed == 0:
        return catalog.t("cause.statutory_day", due=due)
    return catalog.t("cause.statutory", days=passed, due=due)
