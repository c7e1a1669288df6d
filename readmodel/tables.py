"""The SQL read model: flat tables the TUI and CLI list from.

Temporal is the source of truth; these rows are a projection written only by
activities (``readmodel.projection``), keyed so every write is idempotent and the
whole database can be rebuilt from the workflows. Nothing here is authoritative,
so the schema favours fast listing over normalisation: list-valued fields are JSON
columns, plus one helper table (``CaseDepartmentRecord``) where a list must be
filtered with an index.

Personal data: cases carry the applicant's name and a *masked* id only. The
e-licence store and credit records must be searchable by the holder's id, so they
keep ``holder_hash``, a keyed hash of it (``readmodel.holders``), never the id itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Index, Table, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

#: How ``warning`` sorts in "most urgent first" order (see ``warning_rank``).
WARNING_RANKS: dict[str, int] = {"red": 0, "yellow": 1}
#: Rank for "none" and any warning level this code does not know yet.
NO_WARNING_RANK = 2
#: Stands in for "no next due date" so that sorting needs no NULLS LAST, which
#: SQLite and PostgreSQL treat differently and which defeats a plain index.
NO_DUE_DATE = date(9999, 12, 31)


def warning_rank(warning: str) -> int:
    """Red before yellow before everything else."""
    return WARNING_RANKS.get(warning, NO_WARNING_RANK)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC and always read back aware (UTC).

    SQLite has no time zone support and would silently hand back naive values,
    which then compare wrongly with the aware instants the workflows produce
    (``workflow.now()`` is aware UTC). A naive input is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CaseRecord(SQLModel, table=True):
    """One row per case, mirroring ``domain.projection.CaseRow``.

    ``warning_rank`` and ``due_sort`` are derived sort keys so that the case list
    ("most urgent first") is served in index order instead of sorting every case.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_urgency", "warning_rank", "due_sort", "case_no"),
        Index("ix_cases_status_urgency", "status", "warning_rank", "due_sort", "case_no"),
        Index(
            "ix_cases_chain_status_urgency",
            "chain",
            "status",
            "warning_rank",
            "due_sort",
            "case_no",
        ),
        Index("ix_cases_warning_due", "warning", "due_sort", "case_no"),
        Index("ix_cases_status_calendar", "status", "calendar_revision"),
        Index("ix_cases_agent_urgency", "agent", "warning_rank", "due_sort", "case_no"),
    )

    case_no: str = Field(primary_key=True, max_length=64)
    chain: str = Field(max_length=64)
    chain_version: int
    status: str = Field(max_length=32)
    stage: str = Field(max_length=64)
    applicant_name: str = Field(max_length=100)
    applicant_id_masked: str = Field(max_length=32)
    received_at: datetime = Field(sa_type=UTCDateTime)
    accepted_on: date | None = None
    acceptance: str = Field(default="accepted", max_length=32)
    rating: int | None = None
    due_on: date
    provisional: bool
    statutory_due_on: date
    warning: str = Field(max_length=16)
    case_warning: str = Field(max_length=16)
    open_departments: list[str] = Field(default_factory=list, sa_type=JSON)
    next_due_on: date | None = None
    updated_at: datetime = Field(sa_type=UTCDateTime)
    concluded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_seq: int
    promised_clock: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    #: The calendar revision the case's due dates use ("" unknown: admitted before 0010).
    calendar_revision: str = Field(default="", max_length=32)
    warning_rank: int = NO_WARNING_RANK
    due_sort: date = NO_DUE_DATE
    #: The 代办员 (帮办代办) by user id, for 「我代办的」.
    agent: str | None = Field(default=None, max_length=64)


class CaseDepartmentRecord(SQLModel, table=True):
    """One row per (case, department the case is waiting on).

    ``CaseRecord.open_departments`` is JSON, which no portable index can search;
    this table answers "cases pending at department X" through an index. It is
    rewritten together with the case row, so it always matches it.
    """

    __tablename__ = "case_departments"
    __table_args__ = (Index("ix_case_departments_department", "department", "case_no"),)

    case_no: str = Field(primary_key=True, max_length=64)
    department: str = Field(primary_key=True, max_length=64)


