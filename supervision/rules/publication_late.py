"""七天双公示 late: a licensing decision not published within N working days of the
decision (office calendar).

Fires for a decision published after its limit (when the ``published`` row arrives)
and for one still unpublished past its limit (a state check over the read model's
open publication tasks, once per run at the end of the trail). Both are the same
happening and share one key, so a late publication found while still pending is
not reported again when it is finally published.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from pydantic import BaseModel, Field

from domain.aftercare import PUBLICATION_DAYS
from domain.departments import department_name
from supervision import task_deadline
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
        for late in task_deadline.late_tasks(context, limit, PUBLICATION, "published"):
            what = f"于 {late.day} 才公示" if late.closed else f"至 {late.day} 仍未公示"
            department = late.department
            who = f"（{department_name(department)}）" if department else ""
            yield Finding(
                rule=self.code,
                key=f"{self.code}:{late.task.case_no}:{late.task.task_id}",
                case_no=late.task.case_no,
                severity=self.severity,
                sentence=(
                    f"案件 {late.task.case_no} 的许可决定{who}于 {late.started_on} 作出，"
                    f"应于 {late.due} 前公示，{what}，超期 {late.late_days} 个工作日（七天双公示）。"
                ),
                department=department,
                event_seqs=(late.seq,) if late.seq is not None else (),
            )


RULE = PublicationLate()
