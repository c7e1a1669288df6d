"""The restaurant, company and construction chains end to end on a real dev server."""

from __future__ import annotations

import asyncio

from domain.actions import EndSpecialProcedure, ReportApplicantEvent, StartSpecialProcedure
from domain.case import (
    CaseOutcome,
    CaseState,
    CaseStatus,
    SuspensionKind,
    Task,
    TaskKind,
    TaskStatus,
    Verdict,
)
from tests.harness import CLERK, COORDINATOR, CaseDriver, approve_until

RESTAURANT_FORM = {
    "shop_name": "老王家常菜",
    "address": "济宁市任城区太白楼路 18 号",
    "floor_area_m2": 120,
    "seats": 40,
    "signboard_text": "老王家常菜",
    "signboard_complex": False,
}
LARGE_RESTAURANT = {**RESTAURANT_FORM, "floor_area_m2": 650, "seats": 220}

COMPANY_FORM = {
    "company_name": "济宁市运河五金机电有限公司",
    "address": "济宁市任城区建设路 66 号",
    "registered_capital_wan": 100,
    "business_scope": "五金产品、机电设备销售",
    "employees": 5,
    "bank": "中国银行济宁分行",
}

CONSTRUCTION_FORM = {
    "project_name": "济宁高新区智能制造产业园一期",
    "project_code": "2026-370871-34-03-000123",
    "address": "济宁高新区崇文大道 1 号",
    "land_area_m2": 66_000,
    "floor_area_m2": 120_000,
    "investment_wan": 50_000,
}


# ---------------------------------------------------------------- helpers
def by_name(state: CaseState, name: str) -> Task:
    return next(t for t in state.tasks if t.name == name)


def flow_tasks(state: CaseState) -> list[Task]:
    """The chain's own steps, without the engine's aftercare (publication etc.)."""
    aftercare = {TaskKind.PUBLICATION, TaskKind.VERIFICATION, TaskKind.RECTIFICATION}
    return [t for t in state.tasks if t.kind not in aftercare]


def departments_of(tasks: list[Task]) -> list[str]:
    return sorted(d for t in tasks for d in t.departments)


async def outcome_of(driver: CaseDriver, case_no: str) -> CaseOutcome:
    return await asyncio.wait_for(driver.desk.outcome(case_no), timeout=30)


