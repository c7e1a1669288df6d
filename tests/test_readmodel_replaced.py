"""A worker whose read-model file is moved away never writes into the detached file,
nor makes an empty one at the path: it notices, says in its log which database it
expected and what to run (`onechain db upgrade` or a restore), and its writes wait in
Temporal until the operator has made or restored one; then they land there.

Real parts: the session's dev server, the production worker, a real SQLite file."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from client.facade import CaseDesk, CaseRequest
from domain.case import Applicant
from readmodel.database import create_read_model, file_id, ready_engine, reset_engines
from runtime.keys import keys_dir, load_signing_keys
from runtime.settings import get_settings
from tests.harness import CLERK, CaseDriver, fresh_applicant
from trust.signer import ImpersonatingSigner
from workflows import registry
from workflows.form_samples import sample_values


@pytest.fixture
def own_read_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own read-model file (settings and engines re-read, and reset after)."""
    database = tmp_path / "rm" / "readmodel.sqlite3"
    monkeypatch.setenv("ONECHAIN_DATABASE_URL", f"sqlite:///{database}")
    reset_engines()
    get_settings.cache_clear()
    yield database
    reset_engines()
    get_settings.cache_clear()


def signer() -> ImpersonatingSigner:
    """Signs (and registers the actor) in whatever file is at the configured path now."""
    settings = get_settings()
    return ImpersonatingSigner(
        ready_engine(settings.resolved_database_url), load_signing_keys(keys_dir(settings))
    )


def request(case_no: str, applicant: Applicant) -> CaseRequest:
    """A case of the first registered chain, with its sample form (any chain will do)."""
    chain = registry.all_chains()[0]
    return CaseRequest(
        case_no=case_no,
        chain=chain.code,
        applicant=applicant,
        form=sample_values(chain.form),
        materials=CaseDriver.all_materials(chain.code),
        accepted_by=CLERK,
    )


def applicant() -> Applicant:
    kind = registry.all_chains()[0].applicant_kind
    return fresh_applicant("person" if kind == "person" else "organisation")


def case_numbers(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {row[0] for row in connection.execute("SELECT case_no FROM cases")}


async def wait_for_case(database: Path, case_no: str, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.05)):
        if database.exists():
            try:
                if case_no in case_numbers(database):
                    return
            except sqlite3.OperationalError:
                pass  # the schema is being made
        await asyncio.sleep(0.05)
    raise AssertionError(f"case {case_no} never reached {database}")


async def test_moved_read_model_is_not_made_again_and_waits_for_the_operator(
    dev_env: WorkflowEnvironment, own_read_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from worker import build_worker

    database = own_read_model
    url = f"sqlite:///{database}"
    create_read_model(url)  # the operator's `onechain db upgrade`
    task_queue = f"test-{uuid.uuid4().hex[:8]}"
    # The clerk signed in before the loss: a session that stays valid while it lasts.
    desk = CaseDesk(dev_env.client, task_queue=task_queue, credentials=signer().sign(CLERK))
    caplog.set_level(logging.WARNING)
    async with build_worker(dev_env.client, task_queue):
        person = applicant()
        before = f"R{uuid.uuid4().hex[:8].upper()}"
        await desk.start_case(request(before, person))
        await wait_for_case(database, before)
        opened = file_id(database)

        moved = database.with_name("moved-away.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{database}{suffix}")
            if source.exists():
                source.rename(Path(f"{moved}{suffix}"))
        assert not database.exists()

        after = f"R{uuid.uuid4().hex[:8].upper()}"
        await desk.start_case(request(after, person))  # the clerk's token is still valid
        for _ in range(300):
            if any("no read model" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        assert not database.exists()  # the worker made nothing in its place

        create_read_model(url)  # the operator's `onechain db upgrade`, then a restore
        signer().sign(CLERK)  # ... which brings the people back
        await wait_for_case(database, after, seconds=90)  # the retries land there

    assert file_id(database) != opened
    # The new file holds what was written after the move (the first case's later
    # steps may land there too), the detached one nothing of the second case.
    assert after in case_numbers(database) <= {before, after}
    assert after not in case_numbers(moved)  # nothing went into the detached file
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "no read model" in m and str(database) in m and "onechain db upgrade" in m for m in messages
    ), messages
    assert not any(person.id_number in m or person.name in m for m in messages)


def test_an_unreachable_read_model_is_logged_once_without_data(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """PostgreSQL that does not answer: the writer logs where (host, port, database) and
    that it retries, once per outage, and raises ``DatabaseUnreachable`` (retryable)."""
    import socket

    from sqlalchemy import text

    from readmodel.database import reporting_outages
    from readmodel.errors import DatabaseUnreachable

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://onechain:secret@127.0.0.1:{port}/rm?connect_timeout=2"
    caplog.set_level(logging.WARNING, logger="onechain.readmodel")
    try:
        for _ in range(2):
            with pytest.raises(DatabaseUnreachable), reporting_outages(url):
                ready_engine(url)
        messages = [r.getMessage() for r in caplog.records if r.name == "onechain.readmodel"]
        assert len(messages) == 1, messages
        assert f"PostgreSQL at 127.0.0.1:{port}, database rm" in messages[0]
        assert "unreachable" in messages[0] and "secret" not in messages[0]

        # A database that fails and then answers again: both are said.
        caplog.clear()
        local = f"sqlite:///{tmp_path / 'rm.sqlite3'}"
        create_read_model(local)
        with (
            pytest.raises(DatabaseUnreachable),
            reporting_outages(local),
            ready_engine(local).connect() as connection,
        ):
            connection.execute(text("SELECT * FROM no_such_table"))
        with reporting_outages(local), ready_engine(local).connect() as connection:
            connection.execute(text("SELECT 1"))
        messages = [r.getMessage() for r in caplog.records if r.name == "onechain.readmodel"]
        assert "no such table" in messages[0] and "answers again" in messages[1]
    finally:
        reset_engines()
