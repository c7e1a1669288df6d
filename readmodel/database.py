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

The schema is checked by ``readmodel.schema`` (alembic), once per process and URL,
in ``ready_engine``. Bad URLs, a missing driver and an unreachable server raise
``readmodel.errors`` exceptions whose message names the database and the fix.

The read model is never created by accident: an engine opens a SQLite file
read-write without creating it (``mode=rw``), and ``ready_engine`` refuses a missing
or empty database with ``ReadModelMissing`` (exit 3), naming the database and what to
run. Only ``create_read_model`` / ``create_schema`` create one (``onechain db
upgrade``, ``onechain up`` on a new data folder, ``backup restore``, tests, benches);
a lost database would otherwise come back empty, nobody known, and whoever ran
``users bootstrap`` first would be administrator. SQLite files are made 0600.

A long-running process (the worker) must never write into a file that is no longer
the read model. So the identity (device, inode) of a SQLite file is remembered when
it is opened: a pooled connection whose file is no longer the one at the path is
dropped before use (``_check_file_on_checkout``), and ``ready_engine`` notices a
moved, deleted or replaced file, says so in the log, disposes of the engine's
connections and re-opens the path (a missing or empty one is refused). A database
that fails or cannot be reached is logged by ``reporting_outages`` (without data:
driver messages name tables and hosts, never rows), and so is its recovery.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

import readmodel.accounts
import readmodel.audit
import readmodel.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from readmodel.errors import DatabaseUnreachable, ReadModelError, ReadModelMissing

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

logger = logging.getLogger("onechain.readmodel")

#: How a SQLite file is told apart from another one at the same path.
FileId = tuple[int, int]
#: The info key of a pooled connection's file identity.
_CONNECTION_FILE = "onechain_file_id"
#: What to do about a missing or empty read model (``ReadModelMissing``).
CREATE_OR_RESTORE = (
    "run `onechain db upgrade` to create it if this is a new installation, or restore "
    "it: `onechain backup restore ARCHIVE`, then `onechain reconcile` (nothing was created)"
)

_engines: dict[str, Engine] = {}
_schema_ready: set[str] = set()
#: SQLite file of each cached file engine, and its identity when the schema was checked.
_sqlite_files: dict[str, Path] = {}
_file_ids: dict[str, FileId | None] = {}
#: URLs whose last use failed (``reporting_outages``), to log their recovery once.
_outages: set[str] = set()
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
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Put the file in WAL mode (persistent: a no-op once any process did it).

    The switch needs an exclusive lock, and SQLite answers "database is locked" at
    once, without the busy handler, when connections opened at the same moment race
    for it (four processes starting on a new file did, one run in three); so retry
    for as long as the busy timeout would have waited."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


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
        _check_sqlite_file(Path(parsed.database).expanduser())
    engine = _create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
        json_serializer=_json_dumps,
        **kwargs,
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    if (path := sqlite_file(parsed)) is not None:
        if "uri" not in parsed.query:
            event.listen(engine, "do_connect", _open_without_creating(path))
        _watch_file(engine, path)
    return engine


