"""The read model's schema: made, checked and upgraded with alembic, never ``create_all``.

Every process checks its database once (``readmodel.database.ready_engine``):

* **empty** (no tables, no revision) or missing: refused (``ReadModelMissing``) unless
  the caller creates on purpose (``create=True``: ``onechain db upgrade``, ``onechain
  up`` on a new data folder, ``backup restore``, tests). An empty database where one
  was expected is a lost one, and a new empty one would know nobody.
* **made before migrations** (today's tables, no ``alembic_version``): recognised by
  its tables and columns and stamped ``0001_baseline``; from there it is like any
  database at that revision.
* **behind** (a known older revision): refused with the command to run
  (``onechain db upgrade``) unless the caller may upgrade: ``onechain db upgrade``
  itself, and ``onechain up`` on the embedded default SQLite file.
* **ahead** (a revision this code does not know): refused everywhere; a newer
  onechain wrote it and this one must not guess what changed.
* read-model tables that match nothing: refused, with how to rebuild.

The common case (already at head) costs one read and takes no lock. Anything that
writes the schema runs in one transaction holding the schema lock (SQLite ``BEGIN
IMMEDIATE``, PostgreSQL an advisory lock) and checks again inside it, so two
processes starting at once never both create tables, and a failed upgrade leaves
nothing half done (both dialects have transactional DDL).
"""

from __future__ import annotations

import importlib
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import IO, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text
from sqlmodel import SQLModel

from readmodel.database import SQLITE_BEGIN_OPTION, connect, describe, missing, normalise_url
from readmodel.errors import SchemaAhead, SchemaBehind, UnknownSchema

#: Where the alembic environment lives (inside the package, so it ships with it).
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Every module that defines read-model tables. Autogenerate and the test that the
#: migrations' head equals the code compare against exactly these; add yours here.
TABLE_MODULES = (
    "readmodel.tables",
    "readmodel.accounts",
    "readmodel.audit",
    "readmodel.calendar_store",
    "readmodel.departments",
    "readmodel.supervision",
    "readmodel.rota",
)
#: The schema as it was before migrations; databases made then are stamped with it.
BASELINE = "0001_baseline"
UPGRADE_COMMAND = "onechain db upgrade"
#: alembic keeps the running migration in module globals (``alembic.context``), so
#: two threads of one process must not run its commands at once (they did, in a
#: test of four engines racing: "module 'alembic.context' has no attribute 'config'").
ALEMBIC_LOCK = threading.RLock()
#: PostgreSQL advisory lock held while the schema is written ("onechain" as a number).
ADVISORY_LOCK_KEY = int.from_bytes(b"onechain", "big") & 0x7FFF_FFFF_FFFF_FFFF


class SchemaState(Enum):
    EMPTY = "empty"
    PRE_MIGRATIONS = "pre_migrations"
    CURRENT = "current"
    BEHIND = "behind"
    AHEAD = "ahead"
    UNRECOGNISED = "unrecognised"


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands against this code's migrations."""

    state: SchemaState
    revision: str | None  # as recorded in the database (None: no record)
    head: str
    detail: str = ""  # UNRECOGNISED: what differs

    @property
    def up_to_date(self) -> bool:
        return self.state is SchemaState.CURRENT


@dataclass(frozen=True)
class SchemaChange:
    """What ``ensure_schema`` did: nothing, created, stamped and/or upgraded."""

    before: SchemaStatus
    revision: str  # the database's revision afterwards

    @property
    def changed(self) -> bool:
        return self.before.revision != self.revision

    def describe(self) -> str:
        before = self.before
        if not self.changed:
            return f"already at head ({self.revision})"
        if before.state is SchemaState.EMPTY:
            return f"created the schema at {self.revision}"
        start = before.revision or BASELINE
        prefix = (
            f"recognised a read model made before migrations as {BASELINE}"
            if before.state is SchemaState.PRE_MIGRATIONS
            else ""
        )
        if start == self.revision:
            return prefix
        upgraded = f"upgraded {start} → {self.revision}"
        return f"{prefix}; {upgraded}" if prefix else upgraded


