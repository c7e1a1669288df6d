"""Writing the read model: idempotent, order-tolerant, safe under concurrency.

Activities are retried and may run late or twice, and several workers may write
the same case at once. So every write here is an ``INSERT ... ON CONFLICT``:

* the case row is replaced only when the batch is at least as new as the stored
  row (``last_seq``, then ``updated_at``); an old batch arriving after a newer one
  changes nothing;
* the case's task rows and department rows are replaced together with the case
  row and only when it was replaced, so the three always describe the same moment;
* events, notifications and licences are inserted once by their natural key.

The case-row upsert comes first in the transaction and locks the row (PostgreSQL)
or the database (SQLite), so concurrent writers of one case are serialised and the
task/department replacement cannot interleave.

Only SQLite and PostgreSQL are supported: ``ON CONFLICT`` is dialect-specific.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Engine, Table, and_, delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, select

from domain.projection import (
    CaseRow,
    DerivedRecords,
    EventRow,
    LicenceRecord,
    Notification,
    ProjectionBatch,
    Publication,
    Revocation,
)
from readmodel.audit import AuditEntry
from readmodel.audit import append as append_audit
from readmodel.database import write_session
from readmodel.holders import holder_hash
from readmodel.outside import ALTERED
from readmodel.tables import (
    NO_DUE_DATE,
    CaseDepartmentRecord,
    CaseRecord,
    CreditRecord,
    EventRecord,
    LicenceStoreRecord,
    NotificationRecord,
    PublicationRecord,
    TaskRecord,
    table_of,
    warning_rank,
)

_INSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def _dialect(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise NotImplementedError(f"the read model supports SQLite and PostgreSQL, not {dialect!r}")
    return dialect


def _insert(dialect: str, model: type[SQLModel]) -> Any:
    """A dialect-specific INSERT (it has ``on_conflict_*``) for ``model``'s table."""
    return _INSERTS[dialect](table_of(model))


@cache
def _case_upsert(dialect: str) -> Any:
    """The case-row upsert, built once per dialect (building it costs more than running it).

    Replaces every column unless the stored row is newer: a higher ``last_seq``, or
    the same ``last_seq`` and a later ``updated_at`` (a state change without a new
    event, e.g. a clock update; a straggling retry of the previous batch must not
    undo it). A row marked ``altered`` (changed around onechain, ``readmodel.outside``)
    is never replaced: a reset run's rows would otherwise show the case running again.
    RETURNING yields a row only when the row was inserted or replaced.
    """
    table = table_of(CaseRecord)
    stmt = _insert(dialect, CaseRecord)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.case_no],
        set_={c.name: stmt.excluded[c.name] for c in table.c if c.name != "case_no"},
        where=and_(
            table.c.status != ALTERED,
            or_(
                table.c.last_seq < stmt.excluded.last_seq,
                and_(
                    table.c.last_seq == stmt.excluded.last_seq,
                    table.c.updated_at <= stmt.excluded.updated_at,
                ),
            ),
        ),
    ).returning(table.c.case_no)


@cache
def _insert_ignoring(dialect: str, model: type[SQLModel], *key: str) -> Any:
    """INSERT that skips rows whose ``key`` is already present, built once per dialect."""
    return _insert(dialect, model).on_conflict_do_nothing(index_elements=list(key))


@cache
def _insert_if_new(dialect: str, model: type[SQLModel], *key: str) -> Any:
    """``_insert_ignoring`` that returns the key of a row it inserted and nothing for a
    row it skipped: how to tell "new" from "already there" on every driver (psycopg
    reports ``rowcount`` -1 here, so counting rows would call every retry new)."""
    table = table_of(model)
    return _insert_ignoring(dialect, model, *key).returning(*(table.c[k] for k in key))


def _inserted(session: Session, model: type[SQLModel], key: tuple[str, ...], values: Any) -> bool:
    stmt = _insert_if_new(_dialect(session), model, *key)
    return session.exec(stmt, params=values).first() is not None


def _case_values(case: CaseRow) -> dict[str, Any]:
    values = case.model_dump()
    values["warning_rank"] = warning_rank(case.warning)
    values["due_sort"] = case.next_due_on or NO_DUE_DATE
    return values


def check_batch(batch: ProjectionBatch) -> None:
    """Reject a batch whose parts disagree; storing it would corrupt another case."""
    case_no = batch.case.case_no
    for row in [*batch.tasks, *batch.events]:
        if row.case_no != case_no:
            raise ValueError(f"batch for case {case_no} contains a row for case {row.case_no}")
    task_ids = [task.task_id for task in batch.tasks]
    if len(set(task_ids)) != len(task_ids):
        raise ValueError(f"batch for case {case_no} repeats a task id")


def _upsert_case(session: Session, case: CaseRow) -> bool:
    """Insert or replace the case row unless the stored one is newer; True if written."""
    stmt = _case_upsert(_dialect(session))
    return session.exec(stmt, params=_case_values(case)).first() is not None


def _replace_tasks(session: Session, batch: ProjectionBatch) -> None:
    case_no = batch.case.case_no
    session.exec(delete(table_of(TaskRecord)).where(table_of(TaskRecord).c.case_no == case_no))
    if batch.tasks:
        session.exec(
            _insert(_dialect(session), TaskRecord),
            params=[task.model_dump() for task in batch.tasks],
        )


