"""The SQL read model against a real SQLite file and a real PostgreSQL (every test that
takes ``engine`` or ``configured_db`` runs on both): idempotency, ordering, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, inspect, text
from sqlalchemy.dialects import postgresql
from sqlmodel import SQLModel
from temporalio.testing import ActivityEnvironment

from activities.licences import issue_licences
from activities.notifications import notify
from activities.projection import project_case
from domain.projection import (
    CaseRow,
    EventRow,
    IssueLicences,
    LicenceRecord,
    Notification,
    ProjectionBatch,
    Publication,
    Revocation,
    TaskRow,
)
from readmodel.database import (
    create_read_model,
    create_schema,
    make_engine,
    make_sqlite_file,
    read_session,
    reset_engines,
    write_session,
)
from readmodel.projection import (
    _case_upsert,
    _insert_ignoring,
    apply_batch,
    project,
    record_notification,
    record_publication,
    revoke_licences,
    store_licences,
)
from readmodel.queries import (
    case_events,
    case_tasks,
    count_cases,
    credit_records,
    get_case,
    licences_for_holder,
    list_cases,
    notifications,
    publication,
)
from readmodel.tables import (
    CaseRecord,
    EventRecord,
    LicenceStoreRecord,
    NotificationRecord,
    TaskRecord,
    table_of,
)
from runtime.settings import get_settings
from tests.harness import session_lookup_key

T0 = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)


def case_row(
    case_no: str,
    *,
    seq: int = 1,
    chain: str = "kindergarten",
    status: str = "running",
    stage: str = "审查",
    warning: str = "none",
    next_due_on: date | None = date(2025, 3, 20),
    open_departments: list[str] | None = None,
    applicant_name: str = "阳光幼儿园",
) -> CaseRow:
    return CaseRow(
        case_no=case_no,
        chain=chain,
        chain_version=1,
        status=status,
        stage=stage,
        applicant_name=applicant_name,
        applicant_id_masked="9111**********123X",
        received_at=T0,
        accepted_on=date(2025, 3, 3),
        due_on=date(2025, 3, 31),
        provisional=False,
        statutory_due_on=date(2025, 4, 15),
        warning=warning,
        case_warning=warning,
        open_departments=["edu", "fire"] if open_departments is None else open_departments,
        next_due_on=next_due_on,
        updated_at=T0 + timedelta(minutes=seq),
        concluded_at=None,
        last_seq=seq,
    )


def task_row(case_no: str, task_id: str, *, status: str = "open") -> TaskRow:
    return TaskRow(
        case_no=case_no,
        task_id=task_id,
        kind="review",
        name=f"审查 {task_id}",
        stage="审查",
        departments=["edu"],
        open_departments=["edu"] if status == "open" else [],
        assignees=["u1"],
        status=status,
        started_at=T0,
        concluded_at=None,
        due_on=date(2025, 3, 20),
        provisional=False,
        warning="none",
        stopped=False,
        extension_days=0,
    )


def event_row(case_no: str, seq: int) -> EventRow:
    return EventRow(
        case_no=case_no,
        seq=seq,
        at=T0 + timedelta(minutes=seq),
        kind="note",
        actor_id="u1",
        actor_name="张三",
        actor_role="coordinator",
        department=None,
        task_id=None,
        summary=f"event {seq}",
        reason="",
    )


def batch(
    case_no: str, seq: int, *, tasks: list[TaskRow] | None = None, **case_kwargs: object
) -> ProjectionBatch:
    """A batch as the workflow would send after its event ``seq``: carries events 1..seq."""
    return ProjectionBatch(
        case=case_row(case_no, seq=seq, **case_kwargs),  # type: ignore[arg-type]
        tasks=[task_row(case_no, "t1")] if tasks is None else tasks,
        events=[event_row(case_no, s) for s in range(1, seq + 1)],
    )


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A fresh read model with the schema, on SQLite and on PostgreSQL."""
    engine = make_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


def test_schema(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"cases", "case_departments", "tasks", "events", "notifications", "licences"} <= tables
    create_schema(engine)  # a second run is harmless


