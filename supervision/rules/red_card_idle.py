"""A red card left idle: a task past its due date on which nobody has acted for more
than N working days since it turned red (or since the last action on it, if later).

The red card itself is the engine's warning; this is the escalation beyond it (督办):
the supervisor hears of a card that the department is not working on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import cast

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import col, select

from domain.timezone import CST
from readmodel.tables import EventRecord, TaskRecord
from supervision.monthly import CHUNK
from supervision.rule import Context, Finding, Severity

#: Task statuses in which a department still owes an action.
WAITING_ON_DEPARTMENT = ("open",)


class Thresholds(BaseModel):
    idle_working_days: int = Field(
        default=2, ge=0, le=60, description="working days a red card may stay idle"
    )


class RedCardIdle:
    code = "red_card_idle"
    name_zh = "红牌逾期后无人办理"
    basis = (
        "限时办结制度（山东省简化优化公共服务流程：首问负责、一次告知、并联办理、限时办结）；"
        "办件到期亮红牌后仍无人办理的，由监察督办。"
    )
    severity = Severity.HIGH
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        if not context.final:  # a state rule: once per run, at the end of a catch-up
            return
        limit = cast(Thresholds, context.thresholds).idle_working_days
        today = context.now.astimezone(CST).date()
        overdue = context.session.exec(
            select(TaskRecord)
            .where(col(TaskRecord.status).in_(WAITING_ON_DEPARTMENT))
            .where(col(TaskRecord.due_on) < today)
        ).all()
        latest = _last_events(context, {task.case_no for task in overdue})
        for task in overdue:
            assert task.due_on is not None
            last_seq, last_at = latest.get((task.case_no, task.task_id), (None, None))
            since: date = task.due_on
            if last_at is not None:
                since = max(since, last_at.astimezone(CST).date())
            idle = context.calendar.working_days_between(since, today)
            if idle <= limit:
                continue
            department = (task.open_departments or task.departments or [None])[0]
            yield Finding(
                rule=self.code,
                key=f"{self.code}:{task.case_no}:{task.task_id}:{task.due_on.isoformat()}",
                case_no=task.case_no,
                severity=self.severity,
                sentence=(
                    f"案件 {task.case_no} 的“{task.name}”已于 {task.due_on} 到期（红牌），"
                    f"此后 {idle} 个工作日无人办理（上限 {limit} 个工作日），请督办。"
                ),
                department=department,
                event_seqs=(last_seq,) if last_seq is not None else (),
            )


def _last_events(
    context: Context, case_nos: set[str]
) -> dict[tuple[str, str | None], tuple[int | None, datetime | None]]:
    """The last event (seq, at) on each task of these cases: one grouped query per
    chunk of cases, not one per task."""
    found: dict[tuple[str, str | None], tuple[int | None, datetime | None]] = {}
    ordered = sorted(case_nos)
    for offset in range(0, len(ordered), CHUNK):
        for case_no, task_id, seq, at in context.session.exec(
            select(
                EventRecord.case_no,
                EventRecord.task_id,
                func.max(EventRecord.seq),
                func.max(EventRecord.at),
            )
            .where(col(EventRecord.case_no).in_(ordered[offset : offset + CHUNK]))
            .where(col(EventRecord.task_id).is_not(None))
            .group_by(col(EventRecord.case_no), col(EventRecord.task_id))
        ):
            found[(case_no, task_id)] = (seq, at)
    return found


RULE = RedCardIdle()
