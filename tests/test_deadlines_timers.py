"""Warning and overdue timers on the time-skipping server, at exact instants.

The server's clock only moves forward, so these tests run in 2030 with an official
schedule loaded for it (National Day 1–7 Oct, make-up working days Sun 29 Sep and
Sat 12 Oct) — the same shape as National Day 2026, which has already passed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from client.facade import CaseDesk, CaseRequest
from domain.actions import EndSpecialProcedure, Extend, StartSpecialProcedure
from domain.calendar import CalendarData, YearSchedule
from domain.calendar_sources import calendar_from_schedules
from domain.case import CaseState, SuspensionKind
from domain.timezone import CST
from tests.harness import (
    CLERK,
    COORDINATOR,
    DEFAULT_APPLICANT,
    LONG_SESSION,
    CaseDriver,
    signed_desk,
    worker_for,
)
from tests.test_chains_end_to_end import KINDERGARTEN_FORM

SCHEDULE_2030 = YearSchedule(
    year=2030,
    official=True,
    holidays=[date(2030, 10, d) for d in range(1, 8)],
    workdays=[date(2030, 9, 29), date(2030, 10, 12)],
    source="test schedule shaped like National Day 2026",
)
RECEIVED = datetime(2030, 9, 27, 10, 0, tzinfo=CST)  # a Friday


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CST)


@pytest.fixture
async def desk(skipping_env: WorkflowEnvironment) -> AsyncIterator[CaseDesk]:
    def calendars(first: int, last: int) -> CalendarData:  # 2030 loaded, for this worker only
        return calendar_from_schedules({2030: SCHEDULE_2030}, first, last)

    async with worker_for(skipping_env.client, calendars=calendars) as task_queue:
        yield signed_desk(
            skipping_env.client, task_queue, LONG_SESSION, skipping_env.get_current_time
        )


async def sleep_until(env: WorkflowEnvironment, instant: datetime) -> None:
    now = await env.get_current_time()
    if instant > now:
        await env.sleep(instant - now)
    await asyncio.sleep(0.2)  # let the worker finish the workflow task the timer woke


def fired_at(instant: datetime, moments: set[datetime] | list[datetime]) -> bool:
    """Timers fire at the instant, give or take the server's timer granularity."""
    return all(instant <= m < instant + timedelta(seconds=1) for m in moments) and bool(moments)


def kinds(state: CaseState, kind: str) -> list[str | None]:
    return [e.task_id for e in state.events if e.kind == kind]


async def start_case(env: WorkflowEnvironment, desk: CaseDesk, case_no: str) -> None:
    await sleep_until(env, RECEIVED)
    await desk.start_case(
        CaseRequest(
            case_no=case_no,
            chain="kindergarten",
            applicant=DEFAULT_APPLICANT,
            form=KINDERGARTEN_FORM,
            materials=CaseDriver.all_materials("kindergarten"),
            received_at=await env.get_current_time(),
            accepted_by=CLERK,
        )
    )
    await asyncio.sleep(0.3)