def _open_without_creating(path: Path) -> Any:
    """A ``do_connect`` hook opening ``path`` read-write only if it exists (SQLite's
    ``mode=rw``): a connection never makes an empty read model where one was lost."""
    uri = f"{path.absolute().as_uri()}?mode=rw"

    def do_connect(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if cargs:
            cargs[0] = uri
        else:
            cparams["database"] = uri
        cparams["uri"] = True

    return do_connect


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite file URL (None for PostgreSQL and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if _is_sqlite_memory(parsed.database, dict(parsed.query)) or not parsed.database:
        return None
    return Path(parsed.database).expanduser()


def file_id(path: Path) -> FileId | None:
    """(device, inode) of the file at ``path`` now; None when nothing is there."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _watch_file(engine: Engine, path: Path) -> None:
    """Remember each connection's file; drop a pooled one whose file was replaced."""

    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CONNECTION_FILE] = file_id(path)

    def on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        opened = record.info.get(_CONNECTION_FILE)
        if opened is not None and file_id(path) != opened:
            # The pool discards this connection and opens the path again.
            raise DisconnectionError(f"SQLite file {path} was moved, deleted or replaced")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkout", on_checkout)


def _check_sqlite_file(database: Path) -> None:
    """A folder where the SQLite file should be is a mistake worth naming."""
    if database.is_dir():
        raise ReadModelError(
            f"the SQLite read model {database} is a folder, not a file: point "
            "ONECHAIN_DATABASE_URL (or ONECHAIN_DATA_DIR) elsewhere, or move the folder"
        )


def _create_engine(url: URL, **kwargs: Any) -> Engine:
    # hide_parameters: a failed statement's message (which reaches logs and activity
    # failures in Temporal's history) must not carry the row's values, e.g. names.
    try:
        return create_engine(url, hide_parameters=True, **kwargs)
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
    try:  # owner-only when made here: the folder of the read model is a data folder
        database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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


def missing(url: str | URL, why: str) -> ReadModelMissing:
    """The refusal for a read model that is not there: which database (the URL, its
    password masked) and what to run."""
    shown = make_url(url).render_as_string(hide_password=True)
    return ReadModelMissing(f"no read model: {describe(url)} ({shown}) {why}; {CREATE_OR_RESTORE}")


def create_schema(engine: Engine) -> SchemaChange:
    """Create ``engine``'s database if it is missing or empty, stamp one made before
    migrations, upgrade one behind: the one deliberate way to make a read model
    (``create_read_model``, tests, benches). A SQLite file is made 0600.

    Raises ``readmodel.errors.SchemaAhead`` for a database a newer onechain upgraded.
    """
    from readmodel.schema import ensure_schema

    if (path := sqlite_file(engine.url)) is not None:
        make_sqlite_file(path)
    return ensure_schema(engine, upgrade_behind=True, create=True)


def create_read_model(url: str) -> SchemaChange:
    """``create_schema`` on the process-wide engine for ``url``, remembered as checked
    (``onechain db upgrade``, ``onechain up`` on a new data folder, ``backup restore``)."""
    engine = engine_for(url)
    with _lock:
        change = create_schema(engine)
        _schema_ready.add(url)
        if url in _sqlite_files:
            _file_ids[url] = file_id(_sqlite_files[url])
    return change


def make_sqlite_file(path: Path) -> None:
    """Create the SQLite file ``path`` empty and owner-only (its folder too), if it is
    not there; SQLite gives its ``-wal`` and ``-shm`` files the same mode."""
    _check_sqlite_file(path)
    _make_folder(path)
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise _folder_error(path, f"{error.strerror or error} ({error.filename})") from None
    os.close(descriptor)
    narrow_sqlite_files(path)


def narrow_sqlite_files(path: Path) -> None:
    """Make the read model's file and its ``-wal``/``-shm`` owner-only (they hold names,
    password hashes and the audit trail); files of other owners are left alone."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            info = candidate.stat()
            if info.st_mode & 0o077 and info.st_uid == os.getuid():
                candidate.chmod(info.st_mode & 0o600)
        except OSError:
            continue


def engine_for(url: str) -> Engine:
    """The process-wide engine for ``url`` (one connection pool per database)."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
            if (path := sqlite_file(url)) is not None:
                _sqlite_files[url] = path
        return engine


def ready_engine(url: str) -> Engine:
    """``engine_for(url)`` with its schema checked, once per process and URL.

    A missing or empty database raises ``readmodel.errors.ReadModelMissing`` (nothing
    is created); one behind or ahead of this code raises a
    ``readmodel.errors.SchemaMismatch`` naming the command to run (see
    ``readmodel.schema``). The lock is held during the check so that concurrent
    first calls (activity threads) wait for it instead of racing.
    """
    return prepare_engine(url)[0]


def prepare_engine(url: str, *, upgrade_behind: bool = False) -> tuple[Engine, SchemaChange | None]:
    """``ready_engine`` that may also upgrade a database behind the code, and says
    what it did (None when this process had checked ``url`` already)."""
    engine = engine_for(url)
    if url in _schema_ready and not _file_replaced(url):
        return engine, None
    with _lock:
        replaced = url in _schema_ready and _file_replaced(url)
        if url in _schema_ready and not replaced:
            return engine, None
        from readmodel.schema import ensure_schema

        if replaced:
            _schema_ready.discard(url)
            _reopen(url, engine)
        if (path := _sqlite_files.get(url)) is not None:
            if not path.exists():
                raise missing(url, "does not exist")
            narrow_sqlite_files(path)
        change = ensure_schema(engine, upgrade_behind=upgrade_behind)
        _schema_ready.add(url)
        if url in _sqlite_files:
            _file_ids[url] = file_id(_sqlite_files[url])
    return engine, change


def _reason(error: Exception) -> str:
    """The driver's first line (names a table, file or host; never a row's values)."""
    if isinstance(error, OperationalError):
        text = str(error.orig) if error.orig is not None else type(error).__name__
        return (text.strip().splitlines() or [type(error).__name__])[0]
    return str(error)


def _file_replaced(url: str) -> bool:
    """Whether the SQLite file at ``url``'s path is not the one this process opened."""
    path = _sqlite_files.get(url)
    return path is not None and file_id(path) != _file_ids.get(url)


def _reopen(url: str, engine: Engine) -> None:
    """Log that the file changed under this process and drop every pooled connection
    to the old one; the next connection opens whatever is at the path now."""
    path = _sqlite_files[url]
    what = "replaced by another file" if path.exists() else "moved away or deleted"
    logger.warning(
        "the read model's SQLite file %s was %s while this process used it: "
        "re-opening %s (writing on into the old file would lose the writes)",
        path,
        what,
        path,
    )
    engine.dispose()


@contextmanager
def reporting_outages(url: str) -> Iterator[None]:
    """Log a read model that fails to answer (PostgreSQL down, a SQLite file that
    cannot be written) and drop the engine's connections so the next attempt
    connects afresh; re-raises as ``DatabaseUnreachable``. Logs the recovery too.

    For long-running writers (the projection activity), whose caller retries.
    """
    try:
        yield
    except (OperationalError, DatabaseUnreachable) as error:
        reason = _reason(error)
        with _lock:
            engine = _engines.get(url)
            first = url not in _outages
            _outages.add(url)
        if first:
            logger.warning(
                "the read model (%s) is unreachable or failing: %s; dropping its connections "
                "and retrying (writes wait in Temporal meanwhile)",
                describe(url),
                reason,
            )
        if engine is not None:
            engine.dispose()
        if isinstance(error, DatabaseUnreachable):
            raise
        raise DatabaseUnreachable(
            f"cannot reach the read model ({describe(url)}): {reason}"
        ) from None
    with _lock:
        recovered = url in _outages
        _outages.discard(url)
    if recovered:
        logger.warning("the read model (%s) answers again", describe(url))


def reset_engines() -> None:
    """Dispose of all cached engines and forget the schema checks (tests, reconfiguration)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
        _schema_ready.clear()
        _sqlite_files.clear()
        _file_ids.clear()
        _outages.clear()
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
