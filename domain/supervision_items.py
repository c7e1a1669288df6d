"""督办 items: a finding sent to a department, answered, closed or escalated.

One pydantic model per call (DESIGN.md). The item's workflow
(``workflows.supervision_item``) decides who may take which step; these models only
check shapes. Every step carries who (the verified actor), when (workflow time) and
why (``reason``, required: a supervisor's instruction, a department's answer).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from domain.roles import Actor
from domain.text import check_plain_text


def supervision_workflow_id(finding_id: int) -> str:
    """The one workflow a finding's 督办 item runs in, so it is never opened twice."""
    return f"dubian-{finding_id}"


class ItemStatus(StrEnum):
    OPEN = "open"  # a finding nobody has sent yet (no workflow)
    SENT = "sent"  # sent to the department, awaiting its answer
    RESPONDED = "responded"  # the department answered
    ESCALATED = "escalated"  # raised to the leadership (by a supervisor, or overdue)
    CLOSED = "closed"


ITEM_STATUS_ZH: dict[ItemStatus, str] = {
    ItemStatus.OPEN: "待督办",
    ItemStatus.SENT: "已交办",
    ItemStatus.RESPONDED: "已反馈",
    ItemStatus.ESCALATED: "已升级",
    ItemStatus.CLOSED: "已办结",
}


class ItemStep(StrEnum):
    SEND = "send"
    RESPOND = "respond"
    CLOSE = "close"
    ESCALATE = "escalate"
    OVERDUE = "overdue"  # the department's answer is late: escalated by the engine


STEP_ZH: dict[ItemStep, str] = {
    ItemStep.SEND: "交办",
    ItemStep.RESPOND: "反馈",
    ItemStep.CLOSE: "办结",
    ItemStep.ESCALATE: "升级",
    ItemStep.OVERDUE: "逾期未反馈，自动升级",
}

Reason = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(check_plain_text)]


class ItemAction(BaseModel):
    """A person's step on an item. ``actor`` is replaced by the verified one."""

    actor: Actor
    reason: Reason
    request_id: str | None = Field(default=None, max_length=64)


class SendItem(ItemAction):
    """Send the finding to its department, which answers within ``respond_days``."""

    respond_days: int = Field(default=5, ge=1, le=30)


class RespondItem(ItemAction):
    pass


class CloseItem(ItemAction):
    pass


class EscalateItem(ItemAction):
    pass


class FindingBrief(BaseModel):
    """What the item needs of its finding, read by the worker from the findings table
    (never taken from the caller)."""

    id: int
    rule: str
    case_no: str | None = None
    department: str | None = None
    severity: str
    sentence: str


class StepRecord(BaseModel):
    """One step as it happened, for the item's timeline and the audit trail."""

    no: int
    step: ItemStep
    status: ItemStatus  # after the step
    actor: Actor
    reason: str
    at: datetime
    respond_by: datetime | None = None  # a send: when the answer is due


class ItemState(BaseModel):
    finding: FindingBrief
    status: ItemStatus
    steps: list[StepRecord] = Field(default_factory=list)
    respond_by: datetime | None = None


class RecordItemStep(BaseModel):
    """The step for the read model and the audit trail (written once per step)."""

    finding: FindingBrief
    step: StepRecord
    notify: list[str] = Field(default_factory=list)  # department codes or "supervisor"
