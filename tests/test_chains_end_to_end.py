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
    assert final.events[-1].kind == "concluded"


async def test_kindergarten_without_canteen_skips_market(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", {**KINDERGARTEN_FORM, "has_canteen": False})
    outcome = await driver.run_to_end(case_no)
    final = await driver.state(case_no)
    assert outcome.status is CaseStatus.APPROVED
    assert all("market" not in t.departments for t in final.tasks)
    assert "food_business_licence" not in {lic.type for lic in outcome.licences}
