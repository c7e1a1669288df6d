"""What an action form shows around its fields: which task to preselect, a task's
department and due date, the due date an extension or a stopped clock would give,
and the officers of a department.

Previews use the domain's own deadline code (``domain.deadlines``) on a copy of the
task's clock, with the office's working-day calendar the console reads (the one the
workers load); the workflow computes the real date when the action is sent.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlmodel import select

from domain import deadlines
from domain.calendar import WorkCalendar
from domain.case import CaseState, Clock, Task
from tui.desk import DayCounter

#: Sorts after every task that has a limit.
NO_LIMIT = 10**6


def urgency(task: Task, days: DayCounter, today: date) -> tuple[int, date]:
    """Fewer working days left first (late tasks have negative days); then the
    earlier due date; tasks without a limit last."""
    left = days.of(today, task.clock)
    if left is None or task.clock is None:
        return (NO_LIMIT, date.max)
    return (left, task.clock.due_on)


def most_urgent(tasks: list[Task], days: DayCounter, today: date) -> Task | None:
    """The task a form preselects: the late one, else the one due soonest."""
    return min(tasks, key=lambda t: urgency(t, days, today), default=None)


def undecided_departments(task: Task) -> list[str]:
    return [p.department for p in task.parts if p.verdict is None] or list(task.departments)


def extended_due(clock: Clock, extra_days: int, calendar: WorkCalendar, today: date) -> date:
    """The due date ``clock`` would have with ``extra_days`` more working days."""
    preview = clock.model_copy(deep=True)
    preview.extension_days = extra_days
    deadlines.recompute(preview, calendar, today)
    return preview.due_on


def stopped_due(clock: Clock, calendar: WorkCalendar, today: date) -> date:
    """The due date ``clock`` would have if it stopped today and resumed today: the
    date the case page shows while stopped (it moves on each stopped day)."""
    preview = clock.model_copy(deep=True)
    deadlines.pause(preview, today)
    deadlines.recompute(preview, calendar, today)
    return preview.due_on


def case_clock(state: CaseState) -> Clock:
    return state.promised


def department_officers(engine: Engine, department: str) -> list[tuple[str, str]]:
    """(user id, name) of the enabled people who review for ``department``, from the
    users table the workers check tokens against; empty when none are recorded."""
    from readmodel.accounts import UserRecord
    from readmodel.database import read_session

    grant = f"reviewer:{department}"
    with read_session(engine) as session:
        users = session.exec(select(UserRecord).where(UserRecord.enabled)).all()
    return sorted((u.user_id, u.name) for u in users if grant in (u.grants or []))
