"""How simulated departments decide: deterministic for a seed.

Every department part of every task gets its own random stream, seeded by
``(seed, case number, task id, department)``, so a decision does not depend on the
order tasks are seen in, on timing, or on restarts: the same seed decides the same
case the same way.

* ``slow`` — the share of parts a department leaves alone until the task is overdue
  (红牌), so yellow and red cards happen; then it decides as below.
* ``approve`` — the share approved; ``return`` — the share returned for supplement
  (退回补正) with plausible missing items; the rest are rejections. A part that was
  returned once is never returned again (after the supplement it approves or rejects).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from domain.departments import department_name

#: Things a department plausibly finds missing (一次告知 lists them all at once).
MISSING_BY_DEPARTMENT: dict[str, tuple[str, ...]] = {
    "education": ("教职工资格证书复印件", "幼儿园章程（举办者签字页）", "办园经费来源证明"),
    "fire": ("消防安全疏散平面图（标注安全出口）", "消防设施检测报告", "装修材料燃烧性能证明"),
    "health": ("保健人员培训合格证明", "室内空气质量检测报告", "饮用水卫生检测报告"),
    "market": ("食品安全自查制度", "从业人员健康体检报告", "经营场所平面布局图（标注设备）"),
    "civil_affairs": ("开办资金验资证明", "住所使用证明", "拟任负责人简历"),
    "urban": ("门头牌匾设计效果图（标注尺寸、材质）", "牌匾安全承诺书"),
    "ecology": ("油烟净化设施检测报告", "排污口设置说明"),
    "public_security": ("印章样式确认表", "经办人授权委托书"),
    "bank": ("法定代表人授权委托书", "预留印鉴卡"),
    "tax": ("财务负责人身份证明", "办税人员实名信息"),
    "hrss": ("参保职工花名册", "劳动合同样本"),
    "natural_resources": ("规划总平面图（电子版）", "土地出让合同及附图", "建筑面积计算书"),
    "housing": ("施工合同", "安全生产措施资料", "监理合同"),
    "civil_defence": ("人防工程设计图", "人防易地建设申请"),
    "water": ("水土保持方案报告书",),
    "seismic": ("地震安全性评价报告",),
    "traffic": ("交通影响评价报告",),
    "quality": ("工程质量检测报告", "竣工验收报告"),
    "archives": ("工程竣工档案资料",),
}
GENERIC_MISSING = ("补充说明材料", "申请表签字页")


class Choice(StrEnum):
    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"


@dataclass(frozen=True)
class Decision:
    choice: Choice
    slow: bool  # left alone until overdue
    reason: str = ""
    missing_items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    seed: int = 0
    approve: float = 0.85
    return_share: float = 0.08
    slow: float = 0.15

    def __post_init__(self) -> None:
        for name in ("approve", "return_share", "slow"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name.removesuffix('_share')} must be between 0 and 1")
        if self.approve + self.return_share > 1.0 + 1e-9:
            raise ValueError("approve + return must be at most 1 (the rest are rejections)")

    @property
    def reject(self) -> float:
        return max(0.0, 1.0 - self.approve - self.return_share)

    def decide(self, case_no: str, task_id: str, department: str, *, may_return: bool) -> Decision:
        """The department's decision on its part of a task (the same every time)."""
        rng = random.Random(f"{self.seed}|{case_no}|{task_id}|{department}")
        slow = rng.random() < self.slow
        draw = rng.random()
        if draw < self.approve or (not may_return and draw < self.approve + self.return_share):
            return Decision(Choice.APPROVE, slow)
        if draw < self.approve + self.return_share:
            items = _missing_items(rng, department)
            return Decision(
                Choice.RETURN, slow, f"材料不齐，一次告知需补正：{'、'.join(items)}", items
            )
        name = department_name(department)
        reason = rng.choice(
            (
                f"{name}审查：现场条件不符合规定要求",
                f"{name}审查：申请事项不符合法定条件",
                f"{name}审查：材料存在实质性问题，不予许可",
            )
        )
        return Decision(Choice.REJECT, slow, reason)


def _missing_items(rng: random.Random, department: str) -> tuple[str, ...]:
    pool = MISSING_BY_DEPARTMENT.get(department, GENERIC_MISSING)
    count = min(len(pool), rng.choice((1, 1, 2)))
    return tuple(rng.sample(pool, count))
