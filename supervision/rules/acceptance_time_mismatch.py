"""Backdated or forward-dated acceptance: the time a case was recorded as received
(受理时间, ``cases.received_at``, which the window or an import supplies and from
which the limits count) differs from when onechain actually received it (the case's
``received`` event) by more than N hours.

Backdating makes a case look handled faster than it was, or hides a late 受理;
forward-dating buys the department days it did not have. Either way the clock the
applicant was promised no longer starts when the application arrived.

The ``received`` event is stamped when the case's first workflow step runs: if no
worker ran for longer than ``max_hours`` after a case was submitted, its cases look
backdated by the length of that outage (``onechain doctor`` reports the outage).

Not checked: "accepted but left unstarted". In onechain the engine opens a case's
first tasks in the same workflow step that records its acceptance
(``CaseWorkflow._run_flow``), and both reach the trail in one projection batch; no
person can hold an accepted case back, so the record never shows one. A case waiting
for its key materials is not accepted yet (its clocks stand still by law, 行政许可法
art. 32) and the 一次告知 rule covers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from pydantic import BaseModel, Field
from sqlmodel import col, select

from domain.timezone import CST
from readmodel.tables import CaseRecord
from supervision import monthly
from supervision.rule import Context, Finding, Severity

RECEIVED = "received"


class Thresholds(BaseModel):
    max_hours: float = Field(
        default=24, ge=0, le=24 * 365, description="hours 受理时间 may differ from receipt"
    )


class AcceptanceTimeMismatch:
    code = "acceptance_time_mismatch"
    name_zh = "受理时间与系统收件时间不符（倒签或提前登记）"
    basis = (
        "执法全过程记录制度（青岛市《关于深化放管服改革进一步优化政务环境的意见》：“执法全过程"
        "网上记录和网上跟踪监督,确保执法过程各环节有据可查、可回溯管理”）；《行政许可法》第三十二条、第四十二条："
        "期限自受理之日起计算。允许的时差为本地监察口径。"
    )
    severity = Severity.HIGH
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        limit = cast(Thresholds, context.thresholds).max_hours
        received = {r.case_no: r for r in context.new_rows if r.kind == RECEIVED and r.case_no}
        ordered = sorted(received)
        for offset in range(0, len(ordered), monthly.CHUNK):
            chunk = ordered[offset : offset + monthly.CHUNK]
            for case_no, claimed in context.session.exec(
                select(CaseRecord.case_no, CaseRecord.received_at).where(
                    col(CaseRecord.case_no).in_(chunk)
                )
            ):
                row = received[case_no]
                hours = (claimed - row.at).total_seconds() / 3600
                if abs(hours) <= limit:
                    continue
                how = "早于" if hours < 0 else "晚于"
                label = "倒签" if hours < 0 else "提前登记"
                yield Finding(
                    rule=self.code,
                    key=f"{self.code}:{case_no}",
                    case_no=case_no,
                    severity=self.severity,
                    sentence=(
                        f"案件 {case_no} 登记的受理时间 {claimed.astimezone(CST):%Y-%m-%d %H:%M} "
                        f"{how}系统实际收件时间 {row.at.astimezone(CST):%Y-%m-%d %H:%M} "
                        f"{abs(hours):.0f} 小时（上限 {limit:g} 小时），疑似{label}，"
                        f"请核实（收件人 {row.actor_name or row.actor_id}）。"
                    ),
                    department=(row.data or {}).get("department") or "window",
                    person=row.actor_id or None,
                    event_seqs=(row.seq,) if row.seq is not None else (),
                    audit_ids=(row.id,) if row.id is not None else (),
                )


RULE = AcceptanceTimeMismatch()
