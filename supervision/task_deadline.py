"""Shared by the rules whose subject is one kind of task that must close within N
working days of its start (a decision's publication, a 差评's rectification): each task
that closed late (its closing event among the new rows) or is still open past the limit
(a state check, once per run at the end of the trail).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlmodel import select

from domain.timezone import CST
from readmodel.tables import TaskRecord
from supervision import monthly
from supervision.rule import Context


@dataclass(frozen=True)
class LateTask:
    task: TaskRecord
    started_on: date
    due: date
    day: date  # the day it closed, or today while open
    late_days: int
    closed: bool
    seq: int | None  # the closing event's, when closed

    @property
    def department(self) -> str | None:
        return (self.task.departments or [None])[0]


def late_tasks(
    context: Context, limit: int, task_kind: str, closing_kind: str
) -> Iterator[LateTask]:
    closed = {
        (r.case_no, (r.data or {}).get("task_id")): r
        for r in context.new_rows
        if r.kind == closing_kind and r.case_no
    }
    if closed:
        tasks = monthly.tasks_of_kind(context.session, (c for c, _ in closed), task_kind)
        for key, row in closed.items():
            task = tasks.get(key)
            if task is not None:
                yield from _if_late(context, limit, task, row.at.astimezone(CST).date(), row.seq)
    if context.final:
        today = context.now.astimezone(CST).date()
        for task in context.session.exec(
            select(TaskRecord).where(TaskRecord.status == "open", TaskRecord.kind == task_kind)
        ).all():
            yield from _if_late(context, limit, task, today, None)


def _if_late(
    context: Context, limit: int, task: TaskRecord, day: date, seq: int | None
) -> Iterator[LateTask]:
    started_on = task.started_at.astimezone(CST).date()
    due = monthly.due_day(context.calendar, started_on, limit)
    if day > due:
        late = context.calendar.working_days_between(due, day)
        yield LateTask(task, started_on, due, day, late, seq is not None, seq)
