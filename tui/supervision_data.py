"""What the supervision screen reads: findings with their 督办 status, unclosed
counts by department × rule, and one finding's evidence and steps.

Who sees what is decided here, once, from the signed-in person's role: a supervisor
and an administrator see every finding (the administrator answers the ones with no
department); a reviewer sees only the items sent to their own department that await
its answer. This only narrows lists: every step is still checked by the item's
workflow. Like ``tui.data``, these functions block and are called from workers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, false, func, or_
from sqlmodel import col, select

from domain.roles import Actor, Role
from readmodel.audit import AuditRecord
from readmodel.database import read_session
from readmodel.supervision import FindingRecord, SupervisionItemRecord

#: Roles the screen is for (others do not get the ``4`` key).
SUPERVISION_ROLES = frozenset({Role.SUPERVISOR, Role.ADMINISTRATOR, Role.REVIEWER})
#: Statuses that await the department's answer (a reviewer's list).
AWAITING = ("sent", "escalated")
#: Every status a finding can be in, in the order of its life ("open": never sent).
STATUSES = ("open", "sent", "responded", "escalated", "closed")
#: The filter's and the summary's stand-in for "no department" (system-wide findings).
NO_DEPARTMENT = "-"


def sees_supervision(actor: Actor) -> bool:
    return actor.role in SUPERVISION_ROLES


def sees_all(actor: Actor) -> bool:
    """Supervisors and administrators see every finding; reviewers only their inbox."""
    return actor.role in (Role.SUPERVISOR, Role.ADMINISTRATOR)


@dataclass(frozen=True)
class FindingFilter:
    """What the findings list shows; ``None`` means any."""

    department: str | None = None  # a code, or NO_DEPARTMENT
    rule: str | None = None
    status: str | None = None

    @property
    def active(self) -> bool:
        return any((self.department, self.rule, self.status))


@dataclass(frozen=True)
class FindingRow:
    id: int
    rule: str
    case_no: str | None
    department: str | None
    severity: str
    sentence: str
    found_at: datetime
    status: str  # one of STATUSES
    respond_by: datetime | None = None
    response: str | None = None


@dataclass(frozen=True)
class SummaryRow:
    """Unclosed findings of one rule at one department, by status."""

    department: str | None
    rule: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class EvidenceRow:
    id: int
    at: datetime
    kind: str
    seq: int | None
    actor: str
    summary: str


@dataclass(frozen=True)
class StepRow:
    at: datetime
    step: str
    status: str
    actor: str
    role: str
    reason: str


@dataclass(frozen=True)
class FindingDetail:
    finding: FindingRow
    event_seqs: list[int]
    evidence: list[EvidenceRow]
    steps: list[StepRow]


def _status() -> Any:
    return func.coalesce(SupervisionItemRecord.status, "open")


def _joined(*columns: Any) -> Any:
    return select(FindingRecord, *columns).outerjoin(
        SupervisionItemRecord, col(SupervisionItemRecord.finding_id) == FindingRecord.id
    )


def _scoped(query: Any, actor: Actor, *, awaiting: bool = True) -> Any:
    """Only what the actor's role sees (nothing for roles the screen is not for): a
    reviewer, the items sent to their department (``awaiting``: only those that await
    its answer; the detail of one already answered stays readable)."""
    if sees_all(actor):
        return query
    if actor.role is Role.REVIEWER and actor.department:
        query = query.where(SupervisionItemRecord.department == actor.department)
        return query.where(col(SupervisionItemRecord.status).in_(AWAITING)) if awaiting else query
    return query.where(false())


def _row(finding: FindingRecord, item: SupervisionItemRecord | None) -> FindingRow:
    assert finding.id is not None
    return FindingRow(
        id=finding.id,
        rule=finding.rule,
        case_no=finding.case_no,
        department=finding.department,
        severity=finding.severity,
        sentence=finding.sentence,
        found_at=finding.found_at,
        status=item.status if item is not None else "open",
        respond_by=item.respond_by if item is not None else None,
        response=item.response if item is not None else None,
    )


def findings(
    engine: Engine, actor: Actor, flt: FindingFilter = FindingFilter(), limit: int = 500
) -> list[FindingRow]:
    """The findings this actor sees, newest first (at most ``limit``)."""
    query = _scoped(_joined(SupervisionItemRecord), actor)
    if flt.department == NO_DEPARTMENT:
        query = query.where(col(FindingRecord.department).is_(None))
    elif flt.department:
        query = query.where(FindingRecord.department == flt.department)
    if flt.rule:
        query = query.where(FindingRecord.rule == flt.rule)
    if flt.status:
        query = query.where(_status() == flt.status)
    query = query.order_by(col(FindingRecord.id).desc()).limit(limit)
    with read_session(engine) as session:
        return [_row(f, i) for f, i in session.exec(query).all()]


def summary(engine: Engine, actor: Actor) -> list[SummaryRow]:
    """Unclosed findings (open, sent, responded, escalated) by department × rule, the
    departments with most first; what a supervisor chases."""
    status = _status()
    query = _scoped(
        select(FindingRecord.department, FindingRecord.rule, status, func.count()).outerjoin(
            SupervisionItemRecord, col(SupervisionItemRecord.finding_id) == FindingRecord.id
        ),
        actor,
    )
    query = query.where(
        or_(col(SupervisionItemRecord.status).is_(None), SupervisionItemRecord.status != "closed")
    ).group_by(FindingRecord.department, FindingRecord.rule, status)
    counts: dict[tuple[str | None, str], Counter[str]] = {}
    with read_session(engine) as session:
        for department, rule, state, count in session.exec(query).all():
            counts.setdefault((department, rule), Counter())[state] += count
    rows = [SummaryRow(d, r, dict(c)) for (d, r), c in counts.items()]
    return sorted(rows, key=lambda r: (-r.total, r.department or "~", r.rule))


def choices(engine: Engine) -> tuple[list[str], list[str]]:
    """The departments (NO_DEPARTMENT for none) and rules that have findings."""
    with read_session(engine) as session:
        departments = session.exec(select(FindingRecord.department).distinct()).all()
        rules = session.exec(select(FindingRecord.rule).distinct()).all()
    listed = sorted(d for d in departments if d)
    if any(d is None for d in departments):
        listed.append(NO_DEPARTMENT)
    return listed, sorted(rules)


def detail(engine: Engine, actor: Actor, finding_id: int) -> FindingDetail | None:
    """One finding this actor sees, with the audit rows it rests on (by id, and its
    case's events by seq) and its item's steps; None if it is not theirs to see."""
    query = _scoped(_joined(SupervisionItemRecord), actor, awaiting=False).where(
        FindingRecord.id == finding_id
    )
    with read_session(engine) as session:
        found = session.exec(query).first()
        if found is None:
            return None
        finding, item = found
        evidence = finding.evidence or {}
        audit_ids = [int(i) for i in evidence.get("audit", [])]
        seqs = [int(s) for s in evidence.get("events", [])]
        wanted = [col(AuditRecord.id).in_(audit_ids)] if audit_ids else []
        if seqs and finding.case_no:
            wanted.append(
                and_(AuditRecord.case_no == finding.case_no, col(AuditRecord.seq).in_(seqs))
            )
        rows = (
            session.exec(
                select(AuditRecord).where(or_(*wanted)).order_by(col(AuditRecord.id))
            ).all()
            if wanted
            else []
        )
        steps = session.exec(
            select(AuditRecord)
            .where(AuditRecord.kind == "supervision_item")
            .where(
                col(AuditRecord.case_no).is_(None)
                if finding.case_no is None
                else AuditRecord.case_no == finding.case_no
            )
            .order_by(col(AuditRecord.id))
        ).all()
    return FindingDetail(
        finding=_row(finding, item),
        event_seqs=seqs,
        evidence=[
            EvidenceRow(
                id=r.id or 0,
                at=r.at,
                kind=r.kind,
                seq=r.seq,
                actor=r.actor_name or r.actor_id,
                summary=r.summary,
            )
            for r in rows
        ],
        steps=[
            StepRow(
                at=s.at,
                step=str(s.data.get("step", "")),
                status=str(s.data.get("status", "")),
                actor=s.actor_name or s.actor_id,
                role=s.actor_role,
                reason=s.reason,
            )
            for s in steps
            if (s.data or {}).get("finding_id") == finding_id
        ],
    )


@dataclass(frozen=True)
class CaseStep:
    """A 督办 step on one of a case's findings, for the case's timeline."""

    audit_id: int
    at: datetime
    actor: str
    summary: str
    reason: str


def case_steps(engine: Engine, case_no: str) -> list[CaseStep]:
    """The 督办 steps taken on the case's findings (audit rows), oldest first."""
    with read_session(engine) as session:
        rows = session.exec(
            select(AuditRecord)
            .where(AuditRecord.case_no == case_no, AuditRecord.kind == "supervision_item")
            .order_by(col(AuditRecord.id))
        ).all()
    return [
        CaseStep(
            audit_id=r.id or 0,
            at=r.at,
            actor=r.actor_name or r.actor_id,
            summary=r.summary,
            reason=r.reason,
        )
        for r in rows
    ]