def test_sqlite_pragmas(tmp_path: Path) -> None:
    make_sqlite_file(tmp_path / "rm.sqlite3")
    engine = make_engine(f"sqlite:///{tmp_path / 'rm.sqlite3'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()


@pytest.mark.parametrize(
    ("row_model", "table_model"),
    [
        (CaseRow, CaseRecord),
        (TaskRow, TaskRecord),
        (EventRow, EventRecord),
        (Notification, NotificationRecord),
        (LicenceRecord, LicenceStoreRecord),
    ],
)
def test_tables_mirror_the_projection_models(
    row_model: type[BaseModel], table_model: type[SQLModel]
) -> None:
    """A field added to a domain row must get a column, or projecting it would fail
    (a holder's id is stored as its keyed hash, never as itself)."""
    stored_as = {"holder_id": "holder_hash"}
    fields = {stored_as.get(name, name) for name in row_model.model_fields}
    assert fields <= set(table_of(table_model).c.keys())
    assert "holder_id" not in table_of(table_model).c


def test_upserts_render_for_postgresql() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    case_sql = str(_case_upsert("postgresql").compile(dialect=dialect))
    assert "ON CONFLICT (case_no) DO UPDATE" in case_sql
    assert "WHERE cases.status != %(status_1)s::VARCHAR AND (cases.last_seq < excluded" in case_sql
    assert "OR cases.last_seq = excluded.last_seq AND cases.updated_at <=" in case_sql
    assert "RETURNING cases.case_no" in case_sql
    events_sql = str(
        _insert_ignoring("postgresql", EventRecord, "case_no", "seq").compile(dialect=dialect)
    )
    assert "ON CONFLICT (case_no, seq) DO NOTHING" in events_sql


def test_apply_same_batch_twice_is_idempotent(engine: Engine) -> None:
    b = batch("C1", 3)
    project(engine, b)
    project(engine, b)
    with read_session(engine) as s:
        assert [e.seq for e in case_events(s, "C1")] == [1, 2, 3]
        assert [t.task_id for t in case_tasks(s, "C1")] == ["t1"]
        case = get_case(s, "C1")
        assert case is not None
        assert case.last_seq == 3
        assert case.open_departments == ["edu", "fire"]
        assert case.received_at == T0  # aware UTC survives SQLite
        assert count_cases(s) == 1


def test_older_batch_does_not_overwrite_newer(engine: Engine) -> None:
    project(engine, batch("C1", 5, stage="联合验收", open_departments=["fire"]))
    project(engine, batch("C1", 2, stage="受理", open_departments=["edu"], tasks=[]))
    with read_session(engine) as s:
        case = get_case(s, "C1")
        assert case is not None
        assert (case.last_seq, case.stage, case.open_departments) == (5, "联合验收", ["fire"])
        assert [t.task_id for t in case_tasks(s, "C1")] == ["t1"]
        assert [c.case_no for c in list_cases(s, department="fire")] == ["C1"]
        assert list_cases(s, department="edu") == []


def test_same_seq_newer_update_wins(engine: Engine) -> None:
    """Same last_seq (no new event, e.g. a warning level change): updated_at decides."""
    first = batch("C1", 3, warning="none")
    later = first.model_copy(
        update={
            "case": first.case.model_copy(
                update={"warning": "yellow", "updated_at": first.case.updated_at + timedelta(1)}
            )
        }
    )
    project(engine, first)
    project(engine, later)
    project(engine, first)  # a straggling retry of the earlier batch
    with read_session(engine) as s:
        assert [c.warning for c in list_cases(s)] == ["yellow"]


def test_newer_batch_replaces_tasks_and_departments_and_appends_events(engine: Engine) -> None:
    project(engine, batch("C1", 2, tasks=[task_row("C1", "t1"), task_row("C1", "t2")]))
    newer = ProjectionBatch(
        case=case_row("C1", seq=4, open_departments=["market"]),
        tasks=[task_row("C1", "t1", status="approved"), task_row("C1", "t3")],
        events=[event_row("C1", 3), event_row("C1", 4)],  # only the new ones
    )
    project(engine, newer)
    with read_session(engine) as s:
        assert [e.seq for e in case_events(s, "C1")] == [1, 2, 3, 4]
        tasks = {t.task_id: t.status for t in case_tasks(s, "C1")}
        assert tasks == {"t1": "approved", "t3": "open"}
        assert [c.case_no for c in list_cases(s, department="market")] == ["C1"]
        assert list_cases(s, department="edu") == []


def test_batch_with_foreign_rows_is_rejected(engine: Engine) -> None:
    bad = ProjectionBatch(case=case_row("C1"), tasks=[task_row("C2", "t1")])
    with pytest.raises(ValueError, match="C2"), write_session(engine) as s:
        apply_batch(s, bad)
    with read_session(engine) as s:
        assert get_case(s, "C1") is None


def test_filters_and_urgency_order(engine: Engine) -> None:
    project(engine, batch("C-none-far", 1, next_due_on=date(2025, 5, 1)))
    project(engine, batch("C-none-near", 1, next_due_on=date(2025, 3, 5)))
    project(engine, batch("C-none-nodue", 1, next_due_on=None, open_departments=[]))
    project(engine, batch("C-yellow", 1, warning="yellow", next_due_on=date(2025, 6, 1)))
    project(engine, batch("C-red-b", 1, warning="red", next_due_on=date(2025, 3, 10)))
    project(engine, batch("C-red-a", 1, warning="red", next_due_on=date(2025, 3, 10)))
    project(
        engine,
        batch("R-1", 1, chain="restaurant", status="approved", open_departments=["market"]),
    )
    with read_session(engine) as s:
        assert [c.case_no for c in list_cases(s, chain="kindergarten")] == [
            "C-red-a",
            "C-red-b",
            "C-yellow",
            "C-none-near",
            "C-none-far",
            "C-none-nodue",
        ]
        assert [c.case_no for c in list_cases(s, overdue_only=True)] == ["C-red-a", "C-red-b"]
        assert count_cases(s, warning=["red", "yellow"]) == 3
        assert [c.case_no for c in list_cases(s, status="approved")] == ["R-1"]
        assert count_cases(s, status="running") == 6
        assert count_cases(s, department="edu") == 5
        assert [c.case_no for c in list_cases(s, department="market")] == ["R-1"]
        assert count_cases(s, department="edu", warning="red") == 2
        page = list_cases(s, limit=2, offset=2)
        assert [c.case_no for c in page] == ["C-yellow", "C-none-near"]


def test_search_by_case_no_and_applicant_name(engine: Engine) -> None:
    project(engine, batch("KG-2025-0001", 1, applicant_name="阳光幼儿园"))
    project(engine, batch("KG-2025-0002", 1, applicant_name="彩虹幼儿园"))
    project(engine, batch("RS-2025-0001", 1, applicant_name="老王面馆_100%"))
    with read_session(engine) as s:
        assert [c.case_no for c in list_cases(s, search="kg-2025")] == [
            "KG-2025-0001",
            "KG-2025-0002",
        ]
        assert [c.case_no for c in list_cases(s, search="彩虹")] == ["KG-2025-0002"]
        assert [c.case_no for c in list_cases(s, search="0001")] == [
            "KG-2025-0001",
            "RS-2025-0001",
        ]
        # LIKE wildcards in the search text are taken literally.
        assert [c.case_no for c in list_cases(s, search="_100%")] == ["RS-2025-0001"]
        assert count_cases(s, search="%") == 1
        assert count_cases(s, search="  ") == 3


def test_concurrent_writers_do_not_lock_or_lose_updates(engine: Engine) -> None:
    """8 threads: some write their own cases, some race on one shared case."""
    threads_count, rounds = 8, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def work(n: int) -> None:
        try:
            start.wait()
            for r in range(1, rounds + 1):
                project(engine, batch(f"OWN-{n}", r))
                # Every thread sends the shared case batches with interleaving seqs.
                project(engine, batch("SHARED", r * threads_count + n))
                with read_session(engine) as s:  # readers alongside the writers
                    list_cases(s, department="edu", limit=20)
        except BaseException as err:  # collected and asserted on the main thread
            errors.append(err)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    newest = rounds * threads_count + threads_count - 1
    with read_session(engine) as s:
        assert count_cases(s) == threads_count + 1
        shared = get_case(s, "SHARED")
        assert shared is not None
        assert shared.last_seq == newest
        assert [e.seq for e in case_events(s, "SHARED")] == list(range(1, newest + 1))
        for n in range(threads_count):
            own = get_case(s, f"OWN-{n}")
            assert own is not None
            assert own.last_seq == rounds
            assert len(case_events(s, f"OWN-{n}")) == rounds
        departments = s.connection().execute(text("SELECT count(*) FROM case_departments"))
        assert departments.scalar() == 2 * (threads_count + 1)


@pytest.fixture
def configured_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Point the settings at a fresh database made by `onechain db upgrade`, as the
    worker would see it."""
    monkeypatch.setenv("ONECHAIN_DATABASE_URL", database_url)
    get_settings.cache_clear()
    reset_engines()
    create_read_model(database_url)
    engine = make_engine(get_settings().resolved_database_url)
    yield engine
    engine.dispose()
    reset_engines()
    get_settings.cache_clear()


def test_project_case_activity(configured_db: Engine) -> None:
    env = ActivityEnvironment()
    env.run(project_case, batch("A-1", 2))
    env.run(project_case, batch("A-1", 2))  # a retry
    env.run(project_case, batch("A-1", 1))  # late and stale
    with read_session(configured_db) as s:
        case = get_case(s, "A-1")
        assert case is not None
        assert case.last_seq == 2
        assert [e.seq for e in case_events(s, "A-1")] == [1, 2]


def test_notify_and_issue_licences_activities(configured_db: Engine) -> None:
    env = ActivityEnvironment()
    note = Notification(
        case_no="A-1", seq=7, kind="warning", recipients=["fire"], message="黄牌预警", at=T0
    )
    env.run(notify, note)
    env.run(notify, note)  # a retry stores nothing new
    env.run(notify, note.model_copy(update={"kind": "overdue"}))
    licence = LicenceRecord(
        case_no="A-1",
        type="kindergarten_licence",
        name="民办学校办学许可证",
        number="教民1101012025000001",
        department="edu",
        holder_name="阳光幼儿园",
        holder_id="91110101MA0000000X",
        issued_on=date(2025, 4, 1),
    )
    other = licence.model_copy(update={"number": "JY11101012025001", "type": "food"})
    env.run(issue_licences, IssueLicences(licences=[licence, other]))
    env.run(issue_licences, IssueLicences(licences=[licence]))  # a retry
    with read_session(configured_db) as s:
        assert [(n.kind, n.recipients) for n in notifications(s, "A-1")] == [
            ("warning", ["fire"]),
            ("overdue", ["fire"]),
        ]
        assert notifications(s, "other") == []
        key = session_lookup_key()
        held = licences_for_holder(s, "91110101MA0000000X", lookup_key=key)
        assert [lic.number for lic in held] == ["JY11101012025001", "教民1101012025000001"]
        # however the id is typed; and another id finds nothing
        assert len(licences_for_holder(s, " 91110101ma0000000x", lookup_key=key)) == 2
        assert licences_for_holder(s, "91110101MA0000000Y", lookup_key=key) == []
        food = licences_for_holder(s, "91110101MA0000000X", "food", lookup_key=key)
        assert [lic.type for lic in food] == ["food"]
        stored = s.connection().exec_driver_sql("SELECT * FROM licences").fetchall()
        assert stored and "91110101MA0000000X" not in repr(stored).upper()


#: Any 32 bytes do for the stores' own tests; activities use the keystore's.
KEY = b"k" * 32


def test_stores_say_whether_a_row_is_new(engine: Engine) -> None:
    """Retried activities must learn "already stored" on every driver (psycopg's
    rowcount is -1 for these statements, so the stores ask RETURNING instead)."""
    note = Notification(
        case_no="A-1", seq=1, kind="warning", recipients=["fire"], message="m", at=T0
    )
    licence = LicenceRecord(
        case_no="A-1",
        type="food",
        name="食品经营许可证",
        number="JY1",
        department="market",
        holder_name="老王面馆",
        holder_id="92370811MA3C000001",
        issued_on=date(2025, 4, 1),
    )
    second = licence.model_copy(update={"number": "JY2"})
    decision = Publication(
        case_no="A-1",
        chain="restaurant",
        decision="approved",
        holder_name="老王面馆",
        departments=["market"],
        licence_numbers=["JY1"],
        decided_on=date(2025, 4, 1),
    )
    revocation = Revocation(
        case_no="A-1",
        holder_id=licence.holder_id,
        holder_name=licence.holder_name,
        licence_numbers=["JY2"],
        reason="核查不实",
        revoked_on=date(2025, 5, 1),
    )
    firsts, agains = [], []
    for outcomes in (firsts, agains):
        with write_session(engine) as s:
            outcomes.append(record_notification(s, note))
            outcomes.append(store_licences(s, [licence, second], lookup_key=KEY))
            outcomes.append(record_publication(s, decision, T0))
            outcomes.append(revoke_licences(s, revocation, lookup_key=KEY))
    assert firsts == [True, 2, True, 1]
    assert agains == [False, 0, False, 0]
    with read_session(engine) as s:
        assert len(notifications(s, "A-1")) == 1
        assert [
            (lic.number, lic.status)
            for lic in licences_for_holder(s, licence.holder_id, lookup_key=KEY)
        ] == [
            ("JY1", "valid"),
            ("JY2", "revoked"),
        ]
        assert [c.kind for c in credit_records(s, licence.holder_id, lookup_key=KEY)] == [
            "false_commitment"
        ]
        published = publication(s, "A-1")
        assert published is not None and published.published_at == T0
