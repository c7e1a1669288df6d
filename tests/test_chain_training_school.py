"""The training_school chain (我要办培训学校) on a real Temporal server: one case per
branch of its flow (each kind of training goes to its own licensing department;
non-profit or for-profit registration after the permit).
Run: ./run.sh test tests/test_chain_training_school.py
"""

from __future__ import annotations

import pytest

from chains.training_school import LICENSING
from domain.case import CaseState, CaseStatus, TaskKind, TaskStatus, Verdict
from tests.chain_checks import (
    departments_asked,
    flow_tasks,
    limit_of,
    open_departments,
    surveys,
    task_named,
)
from tests.harness import CaseDriver, approve_until, fresh_applicant

CHAIN = "training_school"
FORM = {
    "school_name": "济宁市任城区勤学教育培训学校",
    "address": "济宁市任城区古槐路 18 号",
    "floor_area_m2": 500,
    "planned_students": 200,
}


@pytest.mark.parametrize("kind", sorted(LICENSING))
async def test_each_kind_of_training_is_licensed_by_its_department(
    driver: CaseDriver, kind: str
) -> None:
    licensing, permit = LICENSING[kind]
    case_no = await driver.start(
        CHAIN, {**FORM, "training_kind": kind}, applicant=fresh_applicant()
    )

    state = await driver.wait_for_tasks(case_no)
    assert open_departments(state) == sorted([licensing, "fire"])
    assert task_named(state, "办学许可审查").departments == [licensing]
    assert limit_of(state, "办学许可审查") == 5
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    (survey,) = state.open_tasks
    assert survey.kind is TaskKind.JOINT_SURVEY and survey.departments == [licensing, "fire"]

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        permit,
        "fire_safety_opinion",
        "private_non_enterprise",
    ]
    assert outcome.licences[0].department == licensing
    final = await driver.state(case_no)
    other_licensers = {d for d, _ in LICENSING.values()} - {licensing}
    assert departments_asked(final) == {licensing, "fire", "civil_affairs"}
    assert not departments_asked(final) & other_licensers
    assert final.promised.limit_days == 15 and final.statutory.limit_days == 60


async def test_for_profit_school_registers_with_market_after_its_permit_is_issued(
    driver: CaseDriver,
) -> None:
    form = {**FORM, "training_kind": "vocational_skills", "for_profit": True}
    case_no = await driver.start(CHAIN, form, applicant=fresh_applicant("person"))

    def registering(state: CaseState) -> bool:
        return any(t.departments == ["market"] for t in state.open_tasks)

    state = await approve_until(driver, case_no, registering)
    (registration,) = state.open_tasks
    assert registration.name == "营利性民办学校登记（营业执照）"
    assert limit_of(state, registration.name) == 1
    # the permit was issued before registration, which relies on it
    assert [lic.type for lic in state.licences] == ["vocational_school_permit"]

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "vocational_school_permit",
        "fire_safety_opinion",
        "business_licence",
    ]
    final = await driver.state(case_no)
    assert "civil_affairs" not in departments_asked(final)
    assert surveys(final) == [["fire", "hrss"]]


async def test_a_refused_permit_ends_the_case_before_any_registration(driver: CaseDriver) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant())
    state = await driver.wait_for_tasks(case_no)
    review = task_named(state, "办学许可审查")

    await driver.decide(
        case_no, review.id, "education", verdict=Verdict.REJECT, reason="师资不符合设置标准"
    )

    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert outcome.licences == []
    final = await driver.state(case_no)
    assert task_named(final, "消防安全条件核查").status is TaskStatus.CANCELLED
    assert [t.name for t in flow_tasks(final)] == ["办学许可审查", "消防安全条件核查"]
