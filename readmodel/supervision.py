"""Tables of 电子监察 (issue 22): findings, thresholds and each rule's cursor.

Supervision keeps no record of its own: rules read the case events and the audit
trail. What it stores is only what it concluded (findings, unique by ``key`` so a
finding is never stored twice), the thresholds an administrator set, and how far
each rule has read the audit trail (so a run evaluates only what is new).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from readmodel.tables import UTCDateTime


class FindingRecord(SQLModel, table=True):
    """One finding of one rule, with the event seqs and audit row ids it rests on."""

    __tablename__ = "supervision_findings"
    __table_args__ = (
        Index("ix_supervision_findings_rule", "rule", "found_at"),
        Index("ix_supervision_findings_department", "department", "found_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    rule: str = Field(max_length=64)
    case_no: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=64)
    person: str | None = Field(default=None, max_length=64)
    severity: str = Field(max_length=16)
    sentence: str
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    found_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ThresholdRecord(SQLModel, table=True):
    """A rule's thresholds as an administrator set them (absent: the rule's defaults)."""

    __tablename__ = "supervision_thresholds"

    rule: str = Field(primary_key=True, max_length=64)
    thresholds: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class CursorRecord(SQLModel, table=True):
    """The last audit row a rule has evaluated; a rule that raised keeps its old one."""

    __tablename__ = "supervision_cursor"

    rule: str = Field(primary_key=True, max_length=64)
    last_audit_id: int = 0
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class SupervisionItemRecord(SQLModel, table=True):
    """A 督办 item as its workflow last recorded it (the workflow is the truth; this is
    what lists, reports and the console read). One row per finding sent."""

    __tablename__ = "supervision_items"
    __table_args__ = (
        Index("ix_supervision_items_department", "department", "status"),
        Index("ix_supervision_items_status", "status", "updated_at"),
    )

    finding_id: int = Field(primary_key=True)
    status: str = Field(max_length=16)
    rule: str = Field(max_length=64)
    case_no: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=64)
    steps: int = 0  # how many steps are recorded (a retried write records none twice)
    sent_by: str | None = Field(default=None, max_length=64)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    respond_by: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    responded_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
    response: str | None = None
    escalated_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
