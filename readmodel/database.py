"""Engines and sessions for the read model, tuned for SQLite and fine for PostgreSQL.

SQLite is the embedded default and is written by many activity threads at once,
so the engine is set up for that:

* WAL journal + ``synchronous=NORMAL``: readers (the TUI) never block the writer,
  and commits do not fsync on every transaction.
* ``busy_timeout`` 30 s: a writer waits for the lock instead of failing at once.
* pysqlite's own transaction handling is switched off and we emit ``BEGIN``
  ourselves (SQLAlchemy's documented recipe). That lets write transactions start
  with ``BEGIN IMMEDIATE`` (see ``write_session``): they take the write lock up
  front, where the busy timeout applies, instead of upgrading a read lock midway,
  which fails with "database is locked" regardless of the timeout.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

import readmodel.accounts
import readmodel.audit
import readmodel.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

BUSY_TIMEOUT_SECONDS = 30
#: Execution option read by the SQLite ``begin`` listener: "DEFERRED" or "IMMEDIATE".
SQLITE_BEGIN_OPTION = "onechain_sqlite_begin"
_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})

_engines: dict[str, Engine] = {}
_schema_ready: set[str] = set()
_lock = threading.Lock()
_write_locks: dict[int, threading.Lock] = {}


def _json_dumps(value: Any) -> str:
    """Keep Chinese text readable in JSON columns (the default escapes it as \\uXXXX)."""
    return json.dumps(value, ensure_ascii=False)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let us emit BEGIN ourselves (see _sqlite_on_begin); pysqlite's implicit BEGIN is
    # always DEFERRED and it commits silently before DDL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL needs a lock another connection may hold.
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = str(conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")).upper()
    if mode not in _BEGIN_MODES:
        raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _is_sqlite_memory(database: str | None, query: dict[str, Any]) -> bool:
    return not database or database == ":memory:" or query.get("mode") == "memory"


def make_engine(url: str) -> Engine:
    """A new engine for ``url``; SQLite gets the pragmas and BEGIN handling above.

    For a SQLite file the parent folder is created, so a fresh ``data/`` works. An
    in-memory SQLite database uses one shared connection (``StaticPool``), since
    every new connection would otherwise see a different, empty database.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps)

    kwargs: dict[str, Any] = {}
    if _is_sqlite_memory(parsed.database, dict(parsed.query)):
        kwargs["poolclass"] = StaticPool
    elif parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
        json_serializer=_json_dumps,
        **kwargs,
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def create_schema(engine: Engine) -> None:
    """Create the read-model tables that do not exist yet.

    On SQLite this runs in one ``BEGIN IMMEDIATE`` transaction, so two processes
    starting at once cannot both decide a table is missing. PostgreSQL has no such
    lock, so a lost race ("already exists") is retried once, which then finds the
    tables. Schema *changes* belong in migrations (alembic), not here.
    """
    for attempt in (1, 2):
        try:
            with engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as conn:
                SQLModel.metadata.create_all(conn)
            return
        except DBAPIError:
            if attempt == 2:
                raise


def engine_for(url: str) -> Engine:
    """The process-wide engine for ``url`` (one connection pool per database)."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def ready_engine(url: str) -> Engine:
    """``engine_for(url)`` with the schema created, once per process and URL.

    The lock is held while the schema is created so that concurrent first calls
    (activity threads) wait for it instead of racing to create tables.
    """
    engine = engine_for(url)
    if url in _schema_ready:
        return engine
    with _lock:
        if url not in _schema_ready:
            create_schema(engine)
            _schema_ready.add(url)
    return engine


def reset_engines() -> None:
    """Dispose of all cached engines and forget the schema checks (tests, reconfiguration)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
        _schema_ready.clear()
    for engine in engines:
        engine.dispose()


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session for one write transaction, committed on success, rolled back on error.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (see the module notes);
    elsewhere the option is ignored.
    """
    bind = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    if engine.dialect.name != "sqlite":
        with Session(bind) as session, session.begin():
            yield session
        return
    # SQLite has one writer at a time anyway: queueing this process's writers on a
    # lock instead of on SQLite's busy-wait halves the tail latency under load
    # (bench/README.md) and never changes what is written.
    with _write_lock(engine), Session(bind) as session, session.begin():
        yield session


def _write_lock(engine: Engine) -> threading.Lock:
    with _lock:
        return _write_locks.setdefault(id(engine), threading.Lock())


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading; closed (and its snapshot released) on exit."""
    with Session(engine) as session:
        yield session
