"""一次告知 broken: a case asked for corrections or supplements more than once.

The one-time notice (一次性告知) promises the applicant one list of everything that
is missing; each further request (a later notice, a department returning the case
for 补正) is a broken promise the supervisor should see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import cast

from pydantic import BaseModel, Field
from sqlmodel import col, select

from readmodel.audit import AuditRecord
from supervision.monthly import CHUNK
from supervision.rule import Context, Finding, Severity

#: Case event kinds that ask the applicant for corrections or supplements.
CORRECTION_KINDS = ("missing_notice", "returned")


class Thresholds(BaseModel):
    max_requests: int = Field(default=1, ge=1, le=20, description="allowed requests per case")


class RepeatedCorrection:
    code = "repeated_correction"
    name_zh = "一次告知未落实（多次要求补正）"
    basis = (
        "“一次告知、一表申请、一窗受理”的“一链”服务；"
        "山东省简化优化公共服务流程：建立健全首问负责、一次告知、并联办理、限时办结等制度。"
    )
    severity = Severity.MEDIUM
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        limit = cast(Thresholds, context.thresholds).max_requests
        touched = sorted(
            {r.case_no for r in context.new_rows if r.kind in CORRECTION_KINDS and r.case_no}
        )
        requests: dict[str, list[AuditRecord]] = defaultdict(list)
        for offset in range(0, len(touched), CHUNK):  # one query per chunk, not per case
            for row in context.session.exec(
                select(AuditRecord)
                .where(col(AuditRecord.case_no).in_(touched[offset : offset + CHUNK]))
                .where(col(AuditRecord.kind).in_(CORRECTION_KINDS))
                .order_by(col(AuditRecord.id))
            ):
                assert row.case_no is not None
                requests[row.case_no].append(row)
        for case_no in touched:
            rows = requests[case_no]
            if len(rows) <= limit:
                continue
            last = rows[-1]
            department = (last.data or {}).get("department")
            yield Finding(
                rule=self.code,
                key=f"{self.code}:{case_no}",
                case_no=case_no,
                severity=self.severity,
                sentence=(
                    f"案件 {case_no} 已 {len(rows)} 次要求申请人补正材料（上限 {limit} 次），"
                    "未做到一次告知。"
                ),
                department=department,
                person=last.actor_id,
                event_seqs=tuple(r.seq for r in rows if r.seq is not None),
                audit_ids=tuple(r.id for r in rows if r.id is not None),
            )


RULE = RepeatedCorrection()
