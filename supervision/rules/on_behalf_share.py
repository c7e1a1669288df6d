"""Decisions made on behalf above a share: in a month, the share of a department's
decisions that a supervisor recorded for it (``decided_on_behalf``).

Acting on behalf keeps a stuck case moving; when it becomes the usual way a
department's cases are decided, the department is not deciding them itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import cast

from pydantic import BaseModel, Field

from domain.departments import department_name
from supervision import monthly
from supervision.rule import Context, Finding, Severity

ON_BEHALF = "decided_on_behalf"
DECISIONS = ("decided", ON_BEHALF)


class Thresholds(BaseModel):
    max_share_percent: float = Field(
        default=10, ge=0, le=100, description="share of a department's decisions in a month"
    )
    min_decisions: int = Field(
        default=10, ge=1, le=100_000, description="decisions a department needs in the month"
    )


class OnBehalfShare:
    code = "on_behalf_share"
    name_zh = "代为决定比例过高"
    basis = (
        "执法全过程记录制度（青岛市《关于深化放管服改革进一步优化政务环境的意见》）："
        "决定应由承办部门作出并留痕。代为决定的比例上限为本地监察口径。"
    )
    severity = Severity.MEDIUM
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        limits = cast(Thresholds, context.thresholds)
        for month in monthly.months_due(context, DECISIONS):
            rows = monthly.rows_in_month(
                context.session, month, DECISIONS, monthly.through_id(context)
            )
            decisions: dict[str, int] = defaultdict(int)
            on_behalf: dict[str, list[monthly.Row]] = defaultdict(list)
            for row in rows:
                if not row.department:
                    continue
                decisions[row.department] += 1
                if row.kind == ON_BEHALF:
                    on_behalf[row.department].append(row)
            for department, behalf in sorted(on_behalf.items()):
                total = decisions[department]
                share = monthly.percent(len(behalf), total)
                if total < limits.min_decisions or share <= limits.max_share_percent:
                    continue
                yield Finding(
                    rule=self.code,
                    key=f"{self.code}:{department}:{month}",
                    case_no=None,
                    severity=self.severity,
                    sentence=(
                        f"{department_name(department)} {month} 的 {total} 个决定中有 "
                        f"{len(behalf)} 个由督办人员代为作出（{share:.0f}%，上限 "
                        f"{limits.max_share_percent:g}%），请核查该部门为何未自行决定。"
                    ),
                    department=department,
                    audit_ids=tuple(r.id for r in behalf),
                )


RULE = OnBehalfShare()
