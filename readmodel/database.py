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

The schema is made and checked by ``readmodel.schema`` (alembic), once per process
and URL, in ``ready_engine``. Bad URLs, a missing driver and an unreachable server
raise ``readmodel.errors`` exceptions whose message names the database and the fix.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

import readmodel.accounts
import readmodel.audit
import readmodel.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from readmodel.errors import DatabaseUnreachable, ReadModelError

if TYPE_CHECKING:
    from readmodel.schema import SchemaChange

BUSY_TIMEOUT_SECONDS = 30
#: How long to wait for a PostgreSQL server before calling it unreachable (unless the
#: URL sets ``connect_timeout`` itself).
CONNECT_TIMEOUT_SECONDS = 10
POSTGRES_EXTRA = "install the postgres extra: pip install 'onechain[postgres]'"
SUPPORTED_BACKENDS = frozenset({"sqlite", "postgresql"})
URL_FORMS = (
    "use sqlite:////path/to/readmodel.sqlite3 or "
    "postgresql+psycopg://user:password@host:5432/database"
)
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


def normalise_url(url: str | URL) -> URL:
    """Parse ``url``; a bare ``postgresql://`` means psycopg 3, the driver of the
    ``postgres`` extra (SQLAlchemy's own default would be psycopg2)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not echoed: an almost-URL may well contain a password.
        raise ReadModelError(f"ONECHAIN_DATABASE_URL is not a database URL: {URL_FORMS}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ReadModelError(
            f"the read model supports SQLite and PostgreSQL, not {parsed.drivername}://: {URL_FORMS}"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "postgresql" and driver != "psycopg":
        raise ReadModelError(
            f"the read model talks to PostgreSQL through psycopg 3, not {driver}: write the URL "
            f"as postgresql+psycopg://... ({POSTGRES_EXTRA})"
        )
    return parsed


def describe(url: str | URL) -> str:
    """Where the database is, for messages: host and port or file, never the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        memory = _is_sqlite_memory(parsed.database, dict(parsed.query))
        return "in-memory SQLite" if memory else f"SQLite file {parsed.database}"
    name = "PostgreSQL" if parsed.get_backend_name() == "postgresql" else parsed.get_backend_name()
    host = parsed.host or parsed.query.get("host") or "localhost"
    return f"{name} at {host}:{parsed.port or 5432}, database {parsed.database or '(default)'}"


def make_engine(url: str) -> Engine:
    """A new engine for ``url``; SQLite gets the pragmas and BEGIN handling above.

    For a SQLite file the parent folder is created, so a fresh ``data/`` works. An
    in-memory SQLite database uses one shared connection (``StaticPool``), since
    every new connection would otherwise see a different, empty database. Raises
    ``ReadModelError`` for a URL that cannot work (bad scheme, missing driver, a
    folder that cannot be created); connecting happens later (``connect``).
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        return _create_engine(
            parsed,
            pool_pre_ping=True,
            json_serializer=_json_dumps,
            connect_args=connect_args,
        )

    kwargs: dict[str, Any] = {}
    if _is_sqlite_memory(parsed.database, dict(parsed.query)):
        kwargs["poolclass"] = StaticPool
    elif parsed.database:
        _make_folder(Path(parsed.database).expanduser())
    engine = _create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
        json_serializer=_json_dumps,
        **kwargs,
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _create_engine(url: URL, **kwargs: Any) -> Engine:
    try:
        return create_engine(url, **kwargs)
    except NoSuchModuleError:
        raise ReadModelError(
            f"unknown database URL scheme {url.drivername}://: {URL_FORMS}"
        ) from None
    except ImportError as error:
        fix = POSTGRES_EXTRA if url.get_backend_name() == "postgresql" else "install it"
        raise ReadModelError(
            f"the database driver for {url.drivername}:// is not installed "
            f"(no module {error.name!r}): {fix}"
        ) from None


def _make_folder(database: Path) -> None:
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _folder_error(database, f"{error.strerror or error} ({error.filename})") from None


def check_sqlite_folder(database: Path) -> None:
    """Raise the error ``make_engine`` would for ``database``'s folder, creating nothing
    (for commands that only look, such as ``onechain db current``)."""
    for ancestor in database.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise _folder_error(database, f"Not a directory ({ancestor})")
            return


def _folder_error(database: Path, reason: str) -> ReadModelError:
    return ReadModelError(f"cannot create the folder of the SQLite read model {database}: {reason}")


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """``engine.connect()``, with a failure to connect raised as ``DatabaseUnreachable``
    naming the server (or file) instead of the driver's traceback."""
    try:
        connection = engine.connect()
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseUnreachable(
            f"cannot reach the read model ({describe(engine.url)}): {reason}"
        ) from None
    with connection:
        yield connection


def create_schema(engine: Engine) -> None:
    """Bring ``engine``'s database to the newest schema revision: create an empty
    one, stamp one made before migrations, upgrade one behind (tests, benches and
    ``onechain db upgrade``; long-running processes use ``ready_engine``).

    Raises ``readmodel.errors.SchemaAhead`` for a database a newer onechain upgraded.
    """
    from readmodel.schema import ensure_schema

    ensure_schema(engine, upgrade_behind=True)


def engine_for(url: str) -> Engine:
    """The process-wide engine for ``url`` (one connection pool per database)."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def ready_engine(url: str) -> Engine:
    """``engine_for(url)`` with its schema checked, once per process and URL.

    An empty database gets the schema; one behind or ahead of this code raises a
    ``readmodel.errors.SchemaMismatch`` naming the command to run (see
    ``readmodel.schema``). The lock is held during the check so that concurrent
    first calls (activity threads) wait for it instead of racing.
    """
    return prepare_engine(url)[0]


def prepare_engine(url: str, *, upgrade_behind: bool = False) -> tuple[Engine, SchemaChange | None]:
    """``ready_engine`` that may also upgrade a database behind the code, and says
    what it did (None when this process had checked ``url`` already)."""
    engine = engine_for(url)
    if url in _schema_ready:
        return engine, None
    with _lock:
        if url in _schema_ready:
            return engine, None
        from readmodel.schema import ensure_schema

        change = ensure_schema(engine, upgrade_behind=upgrade_behind)
        _schema_ready.add(url)
    return engine, change


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
