"""Every case records the calendar revision its due dates use (issue 23).

A schedule stored without telling the cases (an interrupted load) leaves them on the
older revision: `doctor` and the console count them. `calendar notify` moves them to the
new one, with exactly the due dates of a case started under the new calendar, and a
second load of the same schedule costs the cases nothing.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.app import app
from client.facade import CaseDesk, CaseRequest
from doctor.calendar_revision import calendar_revision_check
from doctor.findings import Level
from domain.calendar_sources import load_schedule_file
from domain.case import CaseState
from domain.roles import Actor, Role
from readmodel.calendar_revisions import running_behind
from readmodel.calendar_store import calendar_revision, store_schedule
from readmodel.database import ready_engine
from runtime.keys import load_signing_keys
from tests.harness import CLERK, DEFAULT_APPLICANT, CaseDriver, sign_in_cli
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_shared_calendar import EXAMPLE_2027, RECEIVED, Office, office  # noqa: F401
from tests.test_versioning import replay
from trust.directory import refresh_shared
from trust.signer import ImpersonatingSigner
from tui.data import overview

CHAIN = "kindergarten"


async def _start(desk: CaseDesk) -> str:
    case_no = f"CR{uuid.uuid4().hex[:8].upper()}"
    await desk.start_case(
        CaseRequest(
            case_no=case_no,
            chain=CHAIN,
            applicant=DEFAULT_APPLICANT,
            form=KINDERGARTEN_FORM,
            materials=CaseDriver.all_materials(CHAIN),
            received_at=RECEIVED,
            accepted_by=CLERK,
        )
    )
    return case_no


async def _with_tasks(desk: CaseDesk, case_no: str) -> CaseState:
    """The case once it has open tasks (not ``CaseDriver``: its signer is the session's,
    cached with whichever database the first test to ask had configured)."""
    state = await desk.state(case_no)
    for _ in range(200):
        if state.open_tasks:
            break
        await asyncio.sleep(0.05)
        state = await desk.state(case_no)
    return state


async def _on_revision(desk: CaseDesk, case_no: str, revision: str) -> CaseState:
    state = await desk.state(case_no)
    for _ in range(200):
        if state.calendar_revision == revision:
            break
        await asyncio.sleep(0.05)
        state = await desk.state(case_no)
    return state


async def _projected(engine: Engine, revision: str, running: int) -> int:
    """Waits until the read model shows ``running`` running cases, all on ``revision``;
    returns how many are not."""
    count = -1
    for _ in range(400):
        shown = await asyncio.to_thread(overview, engine, RECEIVED.date())
        count = await asyncio.to_thread(running_behind, engine, revision)
        if shown.open_cases == running and count == 0:
            break
        await asyncio.sleep(0.05)
    return count


def _due_dates(state: CaseState) -> list[object]:
    clocks = [state.promised, state.statutory]
    clocks += [t.clock for t in sorted(state.open_tasks, key=lambda t: t.id) if t.clock]
    return [(c.due_on, c.provisional, c.warn_at_days_left, c.running) for c in clocks]


async def test_a_load_moves_every_case_to_the_new_revision_and_doctor_counts_the_rest(
    office: Office,  # noqa: F811
    dev_env: WorkflowEnvironment,
) -> None:
    from worker import build_worker

    office.machine("a")
    sign_in_cli(office.root / "session.json", "administrator")  # ONECHAIN_SESSION_FILE
    engine = ready_engine(office.database_url)
    signer = ImpersonatingSigner(engine, load_signing_keys(office.keys))
    signer.sign(CLERK)
    refresh_shared(engine)
    task_queue = f"test-rev-{uuid.uuid4().hex[:6]}"
    async with build_worker(dev_env.client, task_queue):
        desk = CaseDesk(dev_env.client, task_queue=task_queue, credentials=signer)
        cases = [await _start(desk) for _ in range(2)]
        first = calendar_revision(engine)
        for case_no in cases:
            state = await _with_tasks(desk, case_no)
            assert state.calendar_revision == first and state.statutory.provisional
        assert await _projected(engine, first, len(cases)) == 0
        assert calendar_revision_check(engine).level is Level.OK

        # Stored but not told (a load interrupted before any signal went out).
        store_schedule(engine, load_schedule_file(EXAMPLE_2027), by="admin1")
        new = calendar_revision(engine)
        assert new != first
        found = calendar_revision_check(engine)
        assert found.level is Level.WARN and f"{len(cases)} running case(s)" in found.message
        assert overview(engine, RECEIVED.date()).calendar_behind == len(cases)

        # `calendar notify` finishes it, with no schedule file.
        result = await asyncio.to_thread(CliRunner().invoke, app, ["calendar", "notify"])
        assert result.exit_code == 0, result.output
        assert "Notified" in result.stdout  # (other tests' running cases share the server)
        assert f"Calendar revision {new}" in result.stdout
        after = [await _on_revision(desk, c, new) for c in cases]
        assert [s.calendar_revision for s in after] == [new] * len(cases)

        fresh_no = await _start(desk)
        fresh = await _with_tasks(desk, fresh_no)
        assert fresh.calendar_revision == new and not fresh.statutory.provisional
        for state in after:
            assert _due_dates(state) == _due_dates(fresh)

        assert await _projected(engine, new, len(cases) + 1) == 0
        assert calendar_revision_check(engine).level is Level.OK
        assert overview(engine, RECEIVED.date()).calendar_behind == 0

        # The same schedule loaded again: the cases are on it, none recomputes a second time.
        again = await asyncio.to_thread(
            CliRunner().invoke, app, ["calendar", "load", str(EXAMPLE_2027)]
        )
        assert again.exit_code == 0, again.output
        # Told anyway (a client that skipped no one): a case on the revision does nothing.
        admin = Actor(user_id="admin-rev", name="日历管理员", role=Role.ADMINISTRATOR)
        as_admin = CaseDesk(dev_env.client, task_queue=task_queue, credentials=signer.sign(admin))
        assert await as_admin.broadcast_calendar_reload(revision=new) >= len(cases) + 1
        await asyncio.sleep(0.5)
        for case_no in cases:
            events = (await desk.state(case_no)).events
            assert [e.kind for e in events].count("calendar_reloaded") == 1
        # And the history with both signals replays on this code.
        await replay(await desk.handle(cases[0]).fetch_history())
