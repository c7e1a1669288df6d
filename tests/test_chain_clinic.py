"""The clinic chain (我要开诊所) on a real Temporal server: one case per branch of
its flow (for-profit or not, business licence held or not, X-ray equipment or not).
Run: ./run.sh test tests/test_chain_clinic.py
"""

from __future__ import annotations

from domain.case import CaseStatus, TaskStatus, Verdict
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

CHAIN = "clinic"
FORM = {
    "clinic_name": "济宁任城仁和诊所",
    "address": "济宁市任城区古槐路 18 号",
    "floor_area_m2": 120,
    "doctors": 2,
}


async def test_for_profit_clinic_is_registered_first_then_filed_without_radiation_steps(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant("person"))

    state = await driver.wait_for_tasks(case_no)
    assert [(t.name, t.departments) for t in state.open_tasks] == [("营业执照登记", ["market"])]
    assert limit_of(state, "营业执照登记") == 1
    await driver.approve_open(case_no)

    # the business licence is issued before the filing, which relies on it
    state = await driver.wait_for_tasks(case_no)
    assert [lic.type for lic in state.licences] == ["business_licence"]
    assert state.stage == "并联审查"
    assert open_departments(state) == ["ecology", "fire", "health"]
    assert limit_of(state, "诊所备案") == 1
    assert limit_of(state, "消防安全条件核查") == 2

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "business_licence",
        "clinic_filing",
        "pollutant_registration",
    ]
    final = await driver.state(case_no)
    assert departments_asked(final) == {"market", "health", "ecology", "fire"}
    assert surveys(final) == []
    assert final.promised.limit_days == 10 and final.statutory.limit_days == 20


async def test_xray_clinic_holding_a_business_licence_gets_a_joint_radiation_survey(
    driver: CaseDriver,
) -> None:
    holder = await applicant_holding(driver, "business_licence")
    materials = [m for m in driver.all_materials(CHAIN) if m != "entity_proof"]
    form = {
        **FORM,
        "clinic_kind": "dental",
        "existing_business_licence": True,
        "uses_xray": True,
    }
    case_no = await driver.start(CHAIN, form, applicant=holder, materials=materials)

    state = await driver.wait_for_tasks(case_no)
    entity = next(m for m in state.materials if m.code == "entity_proof")
    assert entity.state is MaterialState.E_LICENCE  # not asked for twice
    assert state.acceptance == "accepted"
    assert "营业执照登记" not in {t.name for t in state.tasks}
    assert {t.name for t in state.open_tasks} == {
        "诊所备案",
        "医疗废物处置及排污登记",
        "消防安全条件核查",
        "放射诊疗许可审查",
        "辐射安全许可审查",
    }
    assert limit_of(state, "辐射安全许可审查") == 3
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    (survey,) = state.open_tasks
    assert survey.name == "放射防护联合现场核查"
    assert sorted(survey.departments) == ["ecology", "health"]
    assert limit_of(state, "放射防护联合现场核查") == 3

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert {lic.type for lic in outcome.licences} == {
        "clinic_filing",
        "pollutant_registration",
        "radiodiagnosis_licence",
        "radiation_safety_licence",
    }
    radiation = next(lic for lic in outcome.licences if lic.type == "radiation_safety_licence")
    assert radiation.department == "ecology" and radiation.valid_to is not None
    final = await driver.state(case_no)
    names = [t.name for t in flow_tasks(final)]
    assert names.index("放射防护联合现场核查") < names.index("辐射安全许可决定")
    assert "civil_affairs" not in departments_asked(final)


async def test_non_profit_tcm_clinic_registers_with_civil_affairs_after_the_filing(
    driver: CaseDriver,
) -> None:
    form = {**FORM, "clinic_kind": "tcm", "for_profit": False}
    case_no = await driver.start(CHAIN, form, applicant=fresh_applicant())

    state = await driver.wait_for_tasks(case_no)
    assert "中医诊所备案" in {t.name for t in state.open_tasks}
    assert "market" not in open_departments(state)

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "clinic_filing",
        "pollutant_registration",
        "private_non_enterprise",
    ]
    final = await driver.state(case_no)
    assert [t.name for t in flow_tasks(final)][-1] == "民办非企业单位登记"
    assert "market" not in departments_asked(final)


async def test_ecology_refusing_the_waste_arrangements_ends_the_case(driver: CaseDriver) -> None:
    form = {**FORM, "existing_business_licence": True}
    case_no = await driver.start(CHAIN, form, applicant=fresh_applicant())
    state = await driver.wait_for_tasks(case_no)
    waste = task_named(state, "医疗废物处置及排污登记")

    await driver.decide(
        case_no, waste.id, "ecology", verdict=Verdict.REJECT, reason="未签订医疗废物集中处置协议"
    )

    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert "医疗废物" in outcome.reason
    assert outcome.licences == []
    final = await driver.state(case_no)
    assert task_named(final, "诊所备案").status is TaskStatus.CANCELLED
