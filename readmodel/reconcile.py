"""Comparing the read model with what the cases say, many cases at a time (``reconcile``).

``onechain reconcile`` used to read three queries per case and write one transaction
per case; for ten thousand cases that was most of its time. Here a chunk of cases is
read with three queries in all (case rows, task rows, event numbers, each ``IN`` the
chunk), and everything the chunk needs written — the cases that differ and what they
wrote outside their own rows (e-licences, revocations, publications, notifications) —
goes in one write transaction, with the same idempotent upserts the workflows use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from domain.projection import DerivedRecords, ProjectionBatch
from readmodel.audit import append as append_audit
from readmodel.database import write_session
from readmodel.outside import ALTERED
from readmodel.projection import (
    _audit_entry,
    _case_upsert,
    _case_values,
    _dialect,
    _insert,
    _insert_ignoring,
    check_batch,
    restore_derived,
)
from readmodel.tables import (
    CaseDepartmentRecord,
    CaseRecord,
    EventRecord,
    TaskRecord,
    table_of,
)

#: Case-row columns that change on every write and say nothing about the case.
IGNORED_CASE_FIELDS = frozenset({"updated_at"})
#: Cases per read and per write transaction: large enough that round trips do not
#: dominate, small enough for any database's limit on bound parameters.
CHUNK = 400
DERIVED_KINDS = ("licences", "revoked", "publications", "notifications")


@dataclass
class CaseDiff:
    """What the read model lacks or holds differently for one case."""

    case_no: str
    missing: bool = False
    changes: list[str] = field(default_factory=list)
    events_added: int = 0
    newer_in_read_model: bool = False
    #: The row is marked as changed around onechain (``readmodel.outside``): left alone.
    altered: bool = False

    @property
    def changed(self) -> bool:
        return self.missing or bool(self.changes) or self.events_added > 0


@dataclass
class Stored:
    """The read model's rows for a chunk of cases."""

    cases: dict[str, CaseRecord]
    tasks: dict[str, dict[str, TaskRecord]]
    event_seqs: dict[str, set[int]]


def load_stored(session: Session, case_nos: Sequence[str]) -> Stored:
    """The rows of ``case_nos``, in three queries whatever their number."""
    wanted = list(dict.fromkeys(case_nos))
    cases = {
        row.case_no: row
        for row in session.exec(select(CaseRecord).where(col(CaseRecord.case_no).in_(wanted)))
    }
    tasks: dict[str, dict[str, TaskRecord]] = defaultdict(dict)
    for task in session.exec(select(TaskRecord).where(col(TaskRecord.case_no).in_(wanted))):
        tasks[task.case_no][task.task_id] = task
    seqs: dict[str, set[int]] = defaultdict(set)
    for case_no, seq in session.exec(
        select(EventRecord.case_no, EventRecord.seq).where(col(EventRecord.case_no).in_(wanted))
    ):
        seqs[case_no].add(seq)
    return Stored(cases, dict(tasks), dict(seqs))


def _text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "[]"
    return "∅" if value is None else str(value)


def _differences(stored: Any, wanted: dict[str, Any], ignore: frozenset[str]) -> list[str]:
    changes = []
    for name, value in wanted.items():
        if name in ignore:
            continue
        before = getattr(stored, name, None)
        if before != value:
            changes.append(f"{name} {_text(before)} → {_text(value)}")
    return changes


def diff_case(stored: Stored, batch: ProjectionBatch) -> CaseDiff:
    """Compare one case's projection with its stored rows."""
    case_no = batch.case.case_no
    diff = CaseDiff(case_no)
    known_events = stored.event_seqs.get(case_no, set())
    diff.events_added = sum(1 for e in batch.events if e.seq not in known_events)
    row = stored.cases.get(case_no)
    if row is None:
        diff.missing = True
        return diff
    if row.status == ALTERED:
        diff.altered = True  # the upsert never replaces it; its events are still kept
        return diff
    if row.last_seq > batch.case.last_seq:
        diff.newer_in_read_model = True  # the case moved on since the query; leave it
        return diff
    diff.changes = _differences(row, batch.case.model_dump(), IGNORED_CASE_FIELDS)
    stored_tasks = dict(stored.tasks.get(case_no, {}))
    for task in batch.tasks:
        found = stored_tasks.pop(task.task_id, None)
        if found is None:
            diff.changes.append(f"task {task.task_id} missing")
            continue
        changes = _differences(found, task.model_dump(), frozenset({"case_no", "task_id"}))
        diff.changes += [f"task {task.task_id} {c}" for c in changes]
    diff.changes += [f"task {task_id} not in the case" for task_id in sorted(stored_tasks)]
    return diff


