"""七天双公示 late: a licensing decision not published within N working days of the
decision (office calendar).

Fires for a decision published after its limit (when the ``published`` row arrives)
and for one still unpublished past its limit (a state check over the read model's
open publication tasks, once per run at the end of the trail). Both are the same
happening and share one key, so a late publication found while still pending is
not reported again when it is finally published.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import cast

from pydantic import BaseModel, Field
from sqlmodel import select

from domain.aftercare import PUBLICATION_DAYS
from domain.departments import department_name
from domain.timezone import CST
from readmodel.tables import TaskRecord
from supervision import monthly
from supervision.rule import Context, Finding, Severity

PUBLICATION = "publication"


class Thresholds(BaseModel):
    working_days: int = Field(
        default=PUBLICATION_DAYS, ge=0, le=60, description="working days to publish a decision"
    )


class PublicationLate:
    code = "publication_late"
    name_zh = "七天双公示超期"
    basis = (
        "青岛市《关于深化放管服改革进一步优化政务环境的意见》：全面落实行政许可和行政处罚"
        "“七天双公示”制度,除法律法规另有规定外,将行政许可、行政处罚等信息自作出行政决定之日起"
        "7个工作日内,在“信用青岛”网站上公开。"
    )
    severity = Severity.MEDIUM
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        limit = cast(Thresholds, context.thresholds).working_days
        published = {
            (r.case_no, (r.data or {}).get("task_id")): r
            for r in context.new_rows
            if r.kind == "published" and r.case_no
        }
        if published:
            tasks = monthly.tasks_of_kind(
                context.session, (case_no for case_no, _ in published), PUBLICATION
            )
            for key, row in published.items():
                task = tasks.get(key)
                if task is not None:
                    day = row.at.astimezone(CST).date()
                    yield from self._if_late(context, limit, task, day, row.seq, published=True)
        if context.final:
            today = context.now.astimezone(CST).date()
            pending = context.session.exec(
                select(TaskRecord)
                .where(TaskRecord.status == "open")
                .where(TaskRecord.kind == PUBLICATION)
            ).all()
            for task in pending:
                yield from self._if_late(context, limit, task, today, None, published=False)

    def _if_late(
        self,
        context: Context,
        limit: int,
        task: TaskRecord,
        day: date,
        seq: int | None,
        *,
        published: bool,
    ) -> Iterator[Finding]:
        decided_on = task.started_at.astimezone(CST).date()
        due = monthly.due_day(context.calendar, decided_on, limit)
        if day <= due:
            return
        late = context.calendar.working_days_between(due, day)
        what = f"于 {day} 才公示" if published else f"至 {day} 仍未公示"
        department = (task.departments or [None])[0]
        who = f"（{department_name(department)}）" if department else ""
        yield Finding(
            rule=self.code,
            key=f"{self.code}:{task.case_no}:{task.task_id}",
            case_no=task.case_no,
            severity=self.severity,
            sentence=(
                f"案件 {task.case_no} 的许可决定{who}于 {decided_on} 作出，应于 {due} 前公示，"
                f"{what}，超期 {late} 个工作日（七天双公示）。"
            ),
            department=department,
            event_seqs=(seq,) if seq is not None else (),
        )


RULE = PublicationLate()
