"""People's actions as validated Updates: what is accepted, what is refused, and
that a refusal leaves no trace in the case or its history."""

from __future__ import annotations

import pytest

from client.facade import ActionRejected
from domain.actions import (
    Decide,
    DecideOnBehalf,
    EndSpecialProcedure,
    Extend,
    Reassign,
    RecordSupplement,
    StartSpecialProcedure,
    Urge,
    Withdraw,
)
from domain.case import CaseStatus, SuspensionKind, TaskStatus, Verdict
from tests.harness import CLERK, COORDINATOR, SUPERVISOR, CaseDriver, reviewer
from tests.test_chains_end_to_end import KINDERGARTEN_FORM


async def _update_events(driver: CaseDriver, case_no: str) -> int:
    """Updates that reached history (accepted or completed); a refused one must not."""
    history = await driver.desk.handle(case_no).fetch_history()
    return sum(
        1
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    )


async def _first_task(driver: CaseDriver, case_no: str, department: str) -> str:
    state = await driver.wait_for_tasks(case_no)
    return next(t.id for t in state.open_tasks if t.departments == [department])


@pytest.mark.parametrize(
    ("make_action", "message"),
    [
        (
            lambda t: Decide(actor=reviewer("education"), task_id="T99", verdict=Verdict.APPROVE),
            "unknown task 'T99'",
        ),
        (
            lambda t: Decide(actor=reviewer("fire"), task_id=t, verdict=Verdict.APPROVE),
            "has no part in task",
        ),
        (
            lambda t: Decide(actor=reviewer("education"), task_id=t, verdict=Verdict.REJECT),
            "a reason is required",
        ),
        (
            lambda t: Decide(actor=CLERK, task_id=t, verdict=Verdict.APPROVE),
            "role window_clerk may not do this",
        ),
        (
            lambda t: DecideOnBehalf(
                actor=COORDINATOR,
                task_id=t,
                department="education",
                verdict=Verdict.APPROVE,
                reason="x",
            ),
            "role coordinator may not do this",
        ),
        (
            lambda t: DecideOnBehalf(
                actor=SUPERVISOR, task_id=t, department="education", verdict=Verdict.APPROVE
            ),
            "a reason is required",
        ),
        (lambda t: Extend(actor=COORDINATOR, task_id=t, days=3), "a reason is required"),
        (
            lambda t: Extend(actor=COORDINATOR, task_id=t, days=11, reason="复杂"),
            "at most 10 working days",
        ),
        (
            lambda t: Extend(actor=reviewer("education"), task_id=t, days=2, reason="x"),
            "may not do this",
        ),
        (
            lambda t: Reassign(actor=COORDINATOR, task_id=t, to_department="nowhere", reason="x"),
            "unknown department 'nowhere'",
        ),
        (lambda t: Urge(actor=CLERK, task_id=t), "may not do this"),
        (
            lambda t: RecordSupplement(actor=CLERK, task_id=t, items=["消防平面图"]),
            "was not returned for supplement",
        ),
        (
            lambda t: EndSpecialProcedure(actor=COORDINATOR, suspension_id="S9", reason="x"),
            "no running special",
        ),
        (lambda t: Withdraw(actor=CLERK), "a reason is required"),
    ],
)
async def test_refused_action_names_the_problem_and_leaves_no_trace(
    driver: CaseDriver, make_action, message: str
) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id = await _first_task(driver, case_no, "education")
    before_state = await driver.state(case_no)
    before_updates = await _update_events(driver, case_no)

    with pytest.raises(ActionRejected, match=message):
        await driver.desk.act(case_no, make_action(task_id))

    assert await _update_events(driver, case_no) == before_updates
    assert (await driver.state(case_no)).model_dump() == before_state.model_dump()


