"""帮办代办 on real servers: a case's named 代办员, assigned by the window (or a
coordinator) as an action the engine checks, or by the day's rota at acceptance; the
代办员 hears of each warning on the case."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from client.facade import ActionRejected
from domain.actions import AssignAgent
from domain.case import CaseState
from domain.roles import Actor, Role
from readmodel.audit import AuditRecord
from readmodel.database import read_session, ready_engine, write_session
from readmodel.queries import notifications
from readmodel.rota import RotaRecord, on_duty, set_rota
from runtime.settings import get_settings
from tests.harness import CLERK, COORDINATOR, SUPERVISOR, CaseDriver, reviewer, session_signer
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_deadlines_timers import RECEIVED, cst, desk, sleep_until, start_case

__all__ = ["desk"]  # the time-skipping desk fixture, shared with the deadline tests


def a_person(prefix: str = "agent") -> Actor:
    """A new enabled person in the user directory (a window clerk, as 代办员 often are)."""
    person = Actor(
        user_id=f"{prefix}-{uuid.uuid4().hex[:6]}", name="代办员", role=Role.WINDOW_CLERK
    )
    session_signer().register(person)
    return person


def engine():
    return ready_engine(get_settings().resolved_database_url)


def audited(case_no: str, kind: str) -> list[AuditRecord]:
    with read_session(engine()) as session:
        return list(
            session.exec(
                select(AuditRecord).where(AuditRecord.case_no == case_no, AuditRecord.kind == kind)
            ).all()
        )


async def eventually(check, timeout: float = 15.0):
    """The read model follows the workflow: wait until ``check()`` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def agent_events(state: CaseState) -> list[tuple[str, str, str]]:
    return [
        (e.actor.user_id, e.data.get("agent", ""), e.reason)
        for e in state.events
        if e.kind == "agent_assigned"
    ]


async def test_window_assigns_an_agent_and_the_engine_refuses_others(driver: CaseDriver) -> None:
    agent, other = a_person(), a_person()
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    await driver.wait_for_tasks(case_no)
    assert (await driver.state(case_no)).agent is None

    done = await driver.desk.act(
        case_no, AssignAgent(actor=CLERK, agent=agent.user_id, reason="申请人不熟悉流程")
    )
    state = await driver.state(case_no)
    assert state.agent == agent.user_id and done.seq > 0
    assert agent_events(state) == [(CLERK.user_id, agent.user_id, "申请人不熟悉流程")]

    # Refused by the workflow, whatever the client shows: a reviewer, a supervisor.
    for actor in (reviewer("fire"), SUPERVISOR):
        with pytest.raises(ActionRejected, match="may not do this"):
            await driver.desk.act(case_no, AssignAgent(actor=actor, agent=other.user_id))
    # Nobody by that name in the user directory: refused by the worker.
    with pytest.raises(ActionRejected) as refused:
        await driver.desk.act(case_no, AssignAgent(actor=CLERK, agent="nobody-" + case_no))
    assert refused.value.code == "unknown_user"
    with pytest.raises(ActionRejected) as again:
        await driver.desk.act(case_no, AssignAgent(actor=CLERK, agent=agent.user_id))
    assert again.value.code == "already_agent"
    state = await driver.state(case_no)
    assert state.agent == agent.user_id and len(agent_events(state)) == 1

    # A coordinator hands the case to someone else; both steps are in the audit trail.
    await driver.desk.act(
        case_no, AssignAgent(actor=COORDINATOR, agent=other.user_id, reason="原代办员休假")
    )
    assert (await driver.state(case_no)).agent == other.user_id
    entries = await eventually(
        lambda: len(found := audited(case_no, "agent_assigned")) == 2 and found
    )
    assert entries, "the assignments did not reach the audit trail"
    assert [(e.actor_id, e.reason) for e in entries] == [
        (CLERK.user_id, "申请人不熟悉流程"),
        (COORDINATOR.user_id, "原代办员休假"),
    ]
    assert agent.user_id in entries[0].summary and other.user_id in entries[1].summary
    refused_by = {reviewer("fire").user_id, SUPERVISOR.user_id, CLERK.user_id}
    assert await eventually(  # refusals are audited too (the recorder writes in batches)
        lambda: {e.actor_id for e in audited(case_no, "refused")} >= refused_by
    )

    def row_agent() -> str | None:
        from readmodel.tables import CaseRecord

        with read_session(engine()) as session:
            row = session.get(CaseRecord, case_no)
            return row.agent if row is not None else None

    assert await eventually(lambda: row_agent() == other.user_id)


@pytest.fixture
def rota_day() -> Iterator[date]:
    """The deadline tests' acceptance day, with no rota left behind for other tests."""
    day = RECEIVED.date()
    yield day
    with write_session(engine()) as session:
        row = session.get(RotaRecord, day)
        if row is not None:
            session.delete(row)


async def test_rota_names_the_agent_who_hears_of_each_warning(
    skipping_env: WorkflowEnvironment, desk, rota_day: date
) -> None:
    agent = a_person("duty")
    set_rota(engine(), rota_day, agent.user_id, by=COORDINATOR.user_id, reason="值班表")
    assert on_duty(engine(), rota_day) == agent.user_id

    case_no = f"DB-{uuid.uuid4().hex[:6]}"
    await start_case(skipping_env, desk, case_no)
    state = await desk.state(case_no)
    assert state.agent == agent.user_id
    assert [(who, whom) for who, whom, _ in agent_events(state)] == [("system", agent.user_id)]

    # Past the tasks' warning instant (10 Oct 2030): every warning names the agent.
    await sleep_until(skipping_env, cst(2030, 10, 10, 1))
    with read_session(engine()) as session:
        sent = [(n.kind, n.recipients) for n in notifications(session, case_no)]
    warnings = [r for k, r in sent if k == "task_warning"]
    assert warnings, "no warning was sent"
    assert all(f"agent:{agent.user_id}" in r for r in warnings)
    assert next(k for k, r in sent if f"agent:{agent.user_id}" in r) == "agent_assigned"
