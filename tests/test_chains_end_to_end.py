"""Each chain from start to concluded on a real dev server."""

from __future__ import annotations

from domain.case import CaseStatus, TaskStatus
from tests.harness import CaseDriver

KINDERGARTEN_FORM = {
    "school_name": "阳光幼儿园",
    "address": "济宁市任城区古槐路 1 号",
    "floor_area_m2": 1800,
    "planned_classes": 9,
    "planned_children": 270,
    "has_canteen": True,
}


async def test_kindergarten_runs_parallel_survey_decisions_registration_and_issues(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)

    state = await driver.wait_for_tasks(case_no)
    assert state.stage == "并联初审"
    assert sorted(t.departments[0] for t in state.open_tasks) == [
        "education",
        "fire",
        "health",
        "market",
    ]

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert {lic.type for lic in outcome.licences} == {
        "school_permit",
        "fire_check",
        "health_evaluation",
        "food_business_licence",
        "private_non_enterprise",
    }
    final = await driver.state(case_no)
    survey = next(t for t in final.tasks if t.kind.value == "joint_survey")
    assert survey.departments == ["education", "fire", "health", "market"]
    assert all(t.status is TaskStatus.APPROVED for t in final.tasks)
    kinds = [e.kind for e in final.events]
    assert kinds.index("licences_issued") < kinds.index("concluded") < kinds.index("published")
    publication = next(t for t in final.tasks if t.kind.value == "publication")
    assert sorted(publication.departments) == [
        "civil_affairs",
        "education",
        "fire",
        "health",
        "market",
    ]


async def test_kindergarten_without_canteen_skips_market(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", {**KINDERGARTEN_FORM, "has_canteen": False})
    outcome = await driver.run_to_end(case_no)
    final = await driver.state(case_no)
    assert outcome.status is CaseStatus.APPROVED
    assert all("market" not in t.departments for t in final.tasks)
    assert "food_business_licence" not in {lic.type for lic in outcome.licences}


async def test_read_model_mirrors_the_case_and_its_audit_log(driver: CaseDriver) -> None:
    from readmodel.database import read_session, ready_engine
    from readmodel.queries import case_events, case_tasks, get_case
    from runtime.settings import get_settings

    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    await driver.run_to_end(case_no)

    with read_session(ready_engine(get_settings().resolved_database_url)) as session:
        row = get_case(session, case_no)
        events = case_events(session, case_no)
        tasks = case_tasks(session, case_no)
    state = await driver.state(case_no)  # read after: it may be a little ahead
    assert row is not None and row.status == "approved" and row.stage == "办结"
    assert row.applicant_id_masked == state.applicant.id_masked
    assert "MA3C4XYB" not in row.applicant_id_masked  # personal data is masked
    assert "concluded" in [e.kind for e in events]
    assert [(e.seq, e.kind, e.actor_id, e.reason) for e in events] == [
        (e.seq, e.kind, e.actor.user_id, e.reason) for e in state.events[: len(events)]
    ]
    tasks = [t for t in tasks if t.kind != "publication"]
    state.tasks = [t for t in state.tasks if t.kind.value != "publication"]
    assert {t.task_id: t.status for t in tasks} == {t.id: t.status.value for t in state.tasks}


async def test_search_attributes_list_cases_without_personal_data(driver: CaseDriver) -> None:
    import asyncio

    from tests.harness import DEFAULT_APPLICANT

    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    await driver.wait_for_tasks(case_no)
    query = (
        f"WorkflowId = 'case-{case_no}' AND OcChain = 'kindergarten' AND OcStatus = 'running' "
        "AND OcStage = '并联初审' AND OcOpenDepartments = 'fire' AND OcWarning = 'none'"
    )
    for _ in range(50):
        found = [w.id async for w in driver.client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [f"case-{case_no}"]

    description = await driver.desk.handle(case_no).describe()
    values = " ".join(str(pair.value) for pair in description.typed_search_attributes)
    for secret in (DEFAULT_APPLICANT.id_number, DEFAULT_APPLICANT.phone, DEFAULT_APPLICANT.name):
        assert secret not in values


async def test_licences_are_stored_inside_the_approving_workflow_task(driver: CaseDriver) -> None:
    """Storing the e-licences is one write to our own database: a local activity in
    the workflow task that approved the case, with no activity task and no second
    workflow task for its result. The publication goes to another office's system and
    stays an activity."""
    from sqlmodel import select

    from readmodel.database import read_session, ready_engine
    from readmodel.tables import LicenceStoreRecord
    from runtime.settings import get_settings
    from tests.test_deadlines_timers import local_activity_types

    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    outcome = await driver.run_to_end(case_no)

    history = await driver.desk.handle(case_no).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "issue_licences" not in scheduled
    assert "publish_decision" in scheduled
    assert (await local_activity_types(driver.desk, history)).count("issue_licences") == 1
    with read_session(ready_engine(get_settings().resolved_database_url)) as session:
        stored = session.exec(
            select(LicenceStoreRecord).where(LicenceStoreRecord.case_no == case_no)
        ).all()
    assert sorted(r.number for r in stored) == sorted(lic.number for lic in outcome.licences)
    from tests.test_versioning import replay

    await replay(history)
