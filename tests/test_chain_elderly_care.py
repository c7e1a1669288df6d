"""The elderly_care chain (我要开养老机构) on a real Temporal server: one case per
branch of its flow (non-profit or for-profit registration, business licence held,
embedded medical room, canteen). Run: ./run.sh test tests/test_chain_elderly_care.py
"""

from __future__ import annotations

from domain.case import CaseStatus, TaskKind, TaskStatus, Verdict
from domain.materials import MaterialState
from tests.chain_checks import (
    departments_asked,
    flow_tasks,
    limit_of,
    open_departments,
    surveys,
    task_named,
)
from tests.harness import CaseDriver, applicant_holding, fresh_applicant

CHAIN = "elderly_care"
FORM = {
    "institution_name": "济宁市任城区福寿康养老院",
    "address": "济宁市任城区古槐路 18 号",
    "floor_area_m2": 1200,
    "beds": 60,
    "has_canteen": False,
}


async def test_non_profit_home_registers_with_civil_affairs_then_files_with_fire_only(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant())

    state = await driver.wait_for_tasks(case_no)
    assert [(t.name, t.departments) for t in state.open_tasks] == [
        ("民办非企业单位登记", ["civil_affairs"])
    ]
    assert limit_of(state, "民办非企业单位登记") == 3
    await driver.approve_open(case_no)

    # the registration certificate is issued before the filing, which relies on it
    state = await driver.wait_for_tasks(case_no)
    assert [lic.type for lic in state.licences] == ["private_non_enterprise"]
    assert state.stage == "并联审查"
    assert open_departments(state) == ["civil_affairs", "fire"]

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "private_non_enterprise",
        "elderly_care_filing",
        "fire_safety_opinion",
    ]
    final = await driver.state(case_no)
    assert surveys(final) == [["civil_affairs", "fire"]]
    assert departments_asked(final) == {"civil_affairs", "fire"}
    assert final.promised.limit_days == 10 and final.statutory.limit_days == 20


async def test_for_profit_home_with_medical_room_and_canteen_asks_health_and_market(
    driver: CaseDriver,
) -> None:
    form = {**FORM, "for_profit": True, "has_medical_room": True, "has_canteen": True}
    case_no = await driver.start(CHAIN, form, applicant=fresh_applicant())

    state = await driver.wait_for_tasks(case_no)
    assert [(t.name, t.departments) for t in state.open_tasks] == [("营业执照登记", ["market"])]
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    assert [lic.type for lic in state.licences] == ["business_licence"]
    assert open_departments(state) == ["civil_affairs", "fire", "health", "market"]
    assert limit_of(state, "食品经营许可审查（单位食堂）") == 3
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    (survey,) = state.open_tasks
    assert survey.kind is TaskKind.JOINT_SURVEY
    assert survey.departments == ["civil_affairs", "fire", "health", "market"]

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert {lic.type for lic in outcome.licences} == {
        "business_licence",
        "elderly_care_filing",
        "fire_safety_opinion",
        "medical_room_filing",
        "food_business_licence",
    }
    food = next(lic for lic in outcome.licences if lic.type == "food_business_licence")
    assert food.department == "market" and food.valid_to is not None
    final = await driver.state(case_no)
    assert "civil_affairs" in departments_asked(final)
    assert "民办非企业单位登记" not in {t.name for t in flow_tasks(final)}


async def test_for_profit_home_holding_a_business_licence_is_not_registered_again(
    driver: CaseDriver,
) -> None:
    holder = await applicant_holding(driver, "business_licence")
    materials = [m for m in driver.all_materials(CHAIN) if m != "entity_proof"]
    form = {**FORM, "for_profit": True, "existing_business_licence": True}
    case_no = await driver.start(CHAIN, form, applicant=holder, materials=materials)

    state = await driver.wait_for_tasks(case_no)
    entity = next(m for m in state.materials if m.code == "entity_proof")
    assert entity.state is MaterialState.E_LICENCE
    assert state.stage == "并联审查"
    assert open_departments(state) == ["civil_affairs", "fire"]

    outcome = await driver.run_to_end(case_no)
    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == ["elderly_care_filing", "fire_safety_opinion"]


async def test_fire_rejecting_in_the_survey_ends_the_case(driver: CaseDriver) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant())
    state = await driver.wait_for_tasks(case_no)
    for _ in range(2):  # registration, then the parallel reviews
        await driver.approve_open(case_no)
        state = await driver.wait_for_tasks(case_no)
    survey = task_named(state, "联合踏勘")
    await driver.decide(case_no, survey.id, "civil_affairs")

    await driver.decide(
        case_no,
        survey.id,
        "fire",
        verdict=Verdict.REJECT,
        reason="老年人居室未设置自动喷水灭火系统",
    )

    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert "自动喷水灭火系统" in outcome.reason
    assert [lic.type for lic in outcome.licences] == ["private_non_enterprise"]
    final = await driver.state(case_no)
    assert task_named(final, "联合踏勘").status is TaskStatus.REJECTED
    assert "养老机构备案" not in {t.name for t in flow_tasks(final)}
