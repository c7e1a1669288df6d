"""Schema migrations on SQLite and a real PostgreSQL: every revision up and down, the head
equal to the tables in code, a database made before migrations taken through
``onechain db upgrade`` without losing a row, and the refusals (behind, ahead, unknown).

Nothing here names a revision after the baseline: the tests walk the migrations folder,
so a new revision is tested as soon as it exists.
"""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, Table, inspect, select, text
from sqlmodel.sql.sqltypes import AutoString
from typer.testing import CliRunner, Result

import readmodel.schema
from cli.app import app
from domain.projection import LicenceRecord, ProjectionBatch
from readmodel.database import create_schema, make_engine, read_session, ready_engine, reset_engines
from readmodel.errors import SchemaAhead, SchemaBehind, UnknownSchema
from readmodel.holders import holder_hash
from readmodel.projection import project, store_licences
from readmodel.queries import (
    case_events,
    case_tasks,
    credit_records,
    get_case,
    licences_for_holder,
    list_cases,
    notifications,
    publication,
)
from readmodel.schema import (
    BASELINE,
    SchemaState,
    code_metadata,
    ensure_schema,
    head_revision,
    migrate,
    revisions,
    status_of,
)
from readmodel.tables import UTCDateTime
from runtime.settings import get_settings
from tests.harness import session_lookup_key

FIXTURES = Path(__file__).parent / "fixtures"
PREALEMBIC_SQLITE = FIXTURES / "prealembic_readmodel.sqlite3"
PREALEMBIC_POSTGRESQL = FIXTURES / "prealembic_postgresql.sql"
FUTURE = "9999_from_a_newer_onechain"
EXTRA = "9000_test_extra"