# ------------------------------------------------------------------ alembic plumbing
def code_metadata() -> MetaData:
    """The tables the code expects: ``SQLModel.metadata`` with every table module loaded."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return SQLModel.metadata


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An alembic ``Config`` for the packaged migrations, no ``alembic.ini`` needed.

    With ``connection`` the migrations run on it (inside the caller's transaction);
    with ``url`` alone they render SQL for that dialect (offline mode).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", str(normalise_url(url)).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    return _script_directory(MIGRATIONS_DIR)


@cache
def _script_directory(location: Path) -> ScriptDirectory:
    # Cached per folder: loading the revision files is the slow part of a check.
    config = Config()
    config.set_main_option("script_location", str(location))
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    heads = script_directory().get_heads()
    if len(heads) != 1:
        raise RuntimeError(
            f"the read-model migrations have {len(heads)} heads ({', '.join(heads)}); "
            "give the newer revision's down_revision the other one"
        )
    return heads[0]


def revisions() -> list[Script]:
    """Every revision, oldest first."""
    return list(reversed(list(script_directory().walk_revisions())))


# ---------------------------------------------------------------------- the check
def schema_status(connection: Connection) -> SchemaStatus:
    """Read where ``connection``'s database stands (writes nothing)."""
    head = head_revision()
    current = MigrationContext.configure(connection).get_current_heads()
    if len(current) > 1:
        return SchemaStatus(SchemaState.UNRECOGNISED, ",".join(current), head, "several revisions")
    if current:
        revision = current[0]
        try:
            known = script_directory().get_revision(revision)
        except (ResolutionError, CommandError):  # alembic wraps the former in the latter
            known = None
        if known is None:
            return SchemaStatus(SchemaState.AHEAD, revision, head)
        state = SchemaState.CURRENT if revision == head else SchemaState.BEHIND
        return SchemaStatus(state, revision, head)
    expected = baseline_shape()
    found = _shape(connection, set(expected))
    if not found:
        return SchemaStatus(SchemaState.EMPTY, None, head)
    if found == expected:
        return SchemaStatus(SchemaState.PRE_MIGRATIONS, None, head)
    return SchemaStatus(SchemaState.UNRECOGNISED, None, head, _difference(expected, found))


def _shape(connection: Connection, tables: set[str]) -> dict[str, frozenset[str]]:
    """The columns of those of ``tables`` the database has."""
    inspector = inspect(connection)
    present = tables & set(inspector.get_table_names())
    return {t: frozenset(c["name"] for c in inspector.get_columns(t)) for t in present}


