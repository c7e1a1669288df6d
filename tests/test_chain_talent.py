"""The talent chain (人才引进, a person's chain) on a real Temporal server: one case per
branch of its flow (household settlement, social-insurance transfer, housing subsidy),
the form's rule across fields at the desk, and public security refusing settlement.
Run: ./run.sh test tests/test_chain_talent.py
"""

from __future__ import annotations

import pytest

from client.facade import InvalidApplication
from domain.case import CaseStatus, TaskStatus, Verdict
from tests.chain_checks import departments_asked, flow_tasks, limit_of, open_departments, task_named
from tests.harness import CaseDriver, fresh_applicant

CHAIN = "talent"
FORM = {"employer_name": "济宁高新区智能制造有限公司", "talent_kind": "doctorate", "age": 31}


async def test_talent_is_recognised_first_then_settles_and_is_insured_in_parallel(
    driver: CaseDriver,
) -> None:
    form = {**FORM, "family_members": 2}
    case_no = await driver.start(CHAIN, form, applicant=fresh_applicant("person"))

    state = await driver.wait_for_tasks(case_no)
    assert state.applicant.kind == "person"
    assert [(t.name, t.departments) for t in state.open_tasks] == [("人才认定审核", ["talent"])]
    assert limit_of(state, "人才认定审核") == 5
    await driver.approve_open(case_no)

    # the recognition is issued at once: the household and insurance steps rely on it
    state = await driver.wait_for_tasks(case_no)
    assert [lic.type for lic in state.licences] == ["talent_certificate"]
    assert state.stage == "并联办理"
    assert open_departments(state) == ["hrss", "public_security"]
    assert limit_of(state, "个人社会保险参保登记") == 0  # 即办

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "talent_certificate",
        "household_move_permit",
        "personal_insurance_record",
    ]
    final = await driver.state(case_no)
    assert departments_asked(final) == {"talent", "public_security", "hrss"}
    assert final.promised.limit_days == 10 and final.statutory.limit_days == 20


async def test_insurance_moving_in_and_a_housing_subsidy_without_settling(
    driver: CaseDriver,
) -> None:
    form = {
        **FORM,
        "settle_household": False,
        "social_security_transfer": True,
        "housing_subsidy": True,
    }
    case_no = await driver.start(CHAIN, form, applicant=fresh_applicant("person"))
    await driver.wait_for_tasks(case_no)
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    assert open_departments(state) == ["hrss", "talent"]
    assert limit_of(state, "社会保险关系转移接续") == 5
    assert limit_of(state, "人才住房补贴审核") == 5

    outcome = await driver.run_to_end(case_no)
    assert outcome.status is CaseStatus.APPROVED
    assert {lic.type for lic in outcome.licences} == {
        "talent_certificate",
        "personal_insurance_record",
        "housing_subsidy_decision",
    }
    final = await driver.state(case_no)
    assert "public_security" not in departments_asked(final)
    assert "个人社会保险参保登记" not in {t.name for t in flow_tasks(final)}


async def test_family_members_without_settling_are_refused_at_the_desk(
    driver: CaseDriver,
) -> None:
    form = {**FORM, "settle_household": False, "family_members": 1}
    with pytest.raises(InvalidApplication, match="随迁家属"):
        await driver.start(CHAIN, form, applicant=fresh_applicant("person"))


async def test_public_security_refusing_settlement_ends_the_case_keeping_the_recognition(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant("person"))
    await driver.wait_for_tasks(case_no)
    await driver.approve_open(case_no)
    state = await driver.wait_for_tasks(case_no)
    settle = task_named(state, "人才落户审批")

    await driver.decide(
        case_no,
        settle.id,
        "public_security",
        verdict=Verdict.REJECT,
        reason="拟落户地址不符合集体户落户条件",
    )

    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert [lic.type for lic in outcome.licences] == ["talent_certificate"]
    final = await driver.state(case_no)
    assert task_named(final, "人才落户审批").status is TaskStatus.REJECTED