async def test_decision_twice_is_refused_once_applied(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id = await _first_task(driver, case_no, "education")
    await driver.decide(case_no, task_id, "education")
    with pytest.raises(ActionRejected, match="already approved"):
        await driver.decide(case_no, task_id, "education")
    state = await driver.state(case_no)
    assert [e.kind for e in state.events].count("decided") == 1


async def test_brief_state_is_the_state_without_its_event_log(driver: CaseDriver) -> None:
    """A caller that reads tasks and status (a bulk action, a form's freshness check, a
    department polling for its parts) gets them without the event log."""
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id = await _first_task(driver, case_no, "education")
    await driver.decide(case_no, task_id, "education")
    full = await driver.desk.state(case_no)
    brief = await driver.desk.state(case_no, events=False)
    assert "decided" in [e.kind for e in full.events]
    assert brief.events == []
    assert brief == full.model_copy(update={"events": []})


async def test_same_request_id_applies_once(driver: CaseDriver) -> None:
    """A client that retries an action after a lost reply does not apply it twice."""
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id = await _first_task(driver, case_no, "education")
    urge = Urge(actor=COORDINATOR, task_id=task_id, reason="请尽快办理", request_id="urge-1")
    first = await driver.desk.act(case_no, urge)
    second = await driver.desk.act(case_no, urge)
    assert first.seq == second.seq
    state = await driver.state(case_no)
    assert state.task(task_id).urge_count == 1


async def test_return_for_supplement_stops_clock_until_window_records_it(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id = await _first_task(driver, case_no, "fire")
    await driver.desk.act(
        case_no,
        Decide(
            actor=reviewer("fire"),
            task_id=task_id,
            verdict=Verdict.RETURN,
            reason="消防材料不全",
            missing_items=["消防平面图", "疏散示意图"],
        ),
    )
    state = await driver.state(case_no)
    task = state.task(task_id)
    assert task.status is TaskStatus.RETURNED
    assert task.clock.stopped and state.promised.stopped
    assert state.suspensions[-1].kind is SuspensionKind.SUPPLEMENT

    with pytest.raises(ActionRejected, match="waits for: 消防平面图, 疏散示意图"):
        await driver.decide(case_no, task_id, "fire")
    with pytest.raises(ActionRejected, match=r"not missing in task .*: 营业执照"):
        await driver.desk.act(
            case_no, RecordSupplement(actor=CLERK, task_id=task_id, items=["营业执照"])
        )

    await driver.desk.act(
        case_no, RecordSupplement(actor=CLERK, task_id=task_id, items=["消防平面图"])
    )
    assert (await driver.state(case_no)).task(task_id).status is TaskStatus.RETURNED
    await driver.desk.act(
        case_no, RecordSupplement(actor=CLERK, task_id=task_id, items=["疏散示意图"])
    )
    state = await driver.state(case_no)
    assert state.task(task_id).status is TaskStatus.OPEN
    assert not state.task(task_id).clock.stopped
    assert state.suspensions[-1].end is not None
    await driver.decide(case_no, task_id, "fire")
    assert (await driver.state(case_no)).task(task_id).status is TaskStatus.APPROVED


async def test_coordinator_actions_are_recorded_with_who_and_why(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id = await _first_task(driver, case_no, "health")
    await driver.desk.act(case_no, Urge(actor=COORDINATOR, task_id=task_id, reason="群众催问"))
    await driver.desk.act(
        case_no,
        Reassign(
            actor=COORDINATOR, task_id=task_id, to_assignee="health-li", reason="原经办人休假"
        ),
    )
    result = await driver.desk.act(
        case_no,
        StartSpecialProcedure(
            actor=reviewer("health"),
            task_id=task_id,
            kind=SuspensionKind.EXPERT_REVIEW,
            reason="需专家评审",
        ),
    )
    state = await driver.state(case_no)
    suspension = state.suspensions[-1]
    assert suspension.kind is SuspensionKind.EXPERT_REVIEW and suspension.end is None
    with pytest.raises(ActionRejected, match="already has a special procedure running"):
        await driver.desk.act(
            case_no,
            StartSpecialProcedure(
                actor=COORDINATOR, task_id=task_id, kind=SuspensionKind.TESTING, reason="x"
            ),
        )
    await driver.desk.act(
        case_no,
        EndSpecialProcedure(actor=COORDINATOR, suspension_id=suspension.id, reason="专家评审完成"),
    )
    await driver.desk.act(
        case_no, Extend(actor=SUPERVISOR, task_id=task_id, days=2, reason="情况复杂")
    )
    with pytest.raises(ActionRejected, match="already extended once"):
        await driver.desk.act(
            case_no, Extend(actor=SUPERVISOR, task_id=task_id, days=1, reason="再延")
        )
    await driver.desk.act(
        case_no,
        DecideOnBehalf(
            actor=SUPERVISOR,
            task_id=task_id,
            department="health",
            verdict=Verdict.APPROVE,
            reason="部门系统故障，代为办理",
        ),
    )

    state = await driver.state(case_no)
    events = {e.kind: e for e in state.events}
    assert result.seq == events["special_started"].seq
    for kind, who, why in [
        ("urged", "coord1", "群众催问"),
        ("reassigned", "coord1", "原经办人休假"),
        ("special_started", "rev-health", "需专家评审"),
        ("special_ended", "coord1", "专家评审完成"),
        ("extended", "super1", "情况复杂"),
        ("decided_on_behalf", "super1", "部门系统故障，代为办理"),
    ]:
        assert events[kind].actor.user_id == who
        assert events[kind].reason == why
    task = state.task(task_id)
    assert task.parts[0].assignee == "health-li" and task.parts[0].on_behalf
    assert task.clock.extension_days == 2


async def test_withdraw_ends_case_and_cancels_open_tasks(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    await driver.wait_for_tasks(case_no)
    await driver.desk.act(case_no, Withdraw(actor=CLERK, reason="申请人书面申请撤回"))
    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.WITHDRAWN
    state = await driver.state(case_no)
    assert {t.status for t in state.tasks} == {TaskStatus.CANCELLED}
    with pytest.raises(ActionRejected):
        await driver.desk.act(case_no, Urge(actor=COORDINATOR, task_id="T1"))


async def test_rejection_ends_case_not_approved(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id = await _first_task(driver, case_no, "education")
    await driver.decide(case_no, task_id, "education", Verdict.REJECT, "办学条件不符合规定")
    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert "办学条件不符合规定" in outcome.reason
    state = await driver.state(case_no)
    assert sum(t.status is TaskStatus.CANCELLED for t in state.tasks) == 3