class TaskRecord(SQLModel, table=True):
    """One row per task of a case, mirroring ``domain.projection.TaskRow``."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_due", "status", "due_on"),)

    case_no: str = Field(primary_key=True, max_length=64)
    task_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    name: str = Field(max_length=200)
    stage: str = Field(max_length=64)
    departments: list[str] = Field(default_factory=list, sa_type=JSON)
    open_departments: list[str] = Field(default_factory=list, sa_type=JSON)
    assignees: list[str] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(max_length=32)
    started_at: datetime = Field(sa_type=UTCDateTime)
    concluded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_on: date | None = None
    provisional: bool = False
    warning: str = Field(max_length=16)
    stopped: bool = False
    extension_days: int = 0
    clock: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class EventRecord(SQLModel, table=True):
    """The audit log: who did what, when and why. Append-only, keyed by (case_no, seq)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_actor_at", "actor_id", "at"),)

    case_no: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=64)
    actor_id: str = Field(max_length=64)
    actor_name: str = Field(max_length=64)
    actor_role: str = Field(max_length=32)
    department: str | None = Field(default=None, max_length=64)
    task_id: str | None = Field(default=None, max_length=64)
    summary: str
    reason: str = ""


class NotificationRecord(SQLModel, table=True):
    """A notification as sent. Unique per (case_no, seq, kind) so retries store it once."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("case_no", "seq", "kind", name="uq_notifications_key"),)

    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(max_length=64)
    seq: int
    kind: str = Field(max_length=64)
    recipients: list[str] = Field(default_factory=list, sa_type=JSON)
    message: str
    at: datetime = Field(sa_type=UTCDateTime)


class LicenceStoreRecord(SQLModel, table=True):
    """The e-licence store (电子证照库): one row per issued licence, unique by number."""

    __tablename__ = "licences"
    __table_args__ = (Index("ix_licences_holder_type", "holder_hash", "type"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=64, unique=True)
    case_no: str = Field(max_length=64, index=True)
    type: str = Field(max_length=64)
    name: str = Field(max_length=200)
    department: str = Field(max_length=64)
    holder_name: str = Field(max_length=200)
    #: ``readmodel.holders.holder_hash`` of the holder's id (the id is not stored).
    holder_hash: str = Field(max_length=64)
    issued_on: date
    valid_to: date | None = None
    status: str = Field(default="valid", max_length=16)  # valid / revoked
    revoked_reason: str = ""
    revoked_on: date | None = None


class PublicationRecord(SQLModel, table=True):
    """七天双公示: a licensing decision as published (no personal ids)."""

    __tablename__ = "publications"

    case_no: str = Field(primary_key=True, max_length=64)
    chain: str = Field(max_length=64)
    decision: str = Field(max_length=32)
    holder_name: str = Field(max_length=200)
    departments: list[str] = Field(default_factory=list, sa_type=JSON)
    licence_numbers: list[str] = Field(default_factory=list, sa_type=JSON)
    decided_on: date
    published_at: datetime = Field(sa_type=UTCDateTime)


class CreditRecord(SQLModel, table=True):
    """The applicant's credit record: a false commitment leaves a mark here."""

    __tablename__ = "credit_records"
    __table_args__ = (UniqueConstraint("case_no", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    #: ``readmodel.holders.holder_hash`` of the holder's id (the id is not stored).
    holder_hash: str = Field(max_length=64, index=True)
    holder_name: str = Field(max_length=200)
    case_no: str = Field(max_length=64)
    kind: str = Field(max_length=32)  # false_commitment
    reason: str
    recorded_on: date


def table_of(model: type[SQLModel]) -> Table:
    """The Core ``Table`` behind a table model, for dialect-specific INSERT statements."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table
