"""Changes made around onechain and refused attempts: every audit row of kind
``outside_change`` (a case changed in Temporal without onechain) or ``security``
(an attempt refused for want of a valid identity) is a finding for the supervisor."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from supervision.rule import Context, Finding, Severity

KINDS = {"outside_change": "绕过系统的变更", "security": "被拒绝的越权或伪造请求"}


class Thresholds(BaseModel):
    pass


class OutsideChange:
    code = "outside_change"
    name_zh = "绕过系统的变更与被拒绝的请求"
    basis = (
        "行政执法公示制度、执法全过程记录制度、重大执法决定法制审核制度（“三项制度”，"
        "青岛市《关于深化放管服改革进一步优化政务环境的意见》要求推行）。"
    )
    severity = Severity.HIGH
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        for row in context.new_rows:
            if row.kind not in KINDS or row.id is None:
                continue
            where = f"案件 {row.case_no} " if row.case_no else ""
            yield Finding(
                rule=self.code,
                key=f"{self.code}:{row.id}",
                case_no=row.case_no,
                severity=self.severity,
                sentence=f"{where}发生{KINDS[row.kind]}（审计第 {row.id} 行）：{row.summary}",
                person=row.actor_id or None,
                event_seqs=(row.seq,) if row.seq is not None else (),
                audit_ids=(row.id,),
            )


RULE = OutsideChange()
