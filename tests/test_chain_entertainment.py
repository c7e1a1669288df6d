"""The entertainment chain (我要开娱乐场所（KTV/网吧）) on a real Temporal server: one
case per branch of its flow (KTV or internet café, business licence held, fire-safety
check by inspection or by 告知承诺). Run: ./run.sh test tests/test_chain_entertainment.py
"""

from __future__ import annotations

from domain.case import CaseState, CaseStatus, TaskKind, TaskStatus, Verdict
from domain.materials import MaterialState
from tests.chain_checks import (
    departments_asked,
    flow_tasks,
    limit_of,
    open_departments,
    surveys,
    task_named,
)
from tests.harness import CaseDriver, applicant_holding, approve_until, fresh_applicant

CHAIN = "entertainment"
KTV = {
    "venue_name": "济宁市任城区金嗓子量贩式KTV",
    "address": "济宁市任城区古槐路 18 号",
    "venue_kind": "ktv",
    "floor_area_m2": 450,
    "rooms_or_terminals": 20,
}
INTERNET_CAFE = {
    **KTV,
    "venue_name": "曲阜市极速网咖",
    "venue_kind": "internet_cafe",
    "rooms_or_terminals": 120,
}


def filing_open(state: CaseState) -> bool:
    return any(t.departments == ["public_security"] for t in state.open_tasks)


async def test_ktv_needs_entertainment_and_hygiene_licences_and_a_joint_inspection(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(CHAIN, KTV, applicant=fresh_applicant("person"))

    state = await driver.wait_for_tasks(case_no)
    assert [(t.name, t.departments) for t in state.open_tasks] == [("营业执照登记", ["market"])]
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    assert [lic.type for lic in state.licences] == ["business_licence"]  # 先照后证
    assert open_departments(state) == ["culture_tourism", "fire", "health"]
    assert limit_of(state, "公众聚集场所消防安全检查") == 3
    assert limit_of(state, "公共场所卫生许可审查") == 3
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    (survey,) = state.open_tasks
    assert survey.kind is TaskKind.JOINT_SURVEY and survey.name == "联合现场勘验"
    assert survey.departments == ["culture_tourism", "fire", "health"]

    # the public security filing needs the licences: it opens after they are issued
    state = await approve_until(driver, case_no, filing_open)
    assert task_named(state, "娱乐场所治安备案").status is TaskStatus.OPEN
    assert [lic.type for lic in state.licences] == [
        "business_licence",
        "entertainment_licence",
        "fire_check",
        "hygiene_licence",
    ]

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences][-1] == "public_security_filing"
    hygiene = next(lic for lic in outcome.licences if lic.type == "hygiene_licence")
    assert hygiene.department == "health" and hygiene.valid_to is not None
    final = await driver.state(case_no)
    assert final.promised.limit_days == 10 and final.statutory.limit_days == 20


async def test_internet_cafe_with_fire_commitment_skips_hygiene_and_fire_inspection(
    driver: CaseDriver,
) -> None:
    holder = await applicant_holding(driver, "business_licence")
    materials = [m for m in driver.all_materials(CHAIN) if m != "entity_proof"]
    form = {**INTERNET_CAFE, "existing_business_licence": True, "fire_commitment": True}
    case_no = await driver.start(CHAIN, form, applicant=holder, materials=materials)

    state = await driver.wait_for_tasks(case_no)
    entity = next(m for m in state.materials if m.code == "entity_proof")
    assert entity.state is MaterialState.E_LICENCE
    assert {t.name for t in state.open_tasks} == {
        "网络文化经营许可审查",
        "公众聚集场所消防安全检查（告知承诺）",
    }
    assert limit_of(state, "公众聚集场所消防安全检查（告知承诺）") == 0  # on the day
    assert limit_of(state, "网络文化经营许可审查") == 3

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "internet_culture_licence",
        "fire_check",
        "public_security_filing",
    ]
    final = await driver.state(case_no)
    assert surveys(final) == [["culture_tourism"]]  # fire checks afterwards, health not at all
    assert "health" not in departments_asked(final)
    assert "market" not in departments_asked(final)
    names = [t.name for t in flow_tasks(final)]
    assert names[-1] == "上网服务场所网络安全技术措施备案"
    assert "消防安全检查决定" not in names


async def test_culture_refusing_the_licence_ends_the_case_without_a_filing(
    driver: CaseDriver,
) -> None:
    form = {**KTV, "existing_business_licence": True}
    case_no = await driver.start(CHAIN, form, applicant=fresh_applicant())
    state = await approve_until(driver, case_no, lambda s: s.stage == "并联决定")
    decision = task_named(state, "娱乐经营许可决定")

    await driver.decide(
        case_no,
        decision.id,
        "culture_tourism",
        verdict=Verdict.REJECT,
        reason="场所边界距中小学校不足规定距离",
    )

    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert outcome.licences == []
    final = await driver.state(case_no)
    assert "public_security" not in departments_asked(final)
