"""What the workflow hands to the read model and to notification channels.

Rows are flat and free of personal data (the applicant's id is masked). The read
model applies a batch idempotently: case and task rows are upserted only if the
batch is newer (``last_seq``), events are keyed by (case_no, seq).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.materials import ELicence


class CaseRow(BaseModel):
    case_no: str
    chain: str
    chain_version: int
    status: str
    stage: str
    applicant_name: str
    applicant_id_masked: str
    received_at: datetime
    accepted_on: date | None
    acceptance: str = "accepted"
    rating: int | None = None
    due_on: date
    provisional: bool
    statutory_due_on: date
    warning: str
    case_warning: str
    open_departments: list[str]
    next_due_on: date | None
    updated_at: datetime
    concluded_at: datetime | None
    last_seq: int
    #: The promised limit's clock (``domain.case.Clock`` as JSON), so lists count days
    #: left with the one rule (``deadlines.days_left``) and its stopped periods.
    promised_clock: dict[str, Any] | None = None
    #: The calendar revision its due dates use ("" when unknown: admitted before revisions).
    calendar_revision: str = ""
    #: The 代办员 (帮办代办) by user id, for 「我代办的」 and the lists.
    agent: str | None = None


class TaskRow(BaseModel):
    case_no: str
    task_id: str
    kind: str
    name: str
    stage: str
    departments: list[str]
    open_departments: list[str]
    assignees: list[str]
    status: str
    started_at: datetime
    concluded_at: datetime | None
    due_on: date | None
    provisional: bool
    warning: str
    stopped: bool
    extension_days: int
    #: The task's clock as JSON (see ``CaseRow.promised_clock``); None without a limit.
    clock: dict[str, Any] | None = None


class EventRow(BaseModel):
    case_no: str
    seq: int
    at: datetime
    kind: str
    actor_id: str
    actor_name: str
    actor_role: str
    department: str | None
    task_id: str | None
    summary: str
    reason: str


class ProjectionBatch(BaseModel):
    case: CaseRow
    tasks: list[TaskRow]
    events: list[EventRow] = Field(default_factory=list)


class Notification(BaseModel):
    """A message to departments or supervisors. ``recipients`` are department codes
    or the word ``supervisor``."""

    case_no: str
    seq: int
    kind: str
    recipients: list[str]
    message: str
    at: datetime


class Notifications(BaseModel):
    """The notifications a case decided on at one moment (four tasks warned at the turn
    of a working day: one activity, not four)."""

    notifications: list[Notification]


class LicenceRecord(BaseModel):
    """A licence a case issued, for the e-licence store."""

    case_no: str
    type: str
    name: str
    number: str
    department: str
    holder_name: str
    holder_id: str
    issued_on: date
    valid_to: date | None = None


class IssueLicences(BaseModel):
    licences: list[LicenceRecord]


class ELicenceQuery(BaseModel):
    """Which e-licences of a holder a case could reuse (by the holder's id)."""

    holder_id: str
    types: list[str]
    on: date


class ELicenceList(BaseModel):
    licences: list[ELicence]


class Publication(BaseModel):
    """A licensing decision to publish (七天双公示). No personal ids: name and numbers."""

    case_no: str
    chain: str
    decision: str  # approved / not_approved
    holder_name: str
    departments: list[str]
    licence_numbers: list[str]
    decided_on: date


class Revocation(BaseModel):
    """Licences revoked after a failed verification, and the credit mark it leaves."""

    case_no: str
    holder_id: str
    holder_name: str
    licence_numbers: list[str]
    reason: str
    revoked_on: date


class DerivedRecords(BaseModel):
    """What a case wrote outside its own rows — the e-licences it issued (with the holder's
    id, which the read model keeps only as a keyed hash), their revocation, its
    publication and the notifications sent — so ``reconcile`` can rebuild those tables
    from Temporal too. Returned by a Query (sealed by the payload codec in transit)."""

    licences: list[LicenceRecord] = Field(default_factory=list)
    revocation: Revocation | None = None
    publication: Publication | None = None
    published_at: datetime | None = None
    notifications: list[Notification] = Field(default_factory=list)


class Reconciliation(BaseModel):
    """Everything ``onechain reconcile`` needs of one case in one Query answer: its
    rows for the read model (all events) and what it wrote outside them. One Query
    instead of two halves the replays a worker does for cases not in its cache."""

    batch: ProjectionBatch
    derived: DerivedRecords
