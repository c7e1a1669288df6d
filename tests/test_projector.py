"""The worker's projector: decisions never wait on the read model, and a killed
worker's unwritten cases are written by the next one (its journal).

Real dev server, real worker, real SQLite read model; any registered chain will do.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, delete
from temporalio.testing import WorkflowEnvironment

from domain.case import Applicant
from readmodel.database import read_session, write_session
from readmodel.queries import get_case
from readmodel.tables import CaseRecord, TaskRecord, table_of
from runtime.projector import Journal, journal_key
from runtime.settings import get_settings
from tests.harness import CaseDriver, fresh_applicant, reviewer, worker_for
from workflows import registry
from workflows.form_samples import sample_values


def any_chain_case() -> tuple[str, dict]:
    """A chain from the registry (whichever is first) and a valid sample form."""
    chain = registry.all_chains()[0]
    return chain.code, sample_values(chain.form)


def applicant_for(chain_code: str) -> Applicant:
    kind = registry.get_chain(chain_code).applicant_kind
    return fresh_applicant("person" if kind == "person" else "organisation")


def engine() -> Engine:
    from activities.projection import read_model_engine

    return read_model_engine()


async def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "the read model did not catch up"
        await asyncio.sleep(0.1)


def stored_seq(case_no: str) -> int | None:
    with read_session(engine()) as session:
        row = get_case(session, case_no)
        return None if row is None else row.last_seq


async def test_a_decision_does_not_wait_for_a_locked_read_model(driver: CaseDriver) -> None:
    """The read model is locked by someone else (a long report, a backup); the
    department's decision is accepted anyway and reaches the read model once the lock
    is gone."""
    chain, form = any_chain_case()
    case_no = await driver.start(chain, form, applicant=applicant_for(chain))
    await eventually(lambda: stored_seq(case_no) is not None)
    task = next(t for t in await driver.open_tasks(case_no) if t.parts)
    before = stored_seq(case_no)
    department = task.parts[0].department
    driver.desk.credentials_for(
        reviewer(department)
    )  # signed in before the lock (people live there)

    database = Path(engine().url.database or "")
    locker = sqlite3.connect(database, timeout=1)
    locker.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        await asyncio.wait_for(driver.decide(case_no, task.id, department), timeout=20)
        state = await driver.state(case_no)
        assert state.events[-1].task_id == task.id  # decided while the database was locked
        assert stored_seq(case_no) == before  # and the read model has not moved yet
    finally:
        locker.rollback()
        locker.close()
    await eventually(lambda: (stored_seq(case_no) or 0) >= state.events[-1].seq, timeout=60)


async def test_a_dead_workers_journal_is_written_by_the_next_worker(
    dev_env: WorkflowEnvironment,
) -> None:
    """Hints a killed worker had journaled but not written are adopted by the next
    projector on the same queue: the case reappears in the read model."""
    chain, form = any_chain_case()
    async with worker_for(dev_env.client) as task_queue:
        driver = CaseDriver(dev_env.client, task_queue)
        case_no = await driver.start(chain, form, applicant=applicant_for(chain))
        await eventually(lambda: stored_seq(case_no) is not None)
    # As if that worker had died before writing: the rows are gone, its journal stays.
    with write_session(engine()) as session:
        session.exec(delete(table_of(TaskRecord)).where(table_of(TaskRecord).c.case_no == case_no))
        session.exec(delete(table_of(CaseRecord)).where(table_of(CaseRecord).c.case_no == case_no))
    folder = get_settings().data_dir / "projection"
    dead = Journal(folder, journal_key(dev_env.client, task_queue))
    dead.append(f"case-{case_no}")
    dead.close()  # its lock is released, as the kernel does for a killed process
    assert dead.path.exists()

    async with worker_for(dev_env.client, task_queue=task_queue):
        await eventually(lambda: stored_seq(case_no) is not None)
    assert not dead.path.exists()  # adopted, then removed


def test_a_journal_keeps_only_what_is_still_owed(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "k")
    for i in range(3):
        journal.append(f"case-{i}")
    journal.compact([])  # everything written
    assert journal.path.read_text() == ""
    journal.append(f"case-{uuid.uuid4().hex}")
    journal.close()
    assert journal.path.exists()  # something owed: left for the next projector
    other = Journal(tmp_path, "k")
    assert len(other.adopt_orphans()) == 1
    other.close()
    assert not list(tmp_path.glob("*.journal"))