def compare_many(session: Session, batches: Sequence[ProjectionBatch]) -> list[CaseDiff]:
    """``diff_case`` for every batch, reading the rows of all of them at once."""
    stored = load_stored(session, [b.case.case_no for b in batches])
    return [diff_case(stored, batch) for batch in batches]


def compare(session: Session, batch: ProjectionBatch) -> CaseDiff:
    """What the read model lacks or holds differently, compared with ``batch``."""
    return compare_many(session, [batch])[0]


def apply_batches(session: Session, batches: Sequence[ProjectionBatch]) -> None:
    """``readmodel.projection.apply_batch`` for many cases, a statement per table
    instead of per case, with the same statements and the same rules: a case row is
    replaced only when the batch is not older, its tasks and departments only with
    it, events inserted once, and every new event chained onto the audit trail.

    Per case, the audit append and the ORM flush cost ~25 ms (bench/README.md), which
    made rebuilding 10,000 cases take minutes. Keep this in step with ``apply_batch``
    (``tests/test_reconcile_compare.py`` checks both write the same rows).
    """
    if not batches:
        return
    for batch in batches:
        check_batch(batch)
    dialect = _dialect(session)
    connection = session.connection()
    written = {
        row[0]
        for row in connection.execute(
            _case_upsert(dialect), [_case_values(b.case) for b in batches]
        )
    }
    replaced = [b for b in batches if b.case.case_no in written]
    if replaced:
        numbers = [b.case.case_no for b in replaced]
        tasks, departments = table_of(TaskRecord), table_of(CaseDepartmentRecord)
        connection.execute(tasks.delete().where(tasks.c.case_no.in_(numbers)))
        connection.execute(departments.delete().where(departments.c.case_no.in_(numbers)))
        task_rows = [t.model_dump() for b in replaced for t in b.tasks]
        if task_rows:
            connection.execute(_insert(dialect, TaskRecord), task_rows)
        department_rows = [
            {"case_no": b.case.case_no, "department": d}
            for b in replaced
            for d in dict.fromkeys(b.case.open_departments)
        ]
        if department_rows:
            connection.execute(_insert(dialect, CaseDepartmentRecord), department_rows)
    events = [e for b in batches for e in b.events]
    if events:
        connection.execute(
            _insert_ignoring(dialect, EventRecord, "case_no", "seq"),
            [e.model_dump() for e in events],
        )
    append_audit(session, [_audit_entry(e) for e in events])


class _DryRun(Exception):
    """Raised inside a write transaction to roll it back after counting."""


def write_chunk(
    engine: Engine,
    batches: Sequence[ProjectionBatch],
    derived: Sequence[DerivedRecords],
    *,
    lookup_key: bytes,
    dry_run: bool,
) -> dict[str, int]:
    """Apply ``batches`` and restore ``derived`` in one write transaction; returns how
    many derived rows were missing, by kind. A dry run counts, then rolls back."""
    totals = dict.fromkeys(DERIVED_KINDS, 0)
    if not batches and not any(_has_rows(d) for d in derived):
        return totals
    try:
        with write_session(engine) as session:
            apply_batches(session, batches)
            for records in derived:
                if _has_rows(records):
                    for kind, count in restore_derived(
                        session, records, lookup_key=lookup_key
                    ).items():
                        totals[kind] += count
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return totals


def _has_rows(records: DerivedRecords) -> bool:
    return bool(
        records.licences
        or records.notifications
        or records.revocation is not None
        or records.publication is not None
    )
