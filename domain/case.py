"""The state of one case, as the workflow keeps it and the Query returns it.

These models are the single description of a case shared by the engine, the
read-model projection, the CLI and the TUI.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.calendar import Pause
from domain.materials import Acceptance, Commitment, MaterialState, MaterialStatus, MissingNotice
from domain.phones import normalise_phone
from domain.roles import Actor
from domain.text import check_name, check_plain_text


class CaseStatus(StrEnum):
    RUNNING = "running"  # 办理中
    APPROVED = "approved"  # 办结（准予许可）
    NOT_APPROVED = "not_approved"  # 办结（不予许可）
    WITHDRAWN = "withdrawn"  # 撤回
    REVOKED = "revoked"  # 许可被撤销（告知承诺核查不实）


class TaskKind(StrEnum):
    REVIEW = "review"  # 审查
    JOINT_SURVEY = "joint_survey"  # 联合踏勘
    DRAWING_REVIEW = "drawing_review"  # 多图联审
    JOINT_ACCEPTANCE = "joint_acceptance"  # 联合验收
    COMBINED_EVALUATION = "combined_evaluation"  # 多评合一
    APPLICANT_EVENT = "applicant_event"  # 等待申请人（如竣工告知）
    MATERIALS = "materials"  # 补齐材料（一次告知后 / 容缺受理）
    PUBLICATION = "publication"  # 七天双公示
    VERIFICATION = "verification"  # 事中事后核查（告知承诺）
    RECTIFICATION = "rectification"  # 差评整改


class TaskStatus(StrEnum):
    OPEN = "open"  # 办理中
    RETURNED = "returned"  # 退回补正，等待申请人
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # 案件终止时未办结的任务


OPEN_TASK_STATUSES = frozenset({TaskStatus.OPEN, TaskStatus.RETURNED})


class Verdict(StrEnum):
    APPROVE = "approve"  # 同意
    REJECT = "reject"  # 不同意
    RETURN = "return"  # 退回补正


class WarningLevel(StrEnum):
    NONE = "none"
    YELLOW = "yellow"  # 黄牌预警
    RED = "red"  # 红牌超期


class SuspensionKind(StrEnum):
    """Why a clock is stopped (行政许可法 art. 45, plus chain-specific ones and 补正)."""

    HEARING = "hearing"  # 听证
    TENDERING = "tendering"  # 招标
    AUCTION = "auction"  # 拍卖
    TESTING = "testing"  # 检验
    INSPECTION = "inspection"  # 检测
    QUARANTINE = "quarantine"  # 检疫
    APPRAISAL = "appraisal"  # 鉴定
    EXPERT_REVIEW = "expert_review"  # 专家评审
    SITE_SURVEY = "site_survey"  # 现场踏勘（链条规定时）
    PUBLIC_NOTICE = "public_notice"  # 公示（链条规定时）
    INTERMEDIARY = "intermediary"  # 中介服务时间
    SUPPLEMENT = "supplement"  # 退回补正
    APPLICANT = "applicant"  # 等待申请人（如施工期间）
    OUTSIDE_LIMIT = "outside_limit"  # 不计入承诺时限的环节（如竣工后联合验收）


class Clock(BaseModel):
    """One time limit being watched: a task's step limit or the case's promised limit.

    ``due_on`` is stored, not derived on the fly: it is recomputed only on explicit
    events (start, extension, suspension, calendar reload), so replay never sees a
    different date (DESIGN.md).
    """

    started_on: date
    limit_days: int
    warn_at_days_left: int
    max_extension_days: int
    extension_days: int = 0
    pauses: list[Pause] = Field(default_factory=list)
    due_on: date
    provisional: bool = False
    stopped: bool = False
    warning_on: date | None = None
    warned: bool = False
    overdue: bool = False
    running: bool = True

    @property
    def extended(self) -> bool:
        return self.extension_days > 0


class DepartmentPart(BaseModel):
    """One department's share of a task (a joint task has several)."""

    department: str
    assignee: str | None = None
    verdict: Verdict | None = None
    comment: str = ""
    decided_by: Actor | None = None
    decided_at: datetime | None = None
    on_behalf: bool = False


