"""The pharmacy chain (我要开药店) on a real Temporal server: one case per branch of its
flow (registration or a business licence held, medical devices or not), the form's rule
across fields at the desk, and a rejection in the site inspection.
Run: ./run.sh test tests/test_chain_pharmacy.py
"""

from __future__ import annotations

import pytest

from client.facade import InvalidApplication
from domain.case import CaseStatus, TaskKind, TaskStatus, Verdict
from domain.materials import MaterialState
from tests.chain_checks import departments_asked, limit_of, open_departments, surveys, task_named
from tests.harness import CaseDriver, applicant_holding, fresh_applicant

CHAIN = "pharmacy"
FORM = {
    "shop_name": "济宁市任城区仁心大药房",
    "address": "济宁市任城区古槐路 18 号",
    "floor_area_m2": 80,
    "licensed_pharmacists": 1,
}


async def test_new_pharmacy_is_registered_then_licensed_after_the_site_inspection(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant())

    state = await driver.wait_for_tasks(case_no)
    assert [(t.name, t.departments) for t in state.open_tasks] == [("营业执照登记", ["market"])]
    await driver.approve_open(case_no)

    # the business licence is issued at once: the drug licence relies on it
    state = await driver.wait_for_tasks(case_no)
    assert [lic.type for lic in state.licences] == ["business_licence"]
    assert state.stage == "并联审查"
    assert open_departments(state) == ["market", "urban"]
    assert limit_of(state, "药品经营许可审查") == 3
    assert limit_of(state, "门头牌匾设置（窗口当场办结）") == 0
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    (inspection,) = state.open_tasks
    assert inspection.kind is TaskKind.JOINT_SURVEY and inspection.departments == ["market"]

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "business_licence",
        "drug_business_licence",
        "signboard_approval",
    ]
    drug = next(lic for lic in outcome.licences if lic.type == "drug_business_licence")
    assert drug.department == "market" and drug.valid_to is not None  # 5 years
    final = await driver.state(case_no)
    assert surveys(final) == [["market"]]
    assert departments_asked(final) == {"market", "urban"}
    assert "第二类医疗器械经营备案" not in {t.name for t in final.tasks}
    assert final.promised.limit_days == 10 and final.statutory.limit_days == 20


async def test_selling_devices_adds_the_filing_which_is_issued_before_the_inspection(
    driver: CaseDriver,
) -> None:
    holder = await applicant_holding(driver, "business_licence")
    materials = [m for m in driver.all_materials(CHAIN) if m != "entity_proof"]
    form = {**FORM, "sells_medical_devices": True, "existing_business_licence": True}
    case_no = await driver.start(CHAIN, form, applicant=holder, materials=materials)

    state = await driver.wait_for_tasks(case_no)
    entity = next(m for m in state.materials if m.code == "entity_proof")
    assert entity.state is MaterialState.E_LICENCE
    assert state.stage == "并联审查"
    assert sorted(t.name for t in state.open_tasks) == sorted(
        ["药品经营许可审查", "门头牌匾设置（窗口当场办结）", "第二类医疗器械经营备案"]
    )
    assert limit_of(state, "第二类医疗器械经营备案") == 0  # 当场备案
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    assert [t.name for t in state.open_tasks] == ["药品经营现场检查"]
    assert [lic.type for lic in state.licences] == ["device_business_filing"]

    outcome = await driver.run_to_end(case_no)
    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "device_business_filing",
        "drug_business_licence",
        "signboard_approval",
    ]


async def test_prescription_drugs_without_a_pharmacist_are_refused_at_the_desk(
    driver: CaseDriver,
) -> None:
    no_pharmacist = {**FORM, "licensed_pharmacists": 0}
    with pytest.raises(InvalidApplication, match="执业药师"):
        await driver.start(CHAIN, no_pharmacist, applicant=fresh_applicant())

    # without prescription drugs the same staff is enough
    case_no = await driver.start(
        CHAIN, {**no_pharmacist, "sells_prescription_drugs": False}, applicant=fresh_applicant()
    )
    state = await driver.wait_for_tasks(case_no)
    assert state.acceptance == "accepted"


async def test_market_rejecting_in_the_inspection_ends_the_case_without_a_drug_licence(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant())
    for _ in range(2):  # registration, then the parallel reviews
        await driver.wait_for_tasks(case_no)
        await driver.approve_open(case_no)
    state = await driver.wait_for_tasks(case_no)
    inspection = task_named(state, "药品经营现场检查")

    await driver.decide(
        case_no, inspection.id, "market", verdict=Verdict.REJECT, reason="阴凉区温湿度不达标"
    )

    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert "温湿度" in outcome.reason
    assert [lic.type for lic in outcome.licences] == ["business_licence"]
    final = await driver.state(case_no)
    assert task_named(final, "药品经营现场检查").status is TaskStatus.REJECTED
    assert "药品经营许可决定" not in {t.name for t in final.tasks}
