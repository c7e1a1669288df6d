"""Cases changed around onechain, as the read model keeps them.

A case reset, terminated, cancelled, timed out, failed or deleted in Temporal by
someone who went around onechain (``client.outside`` finds them) must never be listed
as running again. Its row takes the status ``altered`` (「外部改动」), which the
projector's and reconcile's upsert never overwrite (``readmodel.projection``), and what
happened goes on the audit trail as kind ``outside_change``, once per change (the
change's key is in the entry's data): ``onechain reconcile``, ``onechain doctor`` and
every worker's sweep may all find the same change, and only the first records it.

No schema change: the status is a value of the existing column, the account of what
happened is the audit entry (``outside_changes`` reads it back for ``cases show``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, or_, update
from sqlmodel import Session, col, select

from readmodel.audit import AuditEntry, AuditRecord, _lock_head, append
from readmodel.database import read_session, write_session
from readmodel.tables import CaseRecord, table_of

if TYPE_CHECKING:
    from client.outside import OutsideChange

#: The case status of a case changed around onechain (never written by a workflow).
ALTERED = "altered"
#: The audit trail's kind for such a change: a security event.
AUDIT_KIND = "outside_change"


@dataclass(frozen=True)
class RecordedChange:
    """One outside change as the audit trail holds it."""

    case_no: str
    kind: str
    at: datetime
    summary: str
    identity: str


def _known_keys(session: Session, case_nos: Iterable[str]) -> set[tuple[str, str]]:
    wanted = sorted(set(case_nos))
    if not wanted:
        return set()
    rows = session.exec(
        select(AuditRecord.case_no, AuditRecord.data).where(
            AuditRecord.kind == AUDIT_KIND, col(AuditRecord.case_no).in_(wanted)
        )
    )
    return {(str(case_no), str((data or {}).get("key"))) for case_no, data in rows}


def _entry(change: OutsideChange) -> AuditEntry:
    return AuditEntry(
        at=change.at,
        kind=AUDIT_KIND,
        actor_id=f"temporal:{change.identity}" if change.identity else "temporal:unknown",
        actor_name=change.identity[:64],
        actor_role="outside",
        case_no=change.case_no,
        summary=change.summary,
        data={
            "key": change.key,
            "what": change.kind.value,
            "run_id": change.run_id,
            "detail": change.detail,
        },
    )


def record_changes(engine: Engine, changes: Sequence[OutsideChange]) -> list[OutsideChange]:
    """Mark the cases ``altered`` and put each change not yet recorded on the audit
    trail, in one write transaction; returns the changes that were new."""
    if not changes:
        return []
    with write_session(engine) as session:
        _lock_head(session)  # PostgreSQL: two sweeps checking at once record once
        known = _known_keys(session, (c.case_no for c in changes))
        new: list[OutsideChange] = []
        for change in changes:
            if (change.case_no, change.key) not in known:
                known.add((change.case_no, change.key))
                new.append(change)
        append(session, [_entry(c) for c in new])
        mark_altered(session, {c.case_no for c in changes})
    return new


def mark_altered(session: Session, case_nos: Iterable[str]) -> None:
    wanted = sorted(set(case_nos))
    if not wanted:
        return
    cases = table_of(CaseRecord)
    session.connection().execute(
        update(cases)
        .where(cases.c.case_no.in_(wanted), cases.c.status != ALTERED)
        .values(status=ALTERED, updated_at=datetime.now(UTC))
    )


def unrecorded(engine: Engine, changes: Sequence[OutsideChange]) -> list[OutsideChange]:
    """The changes not on the audit trail yet (a dry run reports them, writes nothing)."""
    with read_session(engine) as session:
        known = _known_keys(session, (c.case_no for c in changes))
    return [c for c in changes if (c.case_no, c.key) not in known]


def case_numbers(session: Session) -> set[str]:
    """Every case the read model holds (a worker admitted them)."""
    return set(session.exec(select(CaseRecord.case_no)))


def must_exist(session: Session, now: datetime, retention: timedelta) -> list[str]:
    """Cases Temporal must still hold: not already marked, and not concluded longer
    ago than the namespace keeps closed cases (a case's workflow closes after its
    conclusion, so it is kept at least that long after it)."""
    stmt = select(CaseRecord.case_no).where(
        CaseRecord.status != ALTERED,
        or_(
            col(CaseRecord.concluded_at).is_(None),
            col(CaseRecord.concluded_at) > now - retention,
        ),
    )
    return list(session.exec(stmt))


def altered_count(session: Session) -> int:
    stmt = select(func.count()).select_from(CaseRecord).where(CaseRecord.status == ALTERED)
    return int(session.exec(stmt).one())


def outside_changes(session: Session, case_no: str | None = None) -> list[RecordedChange]:
    """What the audit trail says was done around onechain (to one case), oldest first."""
    stmt = select(AuditRecord).where(AuditRecord.kind == AUDIT_KIND)
    if case_no is not None:
        stmt = stmt.where(AuditRecord.case_no == case_no)
    stmt = stmt.order_by(col(AuditRecord.id))
    return [
        RecordedChange(
            case_no=row.case_no or "",
            kind=str(row.data.get("what", "")),
            at=row.at,
            summary=row.summary,
            identity=row.actor_name,
        )
        for row in session.exec(stmt)
    ]
