"""Loaded holiday schedules are shared state: one database, every machine the same dates.

The end-to-end test plays three machines in one process, each with its own data
folder and the same database and keys (as a deployment shares them): an
administrator loads 2027 on machine A, workers run on machines B and C.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.app import app
from client.facade import CaseDesk, CaseRequest
from domain.calendar import WorkCalendar, YearSchedule
from domain.calendar_sources import calendar_from_schedules, load_schedule_file, save_schedule
from domain.case import CaseState
from domain.timezone import CST
from readmodel.calendar_store import (
    CalendarScheduleRecord,
    calendar_from_store,
    store_schedule,
    stored_schedules,
)
from readmodel.database import (
    create_read_model,
    create_schema,
    make_engine,
    read_session,
    ready_engine,
)
from readmodel.schema import ensure_schema, migrate
from runtime.keys import keys_dir, load_signing_keys
from runtime.settings import get_settings
from tests.harness import CLERK, DEFAULT_APPLICANT, CaseDriver, sign_in_cli
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from trust.directory import refresh_shared
from trust.signer import ImpersonatingSigner
from workflows import registry

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_2027 = REPO / "docs" / "calendar-2027.example.json"
RECEIVED = datetime(2026, 12, 14, 9, tzinfo=CST)  # limits of 45 working days reach 2027


# ----------------------------------------------------------------- the store itself
def test_store_round_trip_and_replace(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        create_schema(engine)
        example = load_schedule_file(EXAMPLE_2027)
        store_schedule(engine, example, by="admin1")
        assert stored_schedules(engine) == {2027: example}
        corrected = example.model_copy(update={"source": "国务院办公厅通知（更正）"})
        store_schedule(engine, corrected, by="admin2")
        assert stored_schedules(engine) == {2027: corrected}
        with read_session(engine) as session:
            [row] = session.exec(select(CalendarScheduleRecord)).all()
        assert row.loaded_by == "admin2"
        snapshot = calendar_from_store(engine, 2026, 2028)
        assert snapshot.years[2027] == corrected
        assert snapshot.years[2026].official  # builtin for years not loaded
        assert not snapshot.years[2028].official  # provisional beyond
    finally:
        engine.dispose()


def test_store_refuses_a_provisional_schedule(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        create_schema(engine)
        provisional = YearSchedule(year=2030, official=False, holidays=[date(2030, 1, 1)])
        with pytest.raises(ValueError, match="provisional"):
            store_schedule(engine, provisional, by="x")
    finally:
        engine.dispose()


def test_db_upgrade_imports_the_old_schedule_files_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at 0002 with schedules in the data folder: `db upgrade` brings them in."""
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    engine = make_engine(database_url)
    try:
        migrate(engine, "0002_people_sessions_audit")
        example = load_schedule_file(EXAMPLE_2027)
        save_schedule(tmp_path / "data" / "calendars", example)
        ensure_schema(engine, upgrade_behind=True)
        assert stored_schedules(engine) == {2027: example}
        with read_session(engine) as session:
            [row] = session.exec(select(CalendarScheduleRecord)).all()
        assert row.loaded_by == "imported from 2027.json"
    finally:
        engine.dispose()
        get_settings.cache_clear()