async def test_warning_and_overdue_fire_once_at_working_day_instants(
    skipping_env: WorkflowEnvironment, desk: CaseDesk
) -> None:
    await start_case(skipping_env, desk, "DL-1")
    state = await desk.state("DL-1")
    # 5 working days from Fri 27 Sep: Sun 29 (make-up), Mon 30, [1–7 Oct off], Tue 8, Wed 9, Thu 10.
    assert {t.clock.due_on for t in state.open_tasks} == {date(2030, 10, 10)}
    assert {t.clock.warning_on for t in state.open_tasks} == {date(2030, 10, 10)}
    # 20 working days, with Sat 12 Oct counted: due Wed 30 Oct; yellow when 4 are left.
    assert state.promised.due_on == date(2030, 10, 30)
    assert state.promised.warning_on == date(2030, 10, 25)
    assert not state.promised.provisional

    await sleep_until(skipping_env, cst(2030, 10, 9, 23, 59))
    assert kinds(await desk.state("DL-1"), "task_warning") == []

    await sleep_until(skipping_env, cst(2030, 10, 10, 0, 1))
    state = await desk.state("DL-1")
    assert sorted(kinds(state, "task_warning")) == ["T1", "T2", "T3", "T4"]
    assert fired_at(cst(2030, 10, 10), [e.at for e in state.events if e.kind == "task_warning"])
    assert kinds(state, "task_overdue") == []

    await sleep_until(skipping_env, cst(2030, 10, 11, 0, 1))
    state = await desk.state("DL-1")
    assert sorted(kinds(state, "task_overdue")) == ["T1", "T2", "T3", "T4"]
    assert fired_at(cst(2030, 10, 11), [e.at for e in state.events if e.kind == "task_overdue"])

    await sleep_until(skipping_env, cst(2030, 10, 25, 0, 1))
    state = await desk.state("DL-1")
    assert kinds(state, "case_warning") == [None]
    await sleep_until(skipping_env, cst(2030, 11, 5))
    state = await desk.state("DL-1")
    assert len(kinds(state, "task_warning")) == 4 and len(kinds(state, "task_overdue")) == 4
    assert kinds(state, "case_warning") == [None] and kinds(state, "case_overdue") == [None]
    case_overdue = next(e for e in state.events if e.kind == "case_overdue")
    assert fired_at(cst(2030, 10, 31), [case_overdue.at])


async def test_suspension_and_extension_move_the_due_date_exactly(
    skipping_env: WorkflowEnvironment, desk: CaseDesk
) -> None:
    await start_case(skipping_env, desk, "DL-2")
    await sleep_until(skipping_env, cst(2030, 9, 30, 9))
    started = await desk.act(
        "DL-2",
        StartSpecialProcedure(
            actor=COORDINATOR, task_id="T1", kind=SuspensionKind.EXPERT_REVIEW, reason="专家评审"
        ),
    )
    state = await desk.state("DL-2")
    assert state.task("T1").clock.stopped
    suspension_id = state.suspensions[-1].id
    assert started.seq > 0

    await sleep_until(skipping_env, cst(2030, 10, 9, 15))
    await desk.act(
        "DL-2",
        EndSpecialProcedure(actor=COORDINATOR, suspension_id=suspension_id, reason="评审结束"),
    )
    state = await desk.state("DL-2")
    clock = state.task("T1").clock
    # Sun 29 Sep counts (1); 30 Sep..9 Oct stopped; Thu 10 (2), Fri 11 (3), Sat 12 (4), Mon 14 (5).
    assert clock.due_on == date(2030, 10, 14) and not clock.stopped
    # The case's promised limit stood still over the same working days (30 Sep, 8, 9 Oct).
    assert state.promised.due_on == date(2030, 11, 4)

    await desk.act("DL-2", Extend(actor=COORDINATOR, task_id="T1", days=3, reason="情况复杂"))
    state = await desk.state("DL-2")
    assert state.task("T1").clock.due_on == date(2030, 10, 17)
    assert state.extensions[-1].new_due_on == date(2030, 10, 17)

    await sleep_until(skipping_env, cst(2030, 10, 16, 12))
    state = await desk.state("DL-2")
    assert "T1" not in kinds(state, "task_warning")
    assert sorted(kinds(state, "task_overdue")) == ["T2", "T3", "T4"]

    await sleep_until(skipping_env, cst(2030, 10, 18, 0, 1))
    state = await desk.state("DL-2")
    t1 = {e.kind: e.at for e in state.events if e.task_id == "T1" and e.kind.startswith("task_")}
    assert fired_at(cst(2030, 10, 17), [t1["task_warning"]])
    assert fired_at(cst(2030, 10, 18), [t1["task_overdue"]])