# ------------------------------------------------------------- restaurant
async def test_small_restaurant_has_no_fire_check_and_a_same_day_signboard(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start("restaurant", RESTAURANT_FORM)

    state = await driver.wait_for_tasks(case_no)
    assert state.stage == "并联审批"
    assert {t.name for t in state.open_tasks} == {
        "营业执照登记",
        "门头牌匾设置（窗口当场办结）",
        "餐饮油烟排放备案",
    }
    signboard = by_name(state, "门头牌匾设置（窗口当场办结）")
    assert signboard.departments == ["urban"]
    assert signboard.clock is not None and signboard.clock.limit_days == 0
    assert signboard.clock.due_on == state.accepted_on

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    final = await driver.state(case_no)
    assert all("fire" not in t.departments for t in flow_tasks(final))
    assert all(t.kind is TaskKind.REVIEW for t in flow_tasks(final))  # no site survey
    # the food licence waits for the business registration (same market branch)
    registration, food = by_name(final, "营业执照登记"), by_name(final, "食品经营许可审查")
    assert registration.concluded_at is not None and registration.concluded_at <= food.started_at
    assert {t.stage for t in flow_tasks(final)} == {"并联审批"}
    assert {lic.type for lic in outcome.licences} == {
        "business_licence",
        "food_business_licence",
        "signboard_approval",
        "fume_filing",
    }
    assert final.promised.limit_days == 5 and final.statutory.limit_days == 20


async def test_large_restaurant_with_complex_signboard_gets_fire_check_and_survey(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(
        "restaurant",
        {**LARGE_RESTAURANT, "signboard_complex": True, "existing_business_licence": True},
    )

    state = await driver.wait_for_tasks(case_no)
    assert departments_of(state.open_tasks) == ["ecology", "fire", "market", "urban"]
    survey = by_name(state, "门头牌匾现场勘查")
    assert survey.kind is TaskKind.JOINT_SURVEY and survey.departments == ["urban"]
    # an existing business licence is not registered again: food licence first
    assert by_name(state, "食品经营许可审查").status is TaskStatus.OPEN

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    final = await driver.state(case_no)
    names = [t.name for t in flow_tasks(final)]
    assert "营业执照登记" not in names
    assert names.index("门头牌匾现场勘查") < names.index("门头牌匾设置审批")
    assert by_name(final, "公众聚集场所消防安全检查").departments == ["fire"]
    assert {lic.type for lic in outcome.licences} == {
        "food_business_licence",
        "fire_check",
        "signboard_approval",
        "fume_filing",
    }


async def test_restaurant_rejected_by_fire_ends_not_approved_and_cancels_the_rest(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start("restaurant", LARGE_RESTAURANT)
    state = await driver.wait_for_tasks(case_no)
    fire = by_name(state, "公众聚集场所消防安全检查")
    ecology = by_name(state, "餐饮油烟排放备案")
    await driver.decide(case_no, ecology.id, "ecology")

    await driver.decide(
        case_no, fire.id, "fire", verdict=Verdict.REJECT, reason="疏散通道不足，不符合消防要求"
    )

    outcome = await outcome_of(driver, case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert "疏散通道不足" in outcome.reason
    assert outcome.licences == []
    final = await driver.state(case_no)
    status = {t.name: t.status for t in flow_tasks(final)}
    assert status == {
        "营业执照登记": TaskStatus.CANCELLED,
        "门头牌匾设置（窗口当场办结）": TaskStatus.CANCELLED,
        "餐饮油烟排放备案": TaskStatus.APPROVED,
        "公众聚集场所消防安全检查": TaskStatus.REJECTED,
    }
    assert [t for t in final.open_tasks if t.kind is not TaskKind.PUBLICATION] == []
    assert "concluded" in [e.kind for e in final.events]


# ---------------------------------------------------------------- company
async def test_company_issues_business_licence_first_then_runs_four_steps_in_parallel(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start("company", COMPANY_FORM)

    state = await driver.wait_for_tasks(case_no)
    assert [(t.name, t.departments) for t in state.open_tasks] == [("企业设立登记", ["market"])]
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    assert state.stage == "并联办理"
    assert [lic.type for lic in state.licences] == ["business_licence"]
    licence = state.licences[0]
    assert licence.department == "market" and licence.holder_name == "济宁市阳光教育咨询有限公司"
    assert departments_of(state.open_tasks) == ["bank", "hrss", "public_security", "tax"]
    limits = {t.departments[0]: t.clock.limit_days for t in state.open_tasks if t.clock}
    assert limits == {"public_security": 0, "bank": 1, "tax": 0, "hrss": 0}

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences] == [
        "business_licence",
        "seal_record",
        "bank_account",
        "tax_registration",
        "invoices",
        "social_insurance",
    ]
    final = await driver.state(case_no)
    assert [e.kind for e in final.events].count("licences_issued") == 2
    assert final.promised.limit_days == 3


async def test_company_without_invoices_issues_no_invoice_record(driver: CaseDriver) -> None:
    case_no = await driver.start("company", {**COMPANY_FORM, "needs_invoices": False})
    outcome = await driver.run_to_end(case_no)
    assert outcome.status is CaseStatus.APPROVED
    assert "invoices" not in {lic.type for lic in outcome.licences}


# ----------------------------------------------------------- construction
async def test_construction_runs_permits_waits_for_completion_then_joint_acceptance(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start("construction", CONSTRUCTION_FORM)

    state = await driver.wait_for_tasks(case_no)
    assert [(t.name, t.departments) for t in state.open_tasks] == [
        ("建设用地规划许可", ["natural_resources"])
    ]
    await driver.approve_open(case_no)

    state = await driver.wait_for_tasks(case_no)
    assert state.stage == "工程建设许可"
    assert {t.kind for t in state.open_tasks} == {
        TaskKind.REVIEW,
        TaskKind.DRAWING_REVIEW,
        TaskKind.COMBINED_EVALUATION,
    }
    drawings = by_name(state, "多图联审")
    evaluation = by_name(state, "多评合一")
    assert drawings.departments == ["natural_resources", "fire", "civil_defence", "housing"]
    assert drawings.clock is not None and drawings.clock.limit_days == 7
    assert evaluation.departments == ["ecology", "water", "seismic", "traffic"]
    assert evaluation.clock is not None and evaluation.clock.limit_days == 35

    # intermediary time is a special procedure the coordinator starts and ends
    await driver.desk.act(
        case_no,
        StartSpecialProcedure(
            actor=COORDINATOR,
            task_id=evaluation.id,
            kind=SuspensionKind.INTERMEDIARY,
            reason="委托中介机构编制环评、水保、地震、交通评价报告",
        ),
    )
    state = await driver.state(case_no)
    (suspension,) = [s for s in state.suspensions if s.kind is SuspensionKind.INTERMEDIARY]
    assert suspension.task_id == evaluation.id and suspension.end is None
    await driver.desk.act(
        case_no,
        EndSpecialProcedure(
            actor=COORDINATOR, suspension_id=suspension.id, reason="中介报告已提交"
        ),
    )

    def waits_for_completion(s: CaseState) -> bool:
        return any(t.awaits_event == "construction_completed" for t in s.open_tasks)

    state = await approve_until(driver, case_no, waits_for_completion)
    assert by_name(state, "建筑工程施工许可").departments == ["housing"]
    assert [lic.type for lic in state.licences] == [
        "land_use_planning_permit",
        "construction_planning_permit",
        "drawing_review_certificate",
        "construction_permit",
    ]
    (waiting,) = state.open_tasks
    assert waiting.kind is TaskKind.APPLICANT_EVENT and waiting.name == "竣工验收申请"
    assert all(t.kind is not TaskKind.JOINT_ACCEPTANCE for t in state.tasks)
    assert await driver.approve_open(case_no) == []  # nothing for departments to decide
    (applicant_stop,) = [s for s in state.suspensions if s.kind is SuspensionKind.APPLICANT]
    assert applicant_stop.end is None  # the case clock stands still meanwhile

    await driver.desk.act(
        case_no,
        ReportApplicantEvent(
            actor=CLERK, event="construction_completed", reason="申请人提交竣工验收申请"
        ),
    )

    state = await driver.wait_for_tasks(case_no)
    (acceptance,) = state.open_tasks
    assert acceptance.kind is TaskKind.JOINT_ACCEPTANCE
    assert acceptance.departments == [
        "natural_resources",
        "fire",
        "civil_defence",
        "quality",
        "archives",
    ]
    applicant_wait, acceptance_stop = state.suspensions[-2:]
    assert applicant_wait.kind is SuspensionKind.APPLICANT and applicant_wait.end is not None
    # The acceptance runs outside the promised limit: the case clock stands still,
    # the acceptance's own 5-day limit runs.
    assert acceptance_stop.kind is SuspensionKind.OUTSIDE_LIMIT and acceptance_stop.end is None
    assert state.promised.stopped and not acceptance.clock.stopped

    outcome = await driver.run_to_end(case_no)

    assert outcome.status is CaseStatus.APPROVED
    assert [lic.type for lic in outcome.licences][-1] == "completion_acceptance"
    assert len(outcome.licences) == 5
    assert len({lic.number for lic in outcome.licences}) == 5
    final = await driver.state(case_no)
    assert [e.kind for e in final.events].count("licences_issued") == 2
    assert all(t.status is TaskStatus.APPROVED for t in flow_tasks(final))


async def test_construction_drawing_review_rejection_cancels_the_parallel_stage(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start("construction", CONSTRUCTION_FORM)
    state = await approve_until(driver, case_no, lambda s: s.stage == "工程建设许可")
    drawings = by_name(state, "多图联审")

    # a joint task concludes once every department has given its opinion
    await driver.decide(
        case_no,
        drawings.id,
        "civil_defence",
        verdict=Verdict.REJECT,
        reason="未按规定配建防空地下室",
    )
    for department in ("natural_resources", "fire", "housing"):
        await driver.decide(case_no, drawings.id, department)

    outcome = await outcome_of(driver, case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert "未按规定配建防空地下室" in outcome.reason
    assert outcome.licences == []
    final = await driver.state(case_no)
    assert by_name(final, "多图联审").status is TaskStatus.REJECTED
    assert by_name(final, "多评合一").status is TaskStatus.CANCELLED
    assert by_name(final, "建设工程规划许可").status is TaskStatus.CANCELLED
    assert "建筑工程施工许可" not in {t.name for t in flow_tasks(final)}
