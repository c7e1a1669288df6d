"""Insider: the read model is deleted on a running system (issue 20, attack 4).

Before: the next command made an empty database, `cases list` showed 0 cases with
exit 0, `doctor` said the database was fine and suggested `users bootstrap`, and
whoever ran it first became administrator. Now: every command exits 3 naming the
database and what to run, nothing is created, `doctor` fails naming the cases
Temporal holds that the read model lacks, and `users bootstrap` refuses unless told
it is a restore (which the audit trail records).

Real parts: the session's dev server, the production worker, real SQLite files, the
CLI in-process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from cli.actor import forget_credentials
from cli.app import app
from client.facade import CaseDesk
from doctor.findings import Level
from doctor.run import Deployment, examine
from readmodel.database import make_engine, reset_engines
from runtime.keys import keys_dir
from runtime.settings import get_settings
from tests.test_readmodel_replaced import applicant, request, signer, wait_for_case

pytestmark = pytest.mark.insider

runner = CliRunner()


@pytest.fixture
def office(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev_env: WorkflowEnvironment
) -> Iterator[Path]:
    """A running office: its own read model (made by `db upgrade`) on the session's
    dev server and keys; yields the read model's file."""
    database = tmp_path / "rm" / "readmodel.sqlite3"
    monkeypatch.setenv("ONECHAIN_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", dev_env.client.namespace)
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    reset_engines()
    get_settings.cache_clear()
    assert onechain("db", "upgrade").exit_code == 0
    yield database
    reset_engines()
    get_settings.cache_clear()


def onechain(*args: str) -> Result:
    forget_credentials()
    reset_engines()  # each command as a process of its own
    return runner.invoke(app, list(args))


async def onechain_async(*args: str) -> Result:
    """``onechain`` from a test's event loop (commands run their own)."""
    return await asyncio.to_thread(onechain, *args)


def delete(database: Path) -> None:
    reset_engines()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


async def test_a_deleted_read_model_is_noticed_and_never_silently_replaced(
    dev_env: WorkflowEnvironment, office: Path
) -> None:
    from worker import build_worker

    database = office
    task_queue = f"test-{uuid.uuid4().hex[:8]}"
    case_no = f"L{uuid.uuid4().hex[:8].upper()}"
    async with build_worker(dev_env.client, task_queue):
        desk = CaseDesk(dev_env.client, task_queue=task_queue, credentials=signer())
        await desk.start_case(request(case_no, applicant()))
        await wait_for_case(database, case_no)
    deployment = Deployment(
        connect_options={
            "target_host": dev_env.client.service_client.config.target_host,
            "namespace": dev_env.client.namespace,
        },
        task_queue=task_queue,
        database_url=f"sqlite:///{database}",
        keys_dir=keys_dir(get_settings()),
        today=date(2026, 6, 1),
        projection_grace=timedelta(0),
    )
    healthy = {f.check: f for f in await examine(deployment)}
    assert healthy["cases"].level is Level.OK, healthy["cases"]

    delete(database)  # the attack

    for command in (["cases", "list"], ["users", "bootstrap"], ["report"], ["worker"]):
        result = await onechain_async(*command)
        assert result.exit_code == 3, (command, result.output)
        assert str(database) in result.stderr and "onechain db upgrade" in result.stderr
        assert "backup restore" in result.stderr, command
        assert not database.exists(), command  # nothing was created

    lost = {f.check: f for f in await examine(deployment)}
    assert lost["database"].level is Level.FAIL and str(database) in lost["database"].message
    assert lost["cases"].level is Level.FAIL
    assert case_no in lost["cases"].message and "backup restore" in lost["cases"].message
    assert not database.exists()

    # The insider makes an empty one on purpose: it looks healthy on its own...
    assert (await onechain_async("db", "upgrade")).exit_code == 0
    remade = {f.check: f for f in await examine(deployment)}
    assert remade["database"].level is Level.OK
    # ... but doctor fails, and advises a restore, never a bootstrap.
    assert remade["cases"].level is Level.FAIL and case_no in remade["cases"].message
    assert remade["users"].level is Level.FAIL
    assert "backup restore" in remade["users"].message
    assert "not `onechain users bootstrap`" in remade["users"].message

    refused = await onechain_async("users", "bootstrap", "--user", "insider")
    assert refused.exit_code == 2, refused.output
    assert "Temporal holds" in refused.stderr and "--restore" in refused.stderr
    assert "insider" not in _user_ids(database)

    restored = await onechain_async("users", "bootstrap", "--user", "restorer", "--restore")
    assert restored.exit_code == 0, restored.output
    assert _user_ids(database) == {"restorer"}
    [data] = _audit_data(database, "user_bootstrap")
    assert '"restore": true' in data and '"temporal_cases"' in data


def test_up_makes_the_read_model_only_on_a_new_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up` on a data folder that holds Temporal's file but no read model lost it: exit 3
    before anything starts (its very first run, with neither, makes one)."""
    from cli.run import _new_data_folder

    data = tmp_path / "data"
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(data))
    monkeypatch.delenv("ONECHAIN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    reset_engines()
    try:
        assert _new_data_folder()
        data.mkdir()
        (data / "temporal.sqlite3").write_bytes(b"")  # Temporal ran here before
        assert not _new_data_folder()
        result = onechain("up", "--no-tui", "--headless")
        assert result.exit_code == 3, result.output
        assert str(data / "readmodel.sqlite3") in result.stderr
        assert not (data / "readmodel.sqlite3").exists()
    finally:
        reset_engines()
        get_settings.cache_clear()


def _user_ids(database: Path) -> set[str]:
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            return {r[0] for r in connection.execute(text("SELECT user_id FROM users"))}
    finally:
        engine.dispose()


def _audit_data(database: Path, kind: str) -> list[str]:
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT data FROM audit_log WHERE kind = :kind"), {"kind": kind}
            )
            return [str(r[0]) for r in rows]
    finally:
        engine.dispose()


def test_an_empty_database_is_refused_by_every_command_and_left_empty(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No tables and no schema revision (a SQLite file emptied, a PostgreSQL database
    dropped and made again): exit 3, the URL named with its password masked."""
    from sqlalchemy.engine import make_url

    from readmodel.schema import SchemaState, status_of

    monkeypatch.setenv("ONECHAIN_DATABASE_URL", database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing must reach Temporal
    get_settings.cache_clear()
    try:
        for command in (
            ["cases", "list"],
            ["users", "bootstrap"],
            ["report"],
            ["worker"],
            ["backup", "create", "x"],
        ):
            result = onechain(*command)
            assert result.exit_code == 3, (command, result.output)
            assert "has no tables and no schema revision" in result.stderr, command
            assert make_url(database_url).render_as_string(hide_password=True) in result.stderr
            password = make_url(database_url).password
            assert not password or str(password) not in result.stderr
        engine = make_engine(database_url)
        try:
            assert status_of(engine).state is SchemaState.EMPTY  # nothing was created
        finally:
            engine.dispose()
    finally:
        reset_engines()
        get_settings.cache_clear()
