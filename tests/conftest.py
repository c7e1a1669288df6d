"""Shared fixtures: real Temporal servers from the wheels, a fresh task queue per test,
and a real PostgreSQL (the ``pgserver`` wheel) beside SQLite for read-model tests.

The read model, calendar files and keystore go to a temporary data folder for the
whole session (set before anything reads the settings).
"""

from __future__ import annotations

import os
import tempfile

_DATA_DIR = tempfile.mkdtemp(prefix="onechain-test-")
os.environ["ONECHAIN_DATA_DIR"] = _DATA_DIR
os.environ.pop("ONECHAIN_DATABASE_URL", None)
# Workers under test evaluate the 电子监察 rules only where a test asks for it
# (tests/test_supervise_items.py): findings must not appear under other tests' feet.
os.environ["ONECHAIN_SUPERVISE_SECONDS"] = "0"

import asyncio  # noqa: E402
import shutil  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from tests.harness import CaseDriver, start_dev_env, start_time_skipping_env, worker_for  # noqa: E402


@pytest.fixture(autouse=True)
def root_logging_kept() -> Iterator[None]:
    """A command run in-process (``onechain worker`` under CliRunner) configures the root
    logger as a service would; put it back so the next test logs as before."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(_DATA_DIR)


@pytest.fixture(scope="session", autouse=True)
def session_keystore() -> Path:
    """The session's keys (payload, lookup, signing) in the test data folder, made once,
    as ``onechain up`` makes them for the embedded default."""
    from runtime.keys import init_keys

    directory = Path(_DATA_DIR) / "keys"
    init_keys(directory)
    return directory


@pytest.fixture(scope="session", autouse=True)
def session_read_model(session_keystore: Path) -> str:
    """The session's read model, made once as `onechain db upgrade` makes it (no
    command or worker creates one on its own); yields its URL."""
    from readmodel.database import create_read_model
    from runtime.settings import get_settings

    url = get_settings().resolved_database_url
    create_read_model(url)
    return url


@pytest.fixture(scope="session", autouse=True)
def signin_service(session_keystore: Path) -> Iterator[str]:
    """A real sign-in service over HTTP for the session, as ``onechain up`` runs one.
    Each request is answered with the database and keys the current settings name, so
    tests with a data folder of their own sign in against it."""
    from trust.authority import authority_from_settings
    from trust.signin_service import start_in_thread

    service = start_in_thread(authority_from_settings, "127.0.0.1", 0)
    os.environ["ONECHAIN_SIGNIN_URL"] = service.url
    from runtime.settings import get_settings

    get_settings.cache_clear()
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (SQLite in memory) for the whole session."""
    env = await start_dev_env()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def empty_namespace(dev_env: WorkflowEnvironment) -> str:
    """A namespace of its own on the session's dev server: a Temporal that holds no
    cases, as a new installation's (``users bootstrap`` asks it)."""
    from temporalio.api.workflowservice.v1 import (
        DescribeNamespaceRequest,
        RegisterNamespaceRequest,
    )
    from temporalio.service import RPCError

    name = f"empty-{uuid.uuid4().hex[:8]}"
    await dev_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=timedelta(days=1)
        )
    )
    for _ in range(100):  # a new namespace reaches the frontend's cache within seconds
        try:
            await dev_env.client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=name)
            )
            return name
        except RPCError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"namespace {name} never became visible")


@pytest.fixture
def new_installation_temporal(
    monkeypatch: pytest.MonkeyPatch, dev_env: WorkflowEnvironment, empty_namespace: str
) -> str:
    """TEMPORAL_* pointing at a Temporal that holds no cases (whatever runs on
    localhost:7233 on this machine), as on a new installation."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", empty_namespace)
    return empty_namespace


@pytest.fixture
async def driver(dev_env: WorkflowEnvironment) -> AsyncIterator[CaseDriver]:
    """A worker on a fresh task queue and a driver to start and decide cases."""
    async with worker_for(dev_env.client) as task_queue:
        yield CaseDriver(dev_env.client, task_queue)


@pytest.fixture
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of its own: tests move its clock years ahead."""
    env = await start_time_skipping_env()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 16 from the ``pgserver`` wheel, started once per session on a
    temporary folder (unix socket, no port) and deleted at the end; yields its URL.

    Durability is traded for speed (``fsync``/``synchronous_commit`` off): tests never
    survive a power cut anyway. Where it cannot start, the PostgreSQL variants of the
    tests are skipped with the reason (shown by ``-ra``), never silently.
    """
    try:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set"
            warnings.simplefilter("ignore")
            import pgserver  # type: ignore[import-untyped]
    except ImportError as error:
        pytest.skip(f"PostgreSQL tests need the pgserver wheel (test extras): {error}")
    folder, server = "", None
    failure: Exception | None = None
    for _attempt in (1, 2):  # a loaded machine may miss pg_ctl's 10 s start timeout once
        folder = tempfile.mkdtemp(prefix="onechain-pg-")
        try:
            with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set"
                warnings.simplefilter("ignore")
                server = pgserver.get_server(folder, cleanup_mode="delete")
            break
        except Exception as error:
            failure = error
            shutil.rmtree(folder, ignore_errors=True)
    if server is None:
        pytest.skip(f"pgserver could not start PostgreSQL on this machine: {failure!r}")
    url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("ALTER SYSTEM SET fsync = off"))
        connection.execute(text("ALTER SYSTEM SET synchronous_commit = off"))
        connection.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()
    try:
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh, EMPTY read-model database: a SQLite file, or a new database on
    the session's PostgreSQL (dropped afterwards, whoever is still connected)."""
    if request.param == "sqlite":
        from readmodel.database import make_sqlite_file

        make_sqlite_file(tmp_path / "readmodel.sqlite3")  # empty, as a new PostgreSQL database
        yield f"sqlite:///{tmp_path / 'readmodel.sqlite3'}"
        return
    server_url = request.getfixturevalue("postgres_server")
    name = f"readmodel_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
