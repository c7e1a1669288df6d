"""差评 not rectified in time: a bad rating (score 1–2) opens a rectification task
(整改); this fires when it was closed after N working days, or is still open past
them (a state check over the read model, once per run at the end of the trail).

Both are the same happening and share one key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import cast

from pydantic import BaseModel, Field
from sqlmodel import select

from domain.aftercare import RECTIFICATION_DAYS
from domain.timezone import CST
from readmodel.tables import TaskRecord
from supervision import monthly
from supervision.rule import Context, Finding, Severity

RECTIFICATION = "rectification"


class Thresholds(BaseModel):
    working_days: int = Field(
        default=RECTIFICATION_DAYS, ge=0, le=120, description="working days to rectify"
    )


class BadRatingUnrectified:
    code = "bad_rating_unrectified"
    name_zh = "差评未按期整改"
    basis = (
        "山东省简化优化公共服务流程：“充分運用行政權力網路運作系統、電子監察系統、法制監督系統"
        "開展評估考核,辦事群眾可以現場或線上評價,確保服務過程可考核、有追蹤、受監督”；"
        "济宁市“开发建设了回访评价系统”。"
        "整改时限（默认 15 个工作日，onechain 整改任务的期限）为本地监察口径。"
    )
    severity = Severity.HIGH
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        limit = cast(Thresholds, context.thresholds).working_days
        done = {
            (r.case_no, (r.data or {}).get("task_id")): r
            for r in context.new_rows
            if r.kind == "rectified" and r.case_no
        }
        if done:
            tasks = monthly.tasks_of_kind(
                context.session, (case_no for case_no, _ in done), RECTIFICATION
            )
            for key, row in done.items():
                task = tasks.get(key)
                if task is not None:
                    day = row.at.astimezone(CST).date()
                    yield from self._if_late(context, limit, task, day, row.seq, done=True)
        if context.final:
            today = context.now.astimezone(CST).date()
            pending = context.session.exec(
                select(TaskRecord)
                .where(TaskRecord.status == "open")
                .where(TaskRecord.kind == RECTIFICATION)
            ).all()
            for task in pending:
                yield from self._if_late(context, limit, task, today, None, done=False)

    def _if_late(
        self,
        context: Context,
        limit: int,
        task: TaskRecord,
        day: date,
        seq: int | None,
        *,
        done: bool,
    ) -> Iterator[Finding]:
        rated_on = task.started_at.astimezone(CST).date()
        due = monthly.due_day(context.calendar, rated_on, limit)
        if day <= due:
            return
        late = context.calendar.working_days_between(due, day)
        what = f"于 {day} 才整改完成" if done else f"至 {day} 仍未整改"
        department = (task.departments or [None])[0]
        yield Finding(
            rule=self.code,
            key=f"{self.code}:{task.case_no}:{task.task_id}",
            case_no=task.case_no,
            severity=self.severity,
            sentence=(
                f"案件 {task.case_no} 于 {rated_on} 收到差评，应于 {due} 前整改，"
                f"{what}，超期 {late} 个工作日。"
            ),
            department=department,
            event_seqs=(seq,) if seq is not None else (),
        )


RULE = BadRatingUnrectified()