class Task(BaseModel):
    id: str
    kind: TaskKind
    name: str
    stage: str
    parts: list[DepartmentPart]
    status: TaskStatus = TaskStatus.OPEN
    started_at: datetime
    concluded_at: datetime | None = None
    clock: Clock | None = None
    missing_items: list[str] = Field(default_factory=list)
    urge_count: int = 0
    awaits_event: str | None = None

    @property
    def departments(self) -> list[str]:
        return [p.department for p in self.parts]

    def part(self, department: str) -> DepartmentPart | None:
        return next((p for p in self.parts if p.department == department), None)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES

    @property
    def outcome(self) -> str:
        """The status as people read it: a finished 补齐材料 task was ``supplied`` (the
        window recorded the materials; nobody approved anything), else the status."""
        if self.kind is TaskKind.MATERIALS and self.status is TaskStatus.APPROVED:
            return "supplied"
        return self.status.value


class Suspension(BaseModel):
    id: str
    kind: SuspensionKind
    reason: str
    task_id: str | None
    start: date
    end: date | None = None
    started_by: Actor
    ended_by: Actor | None = None


class Extension(BaseModel):
    target: str  # task id, or "case"
    days: int
    reason: str
    granted_by: Actor
    granted_on: date
    new_due_on: date


class Licence(BaseModel):
    type: str
    name: str
    number: str
    department: str
    holder_name: str
    issued_on: date
    case_no: str
    valid_to: date | None = None
    revoked: bool = False
    revoked_reason: str = ""


class Rating(BaseModel):
    score: int
    comment: str
    rated_by: Actor
    rated_at: datetime


class Event(BaseModel):
    """One line of the audit log: who, when, what, why. Never personal data."""

    seq: int
    at: datetime
    kind: str
    actor: Actor
    summary: str
    reason: str = ""
    task_id: str | None = None
    department: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Applicant(BaseModel):
    """Who applies. ``id_number`` and ``phone`` are personal data: masked everywhere
    outside the workflow's own input."""

    kind: Literal["person", "organisation"] = "organisation"
    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=1, max_length=32)
    phone: str = ""


def check_applicant_text(applicant: Applicant) -> None:
    """``ValueError`` naming the field when a new applicant's name is implausible, a
    name or phone carries control characters, or the phone (optional) is not a phone
    number. The desk, the import and the worker's admission all call this."""
    try:
        check_name(applicant.name)
    except ValueError as error:
        raise ValueError(f"applicant name: {error}") from None
    try:
        check_plain_text(applicant.phone)
        if applicant.phone:
            normalise_phone(applicant.phone)
    except ValueError as error:
        raise ValueError(f"applicant phone: {error}") from None


class ApplicantView(BaseModel):
    kind: Literal["person", "organisation"]
    name: str
    id_masked: str
    phone_masked: str


class CaseState(BaseModel):
    """Everything about a case; the Query result."""

    case_no: str
    chain: str
    chain_name: str
    chain_version: int
    status: CaseStatus = CaseStatus.RUNNING
    stage: str = "受理"
    applicant: ApplicantView
    received_at: datetime
    accepted_on: date | None
    acceptance: Acceptance = Acceptance.ACCEPTED
    materials: list[MaterialStatus] = Field(default_factory=list)
    notice: MissingNotice | None = None
    commitments: list[Commitment] = Field(default_factory=list)
    rating: Rating | None = None
    rating_until: date | None = None
    promised: Clock
    statutory: Clock
    tasks: list[Task] = Field(default_factory=list)
    suspensions: list[Suspension] = Field(default_factory=list)
    extensions: list[Extension] = Field(default_factory=list)
    licences: list[Licence] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    outcome_reason: str = ""
    #: The calendar revision the due dates use (``readmodel.calendar_store``); "" for a
    #: case admitted before revisions were recorded and not reloaded since.
    calendar_revision: str = ""
    concluded_at: datetime | None = None
    #: The 代办员 (帮办代办) following the case, by user id; None when nobody is named.
    agent: str | None = None

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    @property
    def missing_materials(self) -> list[MaterialStatus]:
        return [m for m in self.materials if m.state is MaterialState.MISSING]

    @property
    def concluded(self) -> bool:
        return self.status is not CaseStatus.RUNNING

    @property
    def open_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.is_open]

    @property
    def open_departments(self) -> list[str]:
        seen: dict[str, None] = {}
        for task in self.open_tasks:
            for part in task.parts:
                if part.verdict is None:
                    seen[part.department] = None
        return list(seen)


class CaseOutcome(BaseModel):
    """What a finished case workflow returns."""

    case_no: str
    status: CaseStatus
    reason: str
    licences: list[Licence]
