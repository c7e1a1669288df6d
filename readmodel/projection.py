"""Writing the read model: idempotent, order-tolerant, safe under concurrency.

Activities are retried and may run late or twice, and several workers may write
the same case at once. So every write here is an ``INSERT ... ON CONFLICT``:

* the case row is replaced only when the batch is at least as new as the stored
  row (``last_seq``); an old batch arriving after a newer one changes nothing;
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
from typing import Any

from sqlalchemy import Engine, Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from domain.projection import CaseRow, EventRow, LicenceRecord, Notification, ProjectionBatch
from readmodel.database import write_session
from readmodel.tables import (
    NO_DUE_DATE,
    CaseDepartmentRecord,
    CaseRecord,
    EventRecord,
    LicenceStoreRecord,
    NotificationRecord,
    TaskRecord,
    table_of,
    warning_rank,
)

_INSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def _insert(session: Session, model: type[SQLModel]) -> Any:
    """A dialect-specific INSERT (with ``on_conflict_*``) for the session's database."""
    dialect = session.get_bind().dialect.name
    try:
        factory = _INSERTS[dialect]
    except KeyError:
        raise NotImplementedError(
            f"the read model supports SQLite and PostgreSQL, not {dialect!r}"
        ) from None
    return factory(table_of(model))


def _case_values(case: CaseRow) -> dict[str, Any]:
    values = case.model_dump()
    values["warning_rank"] = warning_rank(case.warning)
    values["due_sort"] = case.next_due_on or NO_DUE_DATE
    return values


def _event_values(event: EventRow) -> dict[str, Any]:
    return event.model_dump()


def _check_batch(batch: ProjectionBatch) -> None:
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
    values = _case_values(case)
    stmt = _insert(session, CaseRecord).values(**values)
    table = table_of(CaseRecord)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.case_no],
        set_={name: stmt.excluded[name] for name in values if name != "case_no"},
        where=table.c.last_seq <= stmt.excluded.last_seq,
    ).returning(table.c.case_no)
    return session.exec(stmt).first() is not None


def _replace_tasks(session: Session, batch: ProjectionBatch) -> None:
    case_no = batch.case.case_no
    session.exec(delete(table_of(TaskRecord)).where(table_of(TaskRecord).c.case_no == case_no))
    if batch.tasks:
        session.exec(
            _insert(session, TaskRecord),
            params=[task.model_dump() for task in batch.tasks],
        )


def _replace_departments(session: Session, case: CaseRow) -> None:
    table = table_of(CaseDepartmentRecord)
    session.exec(delete(table).where(table.c.case_no == case.case_no))
    departments = list(dict.fromkeys(case.open_departments))
    if departments:
        session.exec(
            _insert(session, CaseDepartmentRecord),
            params=[{"case_no": case.case_no, "department": d} for d in departments],
        )


def _insert_events(session: Session, events: Iterable[EventRow]) -> None:
    rows = [_event_values(event) for event in events]
    if rows:
        stmt = _insert(session, EventRecord).on_conflict_do_nothing(
            index_elements=["case_no", "seq"]
        )
        session.exec(stmt, params=rows)


def apply_batch(session: Session, batch: ProjectionBatch) -> None:
    """Apply one projection batch idempotently, inside the caller's transaction.

    Applying the same batch twice, or an older batch after a newer one, leaves the
    read model as the newest batch made it; events accumulate without duplicates.
    On SQLite, run it in ``write_session`` (``BEGIN IMMEDIATE``) or use ``project``.
    Raises ``ValueError`` for a batch whose tasks/events belong to another case.
    """
    _check_batch(batch)
    if _upsert_case(session, batch.case):
        _replace_tasks(session, batch)
        _replace_departments(session, batch.case)
    _insert_events(session, batch.events)


def project(engine: Engine, batch: ProjectionBatch) -> None:
    """Apply ``batch`` in its own write transaction and commit it."""
    with write_session(engine) as session:
        apply_batch(session, batch)


def record_notification(session: Session, notification: Notification) -> bool:
    """Store a sent notification once per (case_no, seq, kind); True if it was new."""
    stmt = (
        _insert(session, NotificationRecord)
        .values(**notification.model_dump())
        .on_conflict_do_nothing(index_elements=["case_no", "seq", "kind"])
    )
    return bool(session.exec(stmt).rowcount)


def store_licences(session: Session, licences: Iterable[LicenceRecord]) -> int:
    """Store issued licences once per number; returns how many were new.

    A second licence with a known number is ignored, not merged: a number, once
    issued, identifies that licence for good.
    """
    rows = [licence.model_dump() for licence in licences]
    stored = 0
    table = table_of(LicenceStoreRecord)
    for row in rows:
        stmt = (
            _insert(session, LicenceStoreRecord)
            .values(**row)
            .on_conflict_do_nothing(index_elements=[table.c.number])
        )
        stored += session.exec(stmt).rowcount
    return stored
