"""一次告知 broken, the other way: a department asked the applicant for a material the
window already received, or one the applicant holds as a valid e-licence.

The engine never lets such a request through (``CaseFile._never_ask_twice``: 数据跑路代替
群众跑腿); what is left to supervise is that someone tried. Each attempt is a ``refused``
audit row whose refusal code is ``material_already_received`` (the worker's identity
interceptor records the engine's code with every refused action); each is a finding
naming the department and the person, once.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from domain.refusal import Refusal
from supervision.rule import Context, Finding, Severity


class Thresholds(BaseModel):
    pass


class AskedForHeldMaterial:
    code = "asked_for_held_material"
    name_zh = "索要已收取或已有电子证照的材料"
    basis = (
        "“一次告知、一表申请、一窗受理”的“一链”服务；"
        "能通过电子证照和共享获取的材料不再要求申请人提交（数据跑路代替群众跑腿）。"
    )
    severity = Severity.MEDIUM
    Thresholds = Thresholds

    def evaluate(self, context: Context) -> Iterable[Finding]:
        wanted = Refusal.MATERIAL_ALREADY_RECEIVED.value
        for row in context.new_rows:
            data = row.data or {}
            if row.kind != "refused" or data.get("refusal") != wanted or row.id is None:
                continue
            _, _, department = row.actor_role.partition(":")
            yield Finding(
                rule=self.code,
                key=f"{self.code}:{row.id}",
                case_no=row.case_no,
                severity=self.severity,
                sentence=(
                    f"案件 {row.case_no or '—'}：{row.actor_name or row.actor_id} 要求申请人补交已收取"
                    "或已有电子证照的材料，系统已拒绝；一次告知未落实。"
                ),
                department=department or None,
                person=row.actor_id,
                audit_ids=(row.id,),
            )


RULE = AskedForHeldMaterial()
