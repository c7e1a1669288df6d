"""The swimming_venue chain (我要开游泳馆) on a real Temporal server: one case per
branch of its flow (indoor or outdoor, business licence held or not).
Run: ./run.sh test tests/test_chain_swimming_venue.py
"""

from __future__ import annotations

from domain.case import CaseStatus, TaskKind, TaskStatus, Verdict
from domain.materials import MaterialState
from tests.chain_checks import departments_asked, limit_of, open_departments, surveys, task_named
from tests.harness import CaseDriver, applicant_holding, approve_until, fresh_applicant

CHAIN = "swimming_venue"
FORM = {
    "venue_name": "济宁市任城区浪花游泳馆",
    "address": "济宁市任城区古槐路 18 号",
    "water_area_m2": 500,
    "lifeguards": 4,
}
SURVEY = "联合踏勘（实地核查、水质检测）"


async def test_indoor_hall_is_registered_then_reviewed_by_sports_health_and_fire(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant("person"))

    state = await driver.wait_for_tasks(case_no)
    assert [(t.name, t.departments) for t in state.open_tasks] == [("营业执照登记", ["market"])]
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    assert [lic.type for lic in state.licences] == ["business_licence"]
    assert open_departments(state) == ["fire", "health", "sports"]
    assert limit_of(state, "高危险性体育项目经营许可审查") == 3
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    (survey,) = state.open_tasks
    assert survey.kind is TaskKind.JOINT_SURVEY and survey.name == SURVEY
    assert survey.departments == ["sports", "health", "fire"]
    assert limit_of(state, SURVEY) == 3
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    assert limit_of(state, "高危险性体育项目经营许可决定") == 2

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "business_licence",
        "high_risk_sports_licence",
        "hygiene_licence",
        "fire_check",
    ]
    sports = next(lic for lic in outcome.licences if lic.type == "high_risk_sports_licence")
    assert sports.department == "sports"
    final = await driver.state(case_no)
    assert final.promised.limit_days == 10 and final.statutory.limit_days == 30


async def test_outdoor_pool_of_a_licence_holder_has_no_fire_check_and_no_registration(
    driver: CaseDriver,
) -> None:
    holder = await applicant_holding(driver, "business_licence")
    materials = [m for m in driver.all_materials(CHAIN) if m != "entity_proof"]
    form = {**FORM, "indoor": False, "existing_business_licence": True}
    case_no = await driver.start(CHAIN, form, applicant=holder, materials=materials)

    state = await driver.wait_for_tasks(case_no)
    entity = next(m for m in state.materials if m.code == "entity_proof")
    assert entity.state is MaterialState.E_LICENCE
    assert open_departments(state) == ["health", "sports"]

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == ["high_risk_sports_licence", "hygiene_licence"]
    final = await driver.state(case_no)
    assert departments_asked(final) == {"sports", "health"}
    assert surveys(final) == [["health", "sports"]]


async def test_health_refusing_after_the_survey_ends_the_case(driver: CaseDriver) -> None:
    form = {**FORM, "existing_business_licence": True}
    case_no = await driver.start(CHAIN, form, applicant=fresh_applicant())
    state = await approve_until(driver, case_no, lambda s: s.stage == "并联决定")
    decision = task_named(state, "公共场所卫生许可决定")

    await driver.decide(
        case_no, decision.id, "health", verdict=Verdict.REJECT, reason="池水循环净化设施不达标"
    )

    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert "循环净化" in outcome.reason
    assert outcome.licences == []
    final = await driver.state(case_no)
    assert task_named(final, "高危险性体育项目经营许可决定").status is TaskStatus.CANCELLED