runner = CliRunner()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh, empty database (no schema yet)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def configured(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fresh database as ONECHAIN_DATABASE_URL, as every command would see it."""
    monkeypatch.setenv("ONECHAIN_DATABASE_URL", database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing must reach Temporal
    get_settings.cache_clear()
    reset_engines()
    yield database_url
    reset_engines()
    get_settings.cache_clear()


def onechain(*args: str) -> Result:
    return runner.invoke(app, list(args))


def schema_of(engine: Engine) -> dict[str, Any]:
    """Everything about the read-model tables a create statement decides, as reflected."""
    inspector = inspect(engine)
    shape: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        shape[table] = {
            "columns": [
                (c["name"], repr(c["type"]), c["nullable"], c.get("autoincrement"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "foreign_keys": inspector.get_foreign_keys(table),
        }
    return shape


def code_differences(engine: Engine) -> list[Any]:
    """What alembic would change to make the database match the tables in code."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, code_metadata()))


def load_prealembic(engine: Engine) -> None:
    """Make ``engine``'s empty database what the pre-migration code would have made:
    the SQLite fixture is copied by the caller; PostgreSQL gets the fixture's DDL as
    create_all emitted it, then the fixture's rows (ids and sequences as they were)."""
    if engine.dialect.name == "sqlite":
        return
    source = make_engine(f"sqlite:///{PREALEMBIC_SQLITE}")
    rows = MetaData()
    rows.reflect(source)
    with engine.begin() as connection:
        ddl = PREALEMBIC_POSTGRESQL.read_text(encoding="utf-8")
        ddl = "\n".join(line for line in ddl.splitlines() if not line.startswith("--"))
        for statement in ddl.split(";\n"):
            if statement.strip():
                connection.exec_driver_sql(statement)
        target = MetaData()
        target.reflect(connection)
        with source.connect() as reading:
            for table in rows.sorted_tables:
                values = [_utc(dict(row._mapping)) for row in reading.execute(select(table))]
                if values:
                    connection.execute(target.tables[table.name].insert(), values)
                if "id" in table.c:
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
    source.dispose()


def _utc(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite keeps UTCDateTime values naive (UTC by convention).
    return {
        k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
        for k, v in row.items()
    }


def all_rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every read-model table, in primary-key order."""
    tables = MetaData()
    tables.reflect(engine)
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            if table.name == "alembic_version":
                continue
            query = select(table).order_by(*table.primary_key.columns)
            found[table.name] = [dict(r._mapping) for r in connection.execute(query)]
    return found


# ------------------------------------------------------------------- the revisions
def test_every_revision_upgrades_and_downgrades(engine: Engine) -> None:
    """Each revision applies, its downgrade undoes it, and it applies again; the head
    is exactly the tables in code, and down to base leaves no read-model table."""
    scripts = revisions()
    assert scripts[0].revision == BASELINE and scripts[-1].revision == head_revision()
    shapes: dict[str | None, dict[str, Any]] = {None: schema_of(engine)}
    for script in scripts:
        migrate(engine, script.revision)
        assert status_of(engine).revision == script.revision
        shapes[script.revision] = schema_of(engine)
        migrate(engine, script.down_revision or "base", down=True)
        assert schema_of(engine) == shapes[script.down_revision], script.revision
        migrate(engine, script.revision)
        assert schema_of(engine) == shapes[script.revision], script.revision
    assert status_of(engine).state is SchemaState.CURRENT
    assert code_differences(engine) == []
    migrate(engine, "base", down=True)
    assert schema_of(engine) == {}
    assert status_of(engine).state is SchemaState.EMPTY


def test_head_is_the_tables_in_code(engine: Engine) -> None:
    """A table change without a revision fails here (on both dialects)."""
    change = create_schema(engine)
    assert change.before.state is SchemaState.EMPTY and change.revision == head_revision()
    assert code_differences(engine) == []


def test_baseline_is_exactly_what_create_all_made(engine: Engine, tmp_path: Path) -> None:
    """0001_baseline creates the same tables, columns, types, keys, indexes and
    constraints as the pre-migration code's create_all (the committed fixture)."""
    if engine.dialect.name == "sqlite":
        old = make_engine(f"sqlite:///{shutil.copy(PREALEMBIC_SQLITE, tmp_path / 'old.sqlite3')}")
        expected = schema_of(old)
        with old.connect() as connection:
            old_sql = set(connection.exec_driver_sql("SELECT sql FROM sqlite_master").scalars())
        old.dispose()
    else:
        load_prealembic(engine)
        expected = schema_of(engine)
        with engine.begin() as connection:
            for table in expected:
                connection.exec_driver_sql(f'DROP TABLE "{table}"')
    migrate(engine, BASELINE)
    assert schema_of(engine) == expected
    if engine.dialect.name == "sqlite":  # even the CREATE statements are the same text
        with engine.connect() as connection:
            new_sql = set(connection.exec_driver_sql("SELECT sql FROM sqlite_master").scalars())
        assert new_sql - old_sql == {s for s in new_sql if s and "alembic_version" in s}, (
            "0001_baseline differs from create_all"
        )
        assert old_sql <= new_sql


# ------------------------------------------------------------ the pre-migration fixture
def test_prealembic_database_keeps_every_row_through_db_upgrade(
    configured: str, tmp_path: Path
) -> None:
    engine = make_engine(configured)
    if engine.dialect.name == "sqlite":
        engine.dispose()
        shutil.copy(PREALEMBIC_SQLITE, configured.removeprefix("sqlite:///"))
        engine = make_engine(configured)
    load_prealembic(engine)
    before = all_rows(engine)
    assert all(before.values()), "the fixture has rows in every table"
    assert status_of(engine).state is SchemaState.PRE_MIGRATIONS

    result = onechain("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "recognised a read model made before migrations" in result.stdout

    after = all_rows(engine)
    # 0003: a holder's id is kept as its keyed hash, and no longer stored.
    key = session_lookup_key()
    for table in ("licences", "credit_records"):
        for row in before[table]:
            row["holder_hash"] = holder_hash(key, row.pop("holder_id"))
    for table, rows in before.items():
        kept = [{k: row[k] for k in rows[0]} for row in after[table]]
        assert kept == rows, f"rows of {table} changed"
    assert not any("holder_id" in row for t in ("licences", "credit_records") for row in after[t])
    current = json.loads(onechain("db", "current", "--json").stdout)
    assert (current["revision"], current["state"]) == (head_revision(), "current")

    # And the read model works as before: reads, and new writes on top of old rows.
    with read_session(engine) as session:
        case = get_case(session, "KG-2026-0001")
        assert case is not None and case.open_departments == ["education", "fire"]
        assert case.received_at == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
        assert [c.case_no for c in list_cases(session, department="fire")] == ["KG-2026-0001"]
        assert [t.task_id for t in case_tasks(session, "KG-2026-0001")] == ["T1", "T2"]
        assert len(case_events(session, "RS-2026-0001")) == 3
        held = licences_for_holder(session, "92370811MA3C000001", lookup_key=key)
        assert sorted(lic.status for lic in held) == ["revoked", "valid"]
        assert len(credit_records(session, "92370811MA3C000001", lookup_key=key)) == 1
        assert notifications(session, "KG-2026-0001")[0].recipients == ["education", "supervisor"]
        published = publication(session, "RS-2026-0001")
        assert published is not None and published.licence_numbers == ["JY13708110000001"]
    stored = case.model_dump(exclude={"warning_rank", "due_sort"})
    newer = {
        **stored,
        "last_seq": 3,
        "stage": "联合验收",
        "updated_at": case.updated_at + timedelta(1),
    }
    project(engine, ProjectionBatch(case=newer, tasks=[]))
    licence = LicenceRecord(
        case_no="KG-2026-0001",
        type="school_licence",
        name="民办学校办学许可证",
        number="教民1370811000001",
        department="education",
        holder_name="阳光幼儿园",
        holder_id="52370811MJ0000001X",
        issued_on=date(2026, 4, 1),
    )
    with read_session(engine) as session, session.begin():
        assert store_licences(session, [licence], lookup_key=key) == 1  # the id sequence carried on
    with read_session(engine) as session:
        assert get_case(session, "KG-2026-0001").stage == "联合验收"  # type: ignore[union-attr]
    engine.dispose()


# ------------------------------------------------------------------------ refusals
def _stamp(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_database_ahead_of_the_code_is_refused_everywhere(configured: str) -> None:
    engine = make_engine(configured)
    create_schema(engine)
    _stamp(engine, FUTURE)
    says = f"this database was upgraded by a newer onechain (revision {FUTURE}); run that version or restore a backup"
    with pytest.raises(SchemaAhead, match="newer onechain"):
        ensure_schema(engine, upgrade_behind=True)
    for command in (
        ["db", "upgrade"],
        ["cases", "list"],
        ["report"],
        ["worker"],
        ["server"],
        ["up", "--no-tui"],
    ):
        result = onechain(*command)
        assert result.exit_code == 2, (command, result.output)
        assert says in result.stderr, command
    result = onechain("tui")
    assert result.exit_code == 2 and says in result.stderr
    current = json.loads(onechain("db", "current", "--json").stdout)
    assert (current["state"], current["revision"], current["up_to_date"]) == (
        "ahead",
        FUTURE,
        False,
    )
    engine.dispose()


def test_unknown_tables_are_refused_with_how_to_rebuild(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE cases (case_no VARCHAR(64) PRIMARY KEY)")
    with pytest.raises(UnknownSchema, match="reconcile") as refused:
        ensure_schema(engine)
    assert "no table events" in str(refused.value)


def one_revision_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The migrations as the next onechain version would ship them: today's plus one
    revision on top (a copy; the real folder is not touched). Returns today's head."""
    head = head_revision()
    folder = tmp_path / "migrations"
    shutil.copytree(
        readmodel.schema.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    (folder / "versions" / f"{EXTRA}.py").write_text(
        f'''"""A revision only tests know."""
import sqlalchemy as sa
from alembic import op

revision = "{EXTRA}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("test_extra", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("test_extra")
''',
        encoding="utf-8",
    )
    monkeypatch.setattr(readmodel.schema, "MIGRATIONS_DIR", folder)
    return head


def test_database_behind_is_refused_until_db_upgrade(
    configured: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = make_engine(configured)
    create_schema(engine)  # at today's head...
    today = head_revision()
    one_revision_more(tmp_path, monkeypatch)  # ...which the next version is past
    upgrade = "run `onechain db upgrade`"
    with pytest.raises(SchemaBehind, match=f"has schema revision {today}"):
        ensure_schema(engine)
    for command in (
        ["worker"],
        ["server"],
        ["tui"],
        ["up", "--no-tui"],  # a configured database: upgrading it is the operator's step
        ["cases", "list"],
    ):
        result = onechain(*command)
        assert result.exit_code == 2, (command, result.output)
        assert upgrade in result.stderr and EXTRA in result.stderr, command
    assert status_of(engine).revision == today  # nobody upgraded it

    result = onechain("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"upgraded {today} → {EXTRA}" in result.stdout
    assert "test_extra" in inspect(engine).get_table_names()
    reset_engines()
    result = onechain("worker")  # past the check, on to Temporal (unreachable here)
    assert result.exit_code == 3 and "Temporal" in result.stderr, result.output
    engine.dispose()


def test_up_upgrades_the_embedded_default_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONECHAIN_DATABASE_URL", raising=False)
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    reset_engines()
    embedded = make_engine(get_settings().resolved_database_url)
    create_schema(embedded)
    today = head_revision()
    one_revision_more(tmp_path, monkeypatch)
    assert onechain("worker").exit_code == 2  # the worker still refuses it

    with socket.socket() as taken:  # so that `up` stops right after the check
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = onechain("up", "--no-tui", "--headless", "--port", port)
    assert result.exit_code == 3, result.output  # the port, not the schema
    assert f"onechain up: read model: upgraded {today} → {EXTRA}" in result.stderr
    assert status_of(embedded).revision == EXTRA
    embedded.dispose()
    reset_engines()
    get_settings.cache_clear()


# ---------------------------------------------------------------------- concurrency
def test_processes_starting_at_once_create_the_schema_once(database_url: str) -> None:
    """Separate engines (as separate processes have) race on an empty database: the
    schema lock lets one create it and the others find it done."""
    engines = [make_engine(database_url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    outcomes: list[BaseException | str] = []

    def first_use(engine: Engine) -> None:
        try:
            start.wait()
            outcomes.append(ensure_schema(engine, create=True).before.state.value)
        except BaseException as error:  # collected and asserted on the main thread
            outcomes.append(error)

    threads = [threading.Thread(target=first_use, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert status_of(engines[0]).state is SchemaState.CURRENT
    with engines[0].connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    for engine in engines:
        engine.dispose()


def test_ready_engine_checks_once_per_process(configured: str) -> None:
    create_schema(make_engine(configured))
    engine = ready_engine(configured)
    _stamp(engine, FUTURE)
    assert ready_engine(configured) is engine  # not checked again in this process
    reset_engines()
    with pytest.raises(SchemaAhead):
        ready_engine(configured)


# ----------------------------------------------------------------- the db commands
def test_db_current_and_history(configured: str) -> None:
    result = onechain("db", "current", "--json")
    assert result.exit_code == 0, result.output
    empty = json.loads(result.stdout)
    assert (empty["state"], empty["revision"], empty["head"]) == ("empty", None, head_revision())
    assert "@" not in empty["where"]  # never a password

    assert onechain("db", "upgrade").exit_code == 0
    text_out = onechain("db", "current").stdout
    assert head_revision() in text_out and "up to date" in text_out

    history = json.loads(onechain("db", "history", "--json").stdout)
    assert [h["revision"] for h in history] == [s.revision for s in revisions()]
    assert history[0]["down_revision"] is None
    assert all(h["down_revision"] == p["revision"] for p, h in itertools.pairwise(history))
    assert [h["head"] for h in history].count(True) == 1 and history[-1]["head"]
    assert BASELINE in onechain("db", "history").stdout


@pytest.mark.parametrize(
    "url",
    ["sqlite:////nowhere/readmodel.sqlite3", "postgresql+psycopg://u:secret@db.example:5432/rm"],
)
def test_db_upgrade_sql_prints_the_dialects_ddl_without_connecting(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONECHAIN_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = onechain("db", "upgrade", "--sql")
        bad_start = onechain("db", "upgrade", "--sql", "--from", "nope")
    finally:
        # The environment first: settings read after this must be the session's again
        # (a cleared cache re-read under the test's URL sent later tests to db.example).
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE cases" in result.stdout and "alembic_version" in result.stdout
    assert ("TIMESTAMP WITH TIME ZONE" in result.stdout) == url.startswith("postgresql")
    assert bad_start.exit_code == 2


def test_db_revision_writes_the_next_numbered_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The developers' wrapper: a table added in code becomes the next revision, typed in
    plain SQLAlchemy, and that revision brings a database level with the code again."""
    today = head_revision()
    folder = tmp_path / "migrations"
    shutil.copytree(
        readmodel.schema.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.setattr(readmodel.schema, "MIGRATIONS_DIR", folder)
    number = 1 + max(int(s.revision[:4]) for s in revisions())
    gadgets = Table(
        "test_gadgets",
        code_metadata(),
        Column("id", Integer, primary_key=True),
        Column("label", AutoString(40), nullable=False),
        Column("seen_at", UTCDateTime(), nullable=True),
    )
    try:
        result = onechain("db", "revision", "Add test gadgets!", "--autogenerate")
        assert result.exit_code == 0, result.output
        revision_id = f"{number:04d}_add_test_gadgets"
        written = folder / "versions" / f"{revision_id}.py"
        assert str(written) in result.stdout
        source = written.read_text(encoding="utf-8")
        assert f"revision: str = '{revision_id}'" in source
        assert f"down_revision: str | None = '{today}'" in source
        assert "op.create_table('test_gadgets'" in source
        assert "sa.String(length=40)" in source and "sa.DateTime(timezone=True)" in source
        assert "readmodel" not in source  # no app imports in a revision

        engine = make_engine(f"sqlite:///{tmp_path / 'rm.sqlite3'}")
        create_schema(engine)
        assert status_of(engine).revision == revision_id
        assert code_differences(engine) == []
        migrate(engine, today, down=True)
        assert "test_gadgets" not in inspect(engine).get_table_names()
        engine.dispose()

        plain = onechain("db", "revision", "backfill something")
        assert plain.exit_code == 0, plain.output
        assert (folder / "versions" / f"{number + 1:04d}_backfill_something.py").exists()
        assert head_revision() == f"{number + 1:04d}_backfill_something"
    finally:
        code_metadata().remove(gadgets)
