"""Inputs of the actions people take on a case (Temporal Updates) and of case start.

One pydantic model per call (DESIGN.md). Shape checks live here; checks that need
the case (does the task exist, is it open, may this actor act) live in the
workflow's validators.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.calendar import CalendarData
from domain.case import Applicant, SuspensionKind, Verdict
from domain.materials import Commitment, MaterialSpec
from domain.roles import Actor
from domain.text import check_plain_text

CASE_NO_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def workflow_id_for(case_no: str) -> str:
    """The one workflow id a case number maps to, so a case can never start twice."""
    return f"case-{case_no}"


class PinnedLimits(BaseModel):
    """The chain's settings a case keeps for life, whatever later edits of the chain say.

    Like the flow version, they are fixed when the case starts, so replay and running
    cases never pick up a changed limit from newer code.
    """

    chain_name: str
    promised_days: int = Field(ge=0)
    statutory_days: int = Field(ge=0)
    department_count: int = Field(ge=1)
    materials: list[MaterialSpec] = Field(default_factory=list)
    allow_incomplete: bool = False
    supplement_days: int = Field(default=5, ge=0)
    on_supplement_missed: Literal["escalate", "end"] = "escalate"
    verification_days: int = Field(default=20, ge=0)
    rating_window_days: int = Field(default=10, ge=0)


class StartCase(BaseModel):
    """What a window submits to start a case (the workflow's start input).

    The worker trusts none of it beyond what it may say: who accepted the case comes
    from the verified session token in the start's headers, and the chain version,
    limits, materials, warning fraction and calendar come from the worker's own chain
    registry and calendar store (:class:`Admission`). The optional fields below are
    read only when replaying cases started before that rule (their histories carry
    them); new starts leave them empty.
    """

    case_no: str
    chain: str
    applicant: Applicant
    form: dict[str, Any]
    materials: list[str] = Field(default_factory=list, max_length=200)
    commitments: list[Commitment] = Field(default_factory=list, max_length=200)
    received_at: datetime
    # --- legacy, pre-admission histories only
    chain_version: int | None = None
    limits: PinnedLimits | None = None
    accepted_by: Actor | None = None
    warning_fraction: float | None = None
    calendar: CalendarData | None = None

    @field_validator("case_no")
    @classmethod
    def _case_no_shape(cls, value: str) -> str:
        if not CASE_NO_PATTERN.match(value):
            raise ValueError(
                "case number must be 1-64 letters, digits, '-' or '_' and start with a "
                f"letter or digit, got {value!r}"
            )
        return value


class Admission(BaseModel):
    """What a case starts with, decided by the worker (recorded in history, so replay
    never re-reads the registry, the calendar store or the user directory)."""

    accepted_by: Actor
    applicant: Applicant
    chain_version: int
    limits: PinnedLimits
    warning_fraction: float = Field(gt=0, lt=1)
    calendar: CalendarData
    form: dict[str, Any]
    #: The revision of the office's schedules ``calendar`` was built from
    #: (``readmodel.calendar_store.schedules_revision``); "" before revisions existed.
    calendar_revision: str = ""
    #: The 代办员 the day's rota names (首席帮办代办轮流值班), looked up by the worker
    #: at acceptance; None when no rota is set for the day (and in older histories).
    agent: str | None = None


class AdmitCase(BaseModel):
    """Input of the ``admit_case`` local activity: the start and its credentials."""

    start: StartCase
    token: str | None = None
    grant: str | None = None
    #: The start's action proof and the digest of the start input it must match.
    proof: str | None = None
    digest: str | None = None
    #: The workflow's time when it asked: credentials are checked at it.
    at: datetime | None = None


class AdmissionResult(BaseModel):
    admission: Admission | None = None
    refusal: str | None = None


# --- bad input (issue 8): what one action may carry. Decoding a payload checks these,
# so a recorded history must fit them too (tests/test_versioning.py replays ours).
REASON_MAX_CHARS = 500
COMMENT_MAX_CHARS = 500
ITEMS_MAX = 50
ITEM_MAX_CHARS = 100
ID_MAX_CHARS = 64

#: Free text a person types (reasons, comments): one line, no control characters.
Reason = Annotated[
    str,
    Field(max_length=REASON_MAX_CHARS, description="Why (recorded in the case's audit log)."),
    AfterValidator(check_plain_text),
]
Comment = Annotated[str, Field(max_length=COMMENT_MAX_CHARS), AfterValidator(check_plain_text)]
#: A task, suspension, department, officer or event code.
Code = Annotated[str, Field(max_length=ID_MAX_CHARS), AfterValidator(check_plain_text)]
#: One material or missing item, by name or code.
Item = Annotated[
    str, Field(min_length=1, max_length=ITEM_MAX_CHARS), AfterValidator(check_plain_text)
]


class Action(BaseModel):
    """Common to every action: who acts and why.

    Errors name the field and the rule, never the input (it may be 10 MB, or hold what
    an applicant said).
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    actor: Actor
    reason: Reason = ""
    request_id: Code = ""


class Decide(Action):
    """A department's decision on its part of a task (approve, reject, return for 补正)."""

    task_id: Code
    verdict: Verdict
    department: Code | None = Field(
        default=None, description="defaults to the acting reviewer's department"
    )
    missing_items: list[Item] = Field(default_factory=list, max_length=ITEMS_MAX)

    @model_validator(mode="after")
    def _return_lists_items(self) -> Decide:
        if self.verdict is Verdict.RETURN and not self.missing_items:
            raise ValueError("a return for supplement must list the missing items")
        return self


class DecideOnBehalf(Decide):
    """A supervisor approving or rejecting for a department (reason required)."""


class Extend(Action):
    """Extend a task's limit, or the whole case's when ``task_id`` is None."""

    task_id: Code | None = None
    days: int = Field(gt=0, le=366)


class Reassign(Action):
    task_id: Code
    department: Code | None = Field(default=None, description="which part of a joint task")
    to_assignee: Code | None = None
    to_department: Code | None = None

    @model_validator(mode="after")
    def _has_target(self) -> Reassign:
        if not self.to_assignee and not self.to_department:
            raise ValueError("reassign needs to_assignee or to_department")
        return self


class Urge(Action):
    task_id: Code
    department: Code | None = None


class StartSpecialProcedure(Action):
    task_id: Code
    kind: SuspensionKind

    @field_validator("kind")
    @classmethod
    def _not_supplement(cls, value: SuspensionKind) -> SuspensionKind:
        if value is SuspensionKind.SUPPLEMENT:
            raise ValueError("a supplement stop starts with a department's return, not here")
        return value


class EndSpecialProcedure(Action):
    suspension_id: Code


class RecordSupplement(Action):
    """The window clerk records materials the applicant brought for a returned task."""

    task_id: Code
    items: list[Item] = Field(min_length=1, max_length=ITEMS_MAX)


class Withdraw(Action):
    pass


class ReportApplicantEvent(Action):
    """The applicant tells the window something the flow waits for (e.g. 竣工)."""

    event: Code = Field(min_length=1)


class SupplyMaterials(Action):
    """The window clerk records materials the applicant brought after the notice
    (一次告知) or under 容缺受理."""

    items: list[Item] = Field(min_length=1, max_length=ITEMS_MAX)


class Rate(Action):
    """The applicant's one rating of a concluded case (好差评), recorded at the window
    or sent by the rating platform."""

    score: int = Field(ge=1, le=5)
    comment: Comment = ""


class Rectify(Action):
    """The coordinator closes a rectification task (整改) with what was done."""

    task_id: Code


class CalendarReload(BaseModel):
    """Tell a running case to recompute its due dates from the calendar store.

    ``token``/``grant``/``proof`` are filled by the worker from the signal's headers, and
    ``digest`` from the arguments as they arrived (whatever the client wrote here is
    replaced); the case loads the schedules itself, in an activity
    that checks the sender is a signed-in administrator. ``calendar`` is read only when
    replaying cases that received a schedule in the signal, before that rule.
    """

    token: str | None = None
    grant: str | None = None
    proof: str | None = None
    digest: str | None = None
    calendar: CalendarData | None = None
    #: The revision `calendar load` stored. A case already on it ignores the signal (no
    #: activity, no event): a resumed or repeated load costs such a case nothing.
    revision: str | None = None


class ReloadCalendarRequest(BaseModel):
    token: str | None = None
    grant: str | None = None
    proof: str | None = None
    digest: str | None = None
    at: datetime | None = None
    first_year: int
    last_year: int
    #: The revision the signal named (None from older histories and clients).
    revision: str | None = None


class ReloadCalendarResult(BaseModel):
    calendar: CalendarData | None = None
    revision: str = ""
    refusal: str | None = None


class AssignAgent(Action):
    """Name the case's 代办员 (帮办代办): the person who follows it from acceptance to
    licence and is told of each warning on it. A window clerk or coordinator assigns;
    the worker checks the person is a known, enabled user (``trust``)."""

    agent: Code = Field(min_length=1, description="The 代办员's user id.")


class ActionResult(BaseModel):
    seq: int
    message: str