@cache
def baseline_shape() -> dict[str, frozenset[str]]:
    """Tables and columns of ``0001_baseline``, read from the revision itself (run on
    an in-memory SQLite), so recognising an old database needs no second copy."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            with ALEMBIC_LOCK:
                command.upgrade(alembic_config(connection), BASELINE)
            shape = _shape(connection, set(inspect(connection).get_table_names()))
    finally:
        engine.dispose()
    shape.pop("alembic_version", None)
    return shape


def _difference(expected: dict[str, frozenset[str]], found: dict[str, frozenset[str]]) -> str:
    parts = [f"no table {t}" for t in sorted(set(expected) - set(found))]
    for table in sorted(found):
        missing, extra = expected[table] - found[table], found[table] - expected[table]
        if missing:
            parts.append(f"{table} lacks {', '.join(sorted(missing))}")
        if extra:
            parts.append(f"{table} has unknown {', '.join(sorted(extra))}")
    return "; ".join(parts)


def refusal(status: SchemaStatus, engine: Engine) -> Exception | None:
    """The error a process that may not upgrade raises for ``status`` (None: usable)."""
    where = describe(engine.url)
    if status.state is SchemaState.BEHIND:
        return SchemaBehind(
            f"the read model ({where}) has schema revision {status.revision}, this onechain "
            f"needs {status.head}: run `{UPGRADE_COMMAND}` (back the database up first)"
        )
    if status.state is SchemaState.AHEAD:
        return SchemaAhead(
            f"this database was upgraded by a newer onechain (revision {status.revision}); "
            f"run that version or restore a backup ({where})"
        )
    if status.state is SchemaState.UNRECOGNISED:
        return UnknownSchema(
            f"the read model ({where}) has tables this onechain does not recognise "
            f"({status.detail}) and no migration record: move it aside or drop its tables, "
            "then run `onechain reconcile` to rebuild it from Temporal"
        )
    return None


def ensure_schema(
    engine: Engine, *, upgrade_behind: bool = False, create: bool = False
) -> SchemaChange:
    """Make ``engine``'s database usable by this code, or raise why it is not.

    Creates an empty database's schema only when ``create`` (otherwise raises
    ``ReadModelMissing``), stamps one made before migrations, and
    upgrades one that is behind only when ``upgrade_behind`` (otherwise raises
    ``SchemaBehind`` naming the command). Raises ``SchemaAhead``/``UnknownSchema``
    for a schema this code must not touch, ``DatabaseUnreachable`` if it cannot
    connect. See the module notes for the locking.
    """
    with connect(engine) as connection:
        before = schema_status(connection)
    if before.state is SchemaState.CURRENT:
        return SchemaChange(before, before.head)
    if before.state is SchemaState.EMPTY and not create:
        raise missing(engine.url, "has no tables and no schema revision")
    may_upgrade = before.state is SchemaState.BEHIND and upgrade_behind
    if not may_upgrade and (error := refusal(before, engine)) is not None:
        raise error
    with schema_lock(engine) as connection:
        status = schema_status(connection)  # again, now that nobody else can write it
        if status.state is SchemaState.PRE_MIGRATIONS:
            with ALEMBIC_LOCK:
                command.stamp(alembic_config(connection), BASELINE)
            status = schema_status(connection)
        if status.state is SchemaState.EMPTY and not create:
            raise missing(engine.url, "has no tables and no schema revision")
        if status.state is SchemaState.EMPTY or (
            status.state is SchemaState.BEHIND and upgrade_behind
        ):
            with ALEMBIC_LOCK:
                command.upgrade(alembic_config(connection), "head")
            status = schema_status(connection)
    # Outside the block: a stamp is committed even when the upgrade is then refused.
    if (error := refusal(status, engine)) is not None:
        raise error
    return SchemaChange(before, status.revision or status.head)


@contextmanager
def schema_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the schema lock until it commits."""
    with connect(engine) as connection:
        if connection.dialect.name == "sqlite":
            connection = connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            yield connection


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Run the migrations up (or down) to ``revision`` under the schema lock, with no
    state checks: for tests of the revisions themselves and for repairs (a missing
    SQLite file is made: running migrations is creating on purpose)."""
    from readmodel.database import make_sqlite_file, sqlite_file

    if (path := sqlite_file(engine.url)) is not None:
        make_sqlite_file(path)
    with schema_lock(engine) as connection:
        config = alembic_config(connection)
        if down:
            with ALEMBIC_LOCK:
                command.downgrade(config, revision)
        else:
            with ALEMBIC_LOCK:
                command.upgrade(config, revision)


def status_of(engine: Engine) -> SchemaStatus:
    with connect(engine) as connection:
        return schema_status(connection)


# ------------------------------------------------------------------ for developers
def upgrade_sql(url: str, start: str | None, out: IO[str]) -> None:
    """Write the SQL that upgrades a database at ``start`` (None: empty) to head, for
    ``url``'s dialect, without connecting (for a DBA to review or run)."""
    config = alembic_config(url=url)
    config.output_buffer = out
    with ALEMBIC_LOCK:
        command.upgrade(config, f"{start}:head" if start else "head", sql=True)


def new_revision(message: str, *, autogenerate: bool) -> Path:
    """Write the next revision file (``NNNN_slug.py``) and return its path.

    With ``autogenerate`` the operations are filled in by comparing the tables in
    code with a scratch SQLite database upgraded to the current head; read them
    before committing (alembic cannot see renames, and SQLite hides some types).
    """
    number = 1 + max(
        (int(s.revision[:4]) for s in revisions() if s.revision[:4].isdigit()), default=0
    )
    slug = "_".join(re.findall(r"[a-z0-9]+", message.lower()))[:27].strip("_") or "revision"
    revision_id = f"{number:04d}_{slug}"
    options: dict[str, Any] = {"message": message, "rev_id": revision_id}
    if not autogenerate:
        with ALEMBIC_LOCK:
            command.revision(alembic_config(), **options)
    else:
        with tempfile.TemporaryDirectory() as folder:
            engine = create_engine(f"sqlite:///{Path(folder) / 'head.sqlite3'}")
            try:
                with engine.begin() as connection:
                    with ALEMBIC_LOCK:
                        command.upgrade(alembic_config(connection), "head")
                    with ALEMBIC_LOCK:
                        command.revision(alembic_config(connection), autogenerate=True, **options)
            finally:
                engine.dispose()
    _script_directory.cache_clear()
    return MIGRATIONS_DIR / "versions" / f"{revision_id}.py"
