"""差评 not rectified in time: a bad rating (score 1–2) opens a rectification task
(整改); this fires when it was closed after N working days, or is still open past
them (a state check over the read model, once per run at the end of the trail).

Both are the same happening and share one key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from pydantic import BaseModel, Field

from domain.aftercare import RECTIFICATION_DAYS
from supervision import task_deadline
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
        for late in task_deadline.late_tasks(context, limit, RECTIFICATION, "rectified"):
            what = f"于 {late.day} 才整改完成" if late.closed else f"至 {late.day} 仍未整改"
            yield Finding(
                rule=self.code,
                key=f"{self.code}:{late.task.case_no}:{late.task.task_id}",
                case_no=late.task.case_no,
                severity=self.severity,
                sentence=(
                    f"案件 {late.task.case_no} 于 {late.started_on} 收到差评，应于 {late.due} 前"
                    f"整改，{what}，超期 {late.late_days} 个工作日。"
                ),
                department=late.department,
                event_seqs=(late.seq,) if late.seq is not None else (),
            )


RULE = BadRatingUnrectified()