def _replace_departments(session: Session, case: CaseRow) -> None:
    table = table_of(CaseDepartmentRecord)
    session.exec(delete(table).where(table.c.case_no == case.case_no))
    departments = list(dict.fromkeys(case.open_departments))
    if departments:
        session.exec(
            _insert(_dialect(session), CaseDepartmentRecord),
            params=[{"case_no": case.case_no, "department": d} for d in departments],
        )


def _insert_events(session: Session, events: Iterable[EventRow]) -> None:
    rows = [event.model_dump() for event in events]
    if rows:
        stmt = _insert_ignoring(_dialect(session), EventRecord, "case_no", "seq")
        session.exec(stmt, params=rows)


def apply_batch(session: Session, batch: ProjectionBatch) -> None:
    """Apply one projection batch idempotently, inside the caller's transaction.

    Applying the same batch twice, or an older batch after a newer one, leaves the
    read model as the newest batch made it; events accumulate without duplicates.
    On SQLite, run it in ``write_session`` (``BEGIN IMMEDIATE``) or use ``project``.
    Raises ``ValueError`` for a batch whose tasks/events belong to another case.
    """
    check_batch(batch)
    if _upsert_case(session, batch.case):
        _replace_tasks(session, batch)
        _replace_departments(session, batch.case)
    _insert_events(session, batch.events)
    append_audit(session, [_audit_entry(event) for event in batch.events])


def _audit_entry(event: EventRow) -> AuditEntry:
    """Every case event is also a row of the audit trail (which reconcile never rebuilds)."""
    return AuditEntry(
        at=event.at,
        kind=event.kind,
        actor_id=event.actor_id,
        actor_name=event.actor_name,
        actor_role=event.actor_role,
        case_no=event.case_no,
        seq=event.seq,
        summary=event.summary,
        reason=event.reason,
        data={"department": event.department, "task_id": event.task_id},
    )


def project(engine: Engine, batch: ProjectionBatch) -> None:
    """Apply ``batch`` in its own write transaction and commit it."""
    with write_session(engine) as session:
        apply_batch(session, batch)


def record_notification(session: Session, notification: Notification) -> bool:
    """Store a sent notification once per (case_no, seq, kind); True if it was new."""
    key = ("case_no", "seq", "kind")
    return _inserted(session, NotificationRecord, key, notification.model_dump())


def store_licences(
    session: Session, licences: Iterable[LicenceRecord], *, lookup_key: bytes
) -> int:
    """Store issued licences once per number; returns how many were new.

    A second licence with a known number is ignored, not merged: a number, once
    issued, identifies that licence for good. The holder's id is stored only as its
    keyed hash (``readmodel.holders``).
    """
    return sum(
        _inserted(session, LicenceStoreRecord, ("number",), _licence_row(licence, lookup_key))
        for licence in licences
    )


def _licence_row(licence: LicenceRecord, lookup_key: bytes) -> dict[str, Any]:
    row = licence.model_dump(exclude={"holder_id"})
    row["holder_hash"] = holder_hash(lookup_key, licence.holder_id)
    return row


def record_publication(session: Session, publication: Publication, published_at: datetime) -> bool:
    """Publish a decision once per case (七天双公示); True when it is new."""
    values = {**publication.model_dump(), "published_at": published_at}
    return _inserted(session, PublicationRecord, ("case_no",), values)


def revoke_licences(session: Session, revocation: Revocation, *, lookup_key: bytes) -> int:
    """Mark the licences revoked (an e-licence that no longer counts) and leave the
    holder's credit mark, both idempotently; returns how many licences changed."""
    changed = 0
    for number in revocation.licence_numbers:
        record = session.exec(
            select(LicenceStoreRecord).where(LicenceStoreRecord.number == number)
        ).first()
        if record is not None and record.status != "revoked":
            record.status = "revoked"
            record.revoked_reason = revocation.reason
            record.revoked_on = revocation.revoked_on
            session.add(record)
            changed += 1
    stmt = _insert_ignoring(_dialect(session), CreditRecord, "case_no", "kind")
    session.exec(
        stmt,
        params={
            "holder_hash": holder_hash(lookup_key, revocation.holder_id),
            "holder_name": revocation.holder_name,
            "case_no": revocation.case_no,
            "kind": "false_commitment",
            "reason": revocation.reason,
            "recorded_on": revocation.revoked_on,
        },
    )
    return changed


def restore_derived(
    session: Session, records: DerivedRecords, *, lookup_key: bytes
) -> dict[str, int]:
    """Write what a case wrote outside its own rows, idempotently (``reconcile``): its
    e-licences, their revocation, its publication and the notifications sent. Returns
    how many rows were new of each kind."""
    counts = {
        "licences": store_licences(session, records.licences, lookup_key=lookup_key),
        "revoked": 0,
        "publications": 0,
        "notifications": sum(record_notification(session, n) for n in records.notifications),
    }
    if records.revocation is not None:
        counts["revoked"] = revoke_licences(session, records.revocation, lookup_key=lookup_key)
    if records.publication is not None and records.published_at is not None:
        counts["publications"] = int(
            record_publication(session, records.publication, records.published_at)
        )
    return counts
