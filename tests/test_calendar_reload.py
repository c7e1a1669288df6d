"""Provisional due dates become official when a schedule is loaded for running cases."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from client.facade import CaseDesk
from domain.calendar import CalendarData, YearSchedule
from domain.calendar_sources import calendar_from_schedules
from domain.roles import Actor, Role
from domain.timezone import CST
from tests.harness import COORDINATOR, CaseDriver, session_signer, worker_for
from tests.test_chains_end_to_end import KINDERGARTEN_FORM

# A 2027 schedule (test data, not the official notice): New Year 1–3 Jan, Spring
# Festival 6–12 Feb with make-up working days Sun 31 Jan and Sat 20 Feb.
SCHEDULE_2027 = YearSchedule(
    year=2027,
    official=True,
    holidays=[date(2027, 1, d) for d in (1, 2, 3)] + [date(2027, 2, d) for d in range(6, 13)],
    workdays=[date(2027, 1, 31), date(2027, 2, 20)],
    source="test schedule",
)


ADMIN = Actor(user_id="admin-cal", name="日历管理员", role=Role.ADMINISTRATOR)


async def test_loading_a_schedule_recomputes_running_cases(dev_env: WorkflowEnvironment) -> None:
    # This worker's calendar store (tests/test_shared_calendar.py runs the real one).
    loaded: dict[int, YearSchedule] = {}

    def calendars(first: int, last: int) -> CalendarData:
        return calendar_from_schedules(loaded, first, last)

    async with worker_for(dev_env.client, calendars=calendars) as task_queue:
        driver = CaseDriver(dev_env.client, task_queue)
        # Accepted Mon 14 Dec 2026: the statutory 45 working days reach into Feb 2027.
        case_no = await driver.start(
            "kindergarten", KINDERGARTEN_FORM, received_at=datetime(2026, 12, 14, 9, tzinfo=CST)
        )
        before = await driver.wait_for_tasks(case_no)
        assert before.statutory.provisional

        # The schedule is in the worker's store; a coordinator's signal changes nothing.
        loaded[2027] = SCHEDULE_2027
        as_coordinator = CaseDesk(
            dev_env.client, task_queue=task_queue, credentials=session_signer().sign(COORDINATOR)
        )
        assert await as_coordinator.broadcast_calendar_reload() >= 1
        await asyncio.sleep(0.5)
        assert (await driver.state(case_no)).statutory.due_on == before.statutory.due_on

        as_admin = CaseDesk(
            dev_env.client, task_queue=task_queue, credentials=session_signer().sign(ADMIN)
        )
        assert await as_admin.broadcast_calendar_reload() >= 1
        after = before
        for _ in range(100):
            after = await driver.state(case_no)
            if not after.statutory.provisional:
                break
            await asyncio.sleep(0.05)
        assert not after.statutory.provisional
        # 15–31 Dec: 13; 4–29 Jan: 33; Sun 31 Jan (make-up): 34; 1–5 Feb: 39; 6–12 Feb off;
        # 15–19 Feb: 44; Sat 20 Feb (make-up): 45.
        assert after.statutory.due_on == date(2027, 2, 20)
        assert after.events[-1].kind == "calendar_reloaded"


async def test_a_load_tells_many_cases_at_once_and_an_interrupted_one_resumes(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The reload goes to the running cases not told yet (a journal per schedule), with
    progress; cases an interrupted load told are skipped, and their number is known."""
    from runtime.reload_journal import ReloadJournal

    async with worker_for(dev_env.client) as task_queue:
        driver = CaseDriver(dev_env.client, task_queue)
        told_before, not_told = [await driver.start("kindergarten", KINDERGARTEN_FORM)
                                 for _ in range(2)]  # fmt: skip
        await driver.wait_for_tasks(not_told)
        journal = ReloadJournal(tmp_path, SCHEDULE_2027)
        journal.record(told_before)  # an earlier load told it, then died
        journal.close()
        assert journal.told() == {told_before}

        as_admin = CaseDesk(
            dev_env.client, task_queue=task_queue, credentials=session_signer().sign(ADMIN)
        )
        resumed = ReloadJournal(tmp_path, SCHEDULE_2027)
        seen: list[tuple[int, int]] = []
        count = await as_admin.broadcast_calendar_reload(
            skip=resumed.told(), sent=resumed.record, progress=lambda d, t: seen.append((d, t))
        )
        assert count >= 1 and seen and seen[-1][0] == seen[-1][1] == len(seen)
        assert not_told in resumed.told() and resumed.told() >= {told_before}
        resumed.finished()
        assert not resumed.path.exists()
        for _ in range(100):
            if (await driver.state(not_told)).events[-1].kind == "calendar_reloaded":
                break
            await asyncio.sleep(0.05)
        assert (await driver.state(not_told)).events[-1].kind == "calendar_reloaded"
        assert all(e.kind != "calendar_reloaded" for e in (await driver.state(told_before)).events)

    other = SCHEDULE_2027.model_copy(update={"source": "another notice"})
    assert ReloadJournal(tmp_path, other).path != resumed.path  # a new schedule starts afresh
