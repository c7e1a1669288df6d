"""``reconcile``'s comparison of a workflow's projection with the stored rows, on SQLite
and PostgreSQL: nothing differs right after projecting, and each kind of drift (a
changed field, a lost task, lost events, a lost case) is found and named."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, delete, update

from cli.reconcile import compare
from domain.projection import ProjectionBatch
from domain.timezone import CST
from readmodel.database import create_schema, make_engine, read_session, write_session
from readmodel.projection import project
from readmodel.tables import CaseRecord, EventRecord, TaskRecord, table_of
from tests.test_backup import empty_target  # noqa: F401  (a second empty database)
from tests.test_readmodel import batch, task_row
from tui.demo import sample_batches


def _newer(truth: ProjectionBatch) -> ProjectionBatch:
    """The same case one event later, with its tasks closed."""
    case = truth.case.model_copy(
        update={
            "last_seq": truth.case.last_seq + 1,
            "updated_at": truth.case.updated_at + timedelta(minutes=1),
            "stage": "下一阶段",
        }
    )
    return truth.model_copy(update={"case": case, "tasks": truth.tasks[:1]})


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


def test_fresh_projection_compares_equal(engine: Engine) -> None:
    truth = batch("C1", 3, tasks=[task_row("C1", "t1"), task_row("C1", "t2", status="approved")])
    project(engine, truth)
    # The workflow's clock is China time; the database hands back UTC: same instants.
    in_china = truth.model_copy(
        update={
            "case": truth.case.model_copy(
                update={"received_at": truth.case.received_at.astimezone(CST)}
            )
        }
    )
    with read_session(engine) as session:
        diff = compare(session, in_china)
    assert not diff.changed and diff.changes == [] and diff.events_added == 0


def test_drift_is_found_and_named(engine: Engine) -> None:
    truth = batch("C1", 3, tasks=[task_row("C1", "t1"), task_row("C1", "t2")])
    project(engine, truth)
    cases, tasks, events = table_of(CaseRecord), table_of(TaskRecord), table_of(EventRecord)
    with write_session(engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(cases)
            .where(cases.c.case_no == "C1")
            .values(
                stage="错误阶段",
                open_departments=["fire"],
                updated_at=truth.case.updated_at + timedelta(1),
            )
        )
        session.exec(delete(tasks).where(tasks.c.task_id == "t2"))  # type: ignore[call-overload]
        session.exec(delete(events).where(events.c.seq > 1))  # type: ignore[call-overload]
    with read_session(engine) as session:
        diff = compare(session, truth)
        missing = compare(session, batch("C2", 1))
    assert any(c.startswith("stage 错误阶段 → ") for c in diff.changes)
    assert "open_departments fire → edu,fire" in diff.changes
    assert "task t2 missing" in diff.changes
    assert not any(c.startswith("updated_at") for c in diff.changes)  # changes on every write
    assert diff.events_added == 2
    assert missing.missing and missing.events_added == 1

    project(
        engine,
        truth.model_copy(
            update={
                "case": truth.case.model_copy(
                    update={"updated_at": truth.case.updated_at + timedelta(2)}
                )
            }
        ),
    )
    with read_session(engine) as session:
        assert not compare(session, truth).changed  # reconcile's write repaired it


def test_bulk_apply_writes_what_apply_batch_writes(
    database_url: str,
    empty_target: str,  # noqa: F811  (the fixture imported above)
) -> None:
    """``apply_batches`` (reconcile, many cases per statement) and ``apply_batch`` (the
    workflows, one case) leave the same rows, audit chain included — also for a stale
    batch arriving after a newer one."""
    from sqlalchemy import select

    from readmodel.audit import AuditRecord
    from readmodel.projection import apply_batch
    from readmodel.reconcile import apply_batches
    from readmodel.tables import CaseDepartmentRecord

    first = list(sample_batches(40, date(2026, 5, 20)))
    newer = [_newer(b) for b in first[::2]]
    engines = [make_engine(database_url), make_engine(empty_target)]
    try:
        for engine in engines:
            create_schema(engine)
        one, many = engines
        for batches in (first, newer, first):  # the last round is stale: changes nothing
            with write_session(one) as session:
                for b in batches:
                    apply_batch(session, b)
            with write_session(many) as session:
                apply_batches(session, batches)
        dumps = []
        for engine in engines:
            with read_session(engine) as session:
                dumps.append(
                    {
                        model.__name__: sorted(
                            (tuple(r) for r in session.exec(select(*table_of(model).c))),
                            key=repr,
                        )
                        for model in (
                            CaseRecord,
                            TaskRecord,
                            CaseDepartmentRecord,
                            EventRecord,
                            AuditRecord,
                        )
                    }
                )
    finally:
        for engine in engines:
            engine.dispose()
    assert dumps[0]["CaseRecord"] and dumps[0]["AuditRecord"]
    assert dumps[0] == dumps[1]


def test_progress_is_drawn_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bar goes to stderr when it is a terminal; piped (CI, scripts) it draws nothing."""
    import io

    from rich.console import Console

    import cli.output
    from cli.reconcile import progress_display

    for terminal in (True, False):
        screen = io.StringIO()
        monkeypatch.setattr(
            cli.output, "stderr", Console(file=screen, force_terminal=terminal, width=100)
        )
        with progress_display() as progress:
            bar = progress.add_task("reconciling cases", total=10)
            progress.advance(bar, 4)
            progress.refresh()
        assert ("reconciling cases" in screen.getvalue()) is terminal
        assert ("4/10" in screen.getvalue()) is terminal
