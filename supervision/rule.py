"""What a supervision rule is: a declaration (code, name, basis, thresholds, severity)
and a function from the record to findings.

Rules read what onechain already keeps (the audit trail, which holds every case
event, and the read model's tasks); they keep nothing of their own. A finding names
its evidence (event seqs and audit row ids) so that a department head can check it,
and carries a stable ``key`` so the same finding is never stored twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel
from sqlmodel import Session

from domain.calendar import WorkCalendar
from readmodel.audit import AuditRecord


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Finding:
    """One conclusion of one rule about one case (or department, or person)."""

    rule: str
    key: str  # stable: the same happening always gives the same key
    case_no: str | None
    severity: Severity
    sentence: str  # Chinese, for a department head
    department: str | None = None
    person: str | None = None
    event_seqs: tuple[int, ...] = ()
    audit_ids: tuple[int, ...] = ()


@dataclass
class Context:
    """What a rule evaluates: the new audit rows since its cursor, and the database
    to look further back when a new row needs its history."""

    session: Session
    thresholds: BaseModel
    new_rows: list[AuditRecord]
    now: datetime
    calendar: WorkCalendar
    #: True when ``new_rows`` reach the end of the trail: a rule over the present state
    #: (not over new rows) evaluates only then, once per run however many batches.
    final: bool = True
    extra: dict[str, object] = field(default_factory=dict)


class Rule(Protocol):
    """A rule module's declaration (see ``supervision.rules``)."""

    code: str
    name_zh: str
    basis: str  # the legal or policy basis, in Chinese
    severity: Severity
    Thresholds: type[BaseModel]  # defaults are the field defaults

    def evaluate(self, context: Context) -> Iterable[Finding]: ...