# ------------------------------------------------------------ three machines, one DB
class Office:
    """Switches this process between "machines": own data folder, shared DB and keys."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
        self.root, self.monkeypatch, self.database_url = root, monkeypatch, database_url
        # The deployment's keys, copied to where every machine reads them (the test
        # server's clients seal payloads with the session's keys).
        self.keys = root / "shared-keys"
        shutil.copytree(keys_dir(get_settings()), self.keys)

    def machine(self, name: str) -> Path:
        folder = self.root / name
        self.monkeypatch.setenv("ONECHAIN_DATA_DIR", str(folder))
        self.monkeypatch.setenv("ONECHAIN_DATABASE_URL", self.database_url)
        self.monkeypatch.setenv("ONECHAIN_KEYS_DIR", str(self.keys))
        get_settings.cache_clear()
        return folder


@pytest.fixture
def office(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev_env: WorkflowEnvironment
) -> Iterator[Office]:
    target = dev_env.client.service_client.config.target_host
    monkeypatch.setenv("TEMPORAL_ADDRESS", target)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", dev_env.client.namespace)
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    shared = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    create_read_model(shared)  # the operator's `onechain db upgrade`
    yield Office(tmp_path, monkeypatch, shared)
    get_settings.cache_clear()


async def _wait_official(desk: CaseDesk, case_no: str) -> CaseState:
    state = await desk.state(case_no)
    for _ in range(200):
        if not state.statutory.provisional:
            break
        await asyncio.sleep(0.05)
        state = await desk.state(case_no)
    return state


async def test_a_schedule_loaded_on_one_machine_moves_due_dates_on_workers_of_others(
    office: Office, dev_env: WorkflowEnvironment
) -> None:
    from worker import build_worker

    office.machine("a")
    sign_in_cli(office.root / "session.json", "administrator")  # ONECHAIN_SESSION_FILE
    engine = ready_engine(office.database_url)
    signer = ImpersonatingSigner(engine, load_signing_keys(office.keys))
    signer.sign(CLERK)  # registers the clerk in the shared directory before workers start
    refresh_shared(engine)

    workers, desks, cases = [], [], []
    for name in ("b", "c"):
        office.machine(name)
        task_queue = f"test-{name}-{uuid.uuid4().hex[:6]}"
        workers.append(build_worker(dev_env.client, task_queue))
        desks.append(CaseDesk(dev_env.client, task_queue=task_queue, credentials=signer))
    chain = registry.get_chain("kindergarten")
    async with workers[0], workers[1]:
        for desk in desks:
            case_no = f"SC{uuid.uuid4().hex[:8].upper()}"
            await desk.start_case(
                CaseRequest(
                    case_no=case_no,
                    chain=chain.code,
                    applicant=DEFAULT_APPLICANT,
                    form=KINDERGARTEN_FORM,
                    materials=CaseDriver.all_materials(chain.code),
                    received_at=RECEIVED,
                    accepted_by=CLERK,
                )
            )
            cases.append(case_no)
        before = [await desk.state(c) for desk, c in zip(desks, cases, strict=True)]
        assert all(s.statutory.provisional for s in before)

        office.machine("a")
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["calendar", "load", str(EXAMPLE_2027)]
        )
        assert result.exit_code == 0, result.output
        assert "Notified" in result.stdout

        expected = WorkCalendar(
            calendar_from_schedules({2027: load_schedule_file(EXAMPLE_2027)}, 2025, 2030)
        ).add_working_days(RECEIVED.date(), chain.statutory_days)
        after = [await _wait_official(d, c) for d, c in zip(desks, cases, strict=True)]
        for state, old in zip(after, before, strict=True):
            assert not state.statutory.provisional
            assert state.statutory.due_on == expected.due != old.statutory.due_on

        # A case admitted afterwards on machine C is official at once, and the CLI on
        # machine B (another folder, nothing in it) prints the same due date.
        office.machine("c")
        late = f"SC{uuid.uuid4().hex[:8].upper()}"
        await desks[1].start_case(
            CaseRequest(
                case_no=late,
                chain=chain.code,
                applicant=DEFAULT_APPLICANT,
                form=KINDERGARTEN_FORM,
                materials=CaseDriver.all_materials(chain.code),
                received_at=RECEIVED,
                accepted_by=CLERK,
            )
        )
        fresh = await desks[1].state(late)
        assert not fresh.statutory.provisional and fresh.statutory.due_on == expected.due
    office.machine("b")
    due = CliRunner().invoke(
        app, ["calendar", "due", RECEIVED.date().isoformat(), str(chain.statutory_days)]
    )
    assert due.stdout == f"{expected.due.isoformat()}\n"
    for name in ("a", "b", "c"):
        assert not (office.root / name / "calendars").exists()