async def test_notifications_reach_department_and_supervisor(
    skipping_env: WorkflowEnvironment, desk: CaseDesk
) -> None:
    from readmodel.database import read_session, ready_engine
    from readmodel.queries import notifications
    from runtime.settings import get_settings

    await start_case(skipping_env, desk, "DL-3")
    await sleep_until(skipping_env, cst(2030, 10, 11, 1))
    engine = ready_engine(get_settings().resolved_database_url)
    with read_session(engine) as session:
        sent = [(n.kind, n.recipients) for n in notifications(session, "DL-3")]
    overdue = [r for k, r in sent if k == "task_overdue"]
    warnings = [r for k, r in sent if k == "task_warning"]
    assert len(warnings) == 4 and len(overdue) == 4
    assert all("supervisor" in r for r in overdue)
    assert not any("supervisor" in r for r in warnings)
    assert {"education", "fire", "health", "market"} == {d for r in warnings for d in r}

    # Each instant's notifications went out together, in one local activity run in the
    # fired timer's own workflow task: no activity task, no workflow task for a result.
    history = await desk.handle("DL-3").fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "notify" not in scheduled and "notify_all" not in scheduled
    local = await local_activity_types(desk, history)
    assert local.count("notify_all") == 2  # the warning instant and the overdue instant
    assert "notify" not in local
    # And the case replays from that history (each local activity where replay finds it).
    from tests.test_versioning import replay

    await replay(history)


async def local_activity_types(desk: CaseDesk, history: WorkflowHistory) -> list[str]:
    """The activity type of each local activity recorded in ``history``, in order (core
    records each as a ``core_local_activity`` marker whose ``data`` is sealed JSON)."""
    codec = desk.client.data_converter.payload_codec
    assert codec is not None
    types: list[str] = []
    for event in history.events:
        attrs = event.marker_recorded_event_attributes
        if not event.HasField("marker_recorded_event_attributes"):
            continue
        if attrs.marker_name != "core_local_activity":
            continue
        [data] = await codec.decode([attrs.details["data"].payloads[0]])
        types.append(json.loads(data.data)["activity_type"])
    return types


async def test_missed_supplement_deadline_warns_then_ends_the_case(
    skipping_env: WorkflowEnvironment, desk: CaseDesk
) -> None:
    """容缺受理 with ``on_supplement_missed="end"``: a yellow card on the last day,
    then the case ends as not approved the moment the deadline passes."""
    from pydantic import BaseModel

    from domain.case import CaseStatus
    from workflows import registry
    from workflows.chain import Chain, LicenceType, Material

    class StrictForm(BaseModel):
        shop_name: str

    chain = Chain(
        code="strict_permit",
        name_zh="严格容缺测试",
        name_en="Strict incomplete-acceptance test",
        form=StrictForm,
        departments=("market",),
        materials=(Material("application", "申请表"), Material("health", "健康证明", key=False)),
        licences=(LicenceType("permit", "许可证", "market"),),
        promised_days=10,
        statutory_days=20,
        allow_incomplete=True,
        supplement_days=2,
        on_supplement_missed="end",
    )

    @chain.flow(version=1)
    async def flow(case) -> None:  # type: ignore[no-untyped-def]
        await case.review("market", "审查", days=5)
        await case.issue("permit")

    registry.register(chain)
    try:
        await sleep_until(skipping_env, RECEIVED)
        await desk.start_case(
            CaseRequest(
                case_no="DL-4",
                chain="strict_permit",
                applicant=DEFAULT_APPLICANT,
                form={"shop_name": "小店"},
                materials=["application"],
                received_at=await skipping_env.get_current_time(),
                accepted_by=CLERK,
            )
        )
        await asyncio.sleep(0.3)
        state = await desk.state("DL-4")
        materials = next(t for t in state.tasks if t.kind.value == "materials")
        # Sun 29 Sep (make-up) and Mon 30 Sep: due 30 Sep.
        assert materials.clock.due_on == date(2030, 9, 30)

        await sleep_until(skipping_env, cst(2030, 9, 30, 0, 1))
        state = await desk.state("DL-4")
        assert materials.id in kinds(state, "task_warning")
        assert state.status is CaseStatus.RUNNING

        await sleep_until(skipping_env, cst(2030, 10, 1, 0, 1))
        state = await desk.state("DL-4")
        assert state.status is CaseStatus.NOT_APPROVED
        assert state.outcome_reason == "容缺受理材料逾期未补齐"
        overdue = next(e for e in state.events if e.kind == "task_overdue")
        assert fired_at(cst(2030, 10, 1), [overdue.at])
    finally:
        registry.unregister("strict_permit")
