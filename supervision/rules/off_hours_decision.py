"""Decisions recorded outside working hours: a department's decision (or a supervisor's
on its behalf) recorded on a day off or before or after office hours (China Standard
Time, the office calendar's working days).

Such a decision is not wrong in itself; it is unusual enough that a 电子监察 office
looks at who recorded it and why (a decision keyed in at night may not be the
reviewer's own).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from pydantic import BaseModel, Field, model_validator

from domain.timezone import CST
from supervision.rule import Context, Finding, Severity

#: Case event kinds that record a department's decision.
DECISION_KINDS = ("decided", "decided_on_behalf")


class Thresholds(BaseModel):
    day_starts_hour: int = Field(default=8, ge=0, le=23, description="first office hour (CST)")
    day_ends_hour: int = Field(default=18, ge=1, le=24, description="office closes (CST)")

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.day_ends_hour <= self.day_starts_hour:
            raise ValueError("day_ends_hour must be after day_starts_hour")
        return self


class OffHoursDecision:
    code = "off_hours_decision"
    name_zh = "非工作时间作出决定"
    basis = (
        "执法全过程记录制度（青岛市《关于深化放管服改革进一步优化政务环境的意见》）。"
        "该文件未规定办理时间；本规则是 onechain 的核查提示：非工作时间记录的决定请核实由谁、为何作出。"
    )
    severity = Severity.LOW
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        hours = cast(Thresholds, context.thresholds)
        for row in context.new_rows:
            if row.kind not in DECISION_KINDS or row.case_no is None or row.id is None:
                continue
            local = row.at.astimezone(CST)
            working_day = context.calendar.is_working_day(local.date())
            if working_day and hours.day_starts_hour <= local.hour < hours.day_ends_hour:
                continue
            when = "非工作日" if not working_day else "下班时间"
            yield Finding(
                rule=self.code,
                key=f"{self.code}:{row.case_no}:{row.seq}",
                case_no=row.case_no,
                severity=self.severity,
                sentence=(
                    f"案件 {row.case_no} 的决定于{when} {local:%Y-%m-%d %H:%M} 作出"
                    f"（{row.actor_name or row.actor_id}），请核实。"
                ),
                department=(row.data or {}).get("department"),
                person=row.actor_id or None,
                event_seqs=(row.seq,) if row.seq is not None else (),
                audit_ids=(row.id,),
            )


RULE = OffHoursDecision()
