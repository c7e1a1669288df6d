"""One window, one form, one set of materials: the window's decision (受理), the
one-time notice, 容缺受理, 告知承诺, e-licences never asked for twice, publication
(七天双公示) and rating (好差评) — on a real dev server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from client.facade import ActionRejected, InvalidApplication
from domain.actions import Decide, Rate, Rectify, SupplyMaterials, Urge
from domain.case import CaseStatus, TaskKind, TaskStatus, Verdict
from domain.materials import Acceptance, Commitment, MaterialState
from domain.timezone import CST, cst_date
from readmodel.database import read_session, ready_engine
from readmodel.queries import credit_records, licences_for_holder, publication
from runtime.settings import get_settings
from tests.harness import (
    CLERK,
    COORDINATOR,
    CaseDriver,
    fresh_applicant,
    reviewer,
    session_lookup_key,
)
from tests.test_chains_more import COMPANY_FORM, RESTAURANT_FORM
from workflows import registry

ALL_RESTAURANT = CaseDriver.all_materials("restaurant")


def without(*codes: str) -> list[str]:
    return [m for m in ALL_RESTAURANT if m not in codes]


def read_model():
    return read_session(ready_engine(get_settings().resolved_database_url))


async def test_missing_key_material_one_notice_no_clock_until_the_last_key_item(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(
        "restaurant",
        RESTAURANT_FORM,
        applicant=fresh_applicant(),
        materials=without("premises_proof", "staff_health"),
    )
    state = await driver.wait_for_tasks(case_no)
    assert state.acceptance is Acceptance.AWAITING_MATERIALS
    assert state.accepted_on is None and state.promised.stopped
    assert [m.code for m in state.notice.items] == ["premises_proof", "staff_health"]
    assert "经营场所使用证明" in state.notice.text and "从业人员健康证明" in state.notice.text
    assert [e.kind for e in state.events].count("missing_notice") == 1
    assert [t.kind for t in state.open_tasks] == [TaskKind.MATERIALS]  # no review started

    with pytest.raises(ActionRejected, match="not missing: fire_plan"):
        await driver.desk.act(case_no, SupplyMaterials(actor=CLERK, items=["fire_plan"]))
    with pytest.raises(ActionRejected, match="may not do this"):
        await driver.desk.act(case_no, SupplyMaterials(actor=COORDINATOR, items=["staff_health"]))

    await driver.desk.act(case_no, SupplyMaterials(actor=CLERK, items=["staff_health"]))
    assert (await driver.state(case_no)).acceptance is Acceptance.AWAITING_MATERIALS
    await driver.desk.act(case_no, SupplyMaterials(actor=CLERK, items=["premises_proof"]))
    state = await driver.wait_for_tasks(case_no)
    assert state.acceptance is Acceptance.ACCEPTED
    assert state.accepted_on == cst_date(datetime.now(UTC))
    assert not state.promised.stopped and state.promised.started_on == state.accepted_on
    assert any(t.kind is TaskKind.REVIEW for t in state.open_tasks)
    assert (
        next(t for t in state.tasks if t.kind is TaskKind.MATERIALS).status is TaskStatus.APPROVED
    )
    with pytest.raises(ActionRejected, match="not missing: premises_proof"):
        await driver.desk.act(case_no, SupplyMaterials(actor=CLERK, items=["premises_proof"]))


async def test_incomplete_case_is_reviewed_but_issued_only_after_the_supplement(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start(
        "restaurant",
        RESTAURANT_FORM,
        applicant=fresh_applicant(),
        materials=without("staff_health"),
    )
    state = await driver.wait_for_tasks(case_no)
    assert state.acceptance is Acceptance.INCOMPLETE
    materials_task = next(t for t in state.tasks if t.kind is TaskKind.MATERIALS)
    assert materials_task.clock.limit_days == 5  # the chain's supplement deadline

    for _ in range(10):
        if not await driver.approve_open(case_no):
            break
    state = await driver.state(case_no)
    assert state.status is CaseStatus.RUNNING and state.stage == "等待补齐材料"
    # Only the licence the missing item is needed for waits (容缺受理, per licence).
    held = set(registry.get_chain("restaurant").material("staff_health").needed_for or ())
    assert held and not held & {lic.type for lic in state.licences}
    assert state.licences  # the others are out already
    assert all(t.status is TaskStatus.APPROVED for t in state.tasks if t.kind is TaskKind.REVIEW)

    await driver.desk.act(
        case_no, SupplyMaterials(actor=CLERK, items=["staff_health"], reason="健康证")
    )
    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.APPROVED and held <= {lic.type for lic in outcome.licences}


async def test_commitment_licence_is_revoked_by_a_failed_verification(driver: CaseDriver) -> None:
    applicant = fresh_applicant()
    case_no = await driver.start(
        "restaurant",
        RESTAURANT_FORM,
        applicant=applicant,
        materials=without("food_safety_rules"),
        commitments=[
            Commitment(
                material="food_safety_rules",
                text="本单位承诺已建立食品安全管理制度",
                signed_by="王老板",
                signed_at=datetime(2026, 11, 20, 9, tzinfo=CST),
            )
        ],
    )
    state = await driver.wait_for_tasks(case_no)
    assert state.acceptance is Acceptance.ACCEPTED
    committed = next(m for m in state.materials if m.code == "food_safety_rules")
    assert committed.state is MaterialState.COMMITTED
    assert state.commitments[0].text == "本单位承诺已建立食品安全管理制度"

    outcome = await driver.run_to_end(case_no)
    assert outcome.status is CaseStatus.APPROVED  # issued without waiting for the proof
    state = await driver.state(case_no)
    verification = next(t for t in state.tasks if t.kind is TaskKind.VERIFICATION)
    assert verification.departments == ["market"] and verification.clock.limit_days == 20

    with pytest.raises(ActionRejected, match="a reason is required"):
        await driver.desk.act(
            case_no,
            Decide(actor=reviewer("market"), task_id=verification.id, verdict=Verdict.REJECT),
        )
    await driver.desk.act(
        case_no,
        Decide(
            actor=reviewer("market"),
            task_id=verification.id,
            verdict=Verdict.REJECT,
            reason="现场核查未建立食品安全管理制度",
        ),
    )
    state = await driver.state(case_no)
    assert state.status is CaseStatus.REVOKED
    assert "现场核查未建立食品安全管理制度" in state.outcome_reason
    assert all(lic.revoked for lic in state.licences)
    await _eventually_revoked(applicant.id_number)

    # The revoked business licence no longer stands in for the material.
    again = await driver.start(
        "restaurant",
        {**RESTAURANT_FORM, "existing_business_licence": True},
        applicant=applicant,
        materials=without("entity_proof"),
    )
    state = await driver.wait_for_tasks(again)
    assert (
        next(m for m in state.materials if m.code == "entity_proof").state is MaterialState.MISSING
    )


async def _eventually_revoked(holder_id: str) -> None:
    import asyncio

    for _ in range(50):
        with read_model() as session:
            licences = licences_for_holder(session, holder_id, lookup_key=session_lookup_key())
            credit = credit_records(session, holder_id, lookup_key=session_lookup_key())
        if licences and all(lic.status == "revoked" for lic in licences) and credit:
            assert credit[0].kind == "false_commitment"
            return
        await asyncio.sleep(0.1)
    raise AssertionError("licences were not revoked in the e-licence store")


async def test_restaurant_never_asks_for_the_business_licence_a_company_case_issued(
    driver: CaseDriver,
) -> None:
    applicant = fresh_applicant(name="济宁市运河五金机电有限公司")
    company = await driver.start("company", COMPANY_FORM, applicant=applicant)
    outcome = await driver.run_to_end(company)
    business_licence = next(lic for lic in outcome.licences if lic.type == "business_licence")

    restaurant = await driver.start(
        "restaurant",
        {**RESTAURANT_FORM, "existing_business_licence": True},
        applicant=applicant,
        materials=without("entity_proof"),
    )
    state = await driver.wait_for_tasks(restaurant)
    entity = next(m for m in state.materials if m.code == "entity_proof")
    assert entity.state is MaterialState.E_LICENCE
    assert business_licence.number in entity.source and company in entity.source
    assert state.acceptance is Acceptance.ACCEPTED and state.notice is None
    assert "material_from_e_licence" in [e.kind for e in state.events]

    stranger = await driver.start(
        "restaurant",
        {**RESTAURANT_FORM, "existing_business_licence": True},
        applicant=fresh_applicant(name="另一家公司"),
        materials=without("entity_proof"),
    )
    state = await driver.wait_for_tasks(stranger)
    assert (
        state.acceptance is Acceptance.AWAITING_MATERIALS
    )  # another holder's licence never counts


async def test_notice_later_than_five_working_days_counts_as_accepted_on_receipt(
    driver: CaseDriver,
) -> None:
    received = datetime(2026, 11, 2, 9, tzinfo=CST)
    case_no = await driver.start(
        "restaurant",
        RESTAURANT_FORM,
        applicant=fresh_applicant(),
        materials=without("premises_proof"),
        received_at=received,
    )
    state = await driver.wait_for_tasks(case_no)
    assert state.acceptance is Acceptance.ACCEPTED
    assert state.accepted_on == received.date()
    assert "accepted_by_law" in [e.kind for e in state.events]
    assert state.notice is not None and [m.code for m in state.notice.items] == ["premises_proof"]


async def test_unknown_materials_and_commitments_are_refused_at_the_window(
    driver: CaseDriver,
) -> None:
    with pytest.raises(InvalidApplication, match="materials not in chain restaurant: passport"):
        await driver.start("restaurant", RESTAURANT_FORM, materials=["passport"])
    with pytest.raises(InvalidApplication, match="accepts commitments only for"):
        await driver.start(
            "restaurant",
            RESTAURANT_FORM,
            materials=without("premises_proof"),
            commitments=[
                Commitment(
                    material="premises_proof",
                    text="承诺",
                    signed_by="王",
                    signed_at=datetime.now(UTC),
                )
            ],
        )


async def test_decision_is_published_and_one_rating_opens_rectification(driver: CaseDriver) -> None:
    case_no = await driver.start(
        "company", COMPANY_FORM, applicant=fresh_applicant(name="测试公司")
    )
    with pytest.raises(ActionRejected, match="not concluded yet"):
        await driver.wait_for_tasks(case_no)
        await driver.desk.act(case_no, Rate(actor=CLERK, score=5))
    outcome = await driver.run_to_end(case_no)

    state = await driver.state(case_no)
    publication_task = next(t for t in state.tasks if t.kind is TaskKind.PUBLICATION)
    assert publication_task.clock.limit_days == 7
    with read_model() as session:
        published = publication(session, case_no)
    assert published is not None and published.decision == "approved"
    assert sorted(published.licence_numbers) == sorted(lic.number for lic in outcome.licences)

    await driver.desk.act(case_no, Rate(actor=CLERK, score=2, comment="窗口等候时间长"))
    with pytest.raises(ActionRejected, match="already rated"):
        await driver.desk.act(case_no, Rate(actor=CLERK, score=5))
    state = await driver.state(case_no)
    rectification = next(t for t in state.tasks if t.kind is TaskKind.RECTIFICATION)
    assert rectification.clock.limit_days == 15 and rectification.is_open
    await driver.desk.act(
        case_no, Urge(actor=COORDINATOR, task_id=rectification.id, reason="尽快整改")
    )
    with pytest.raises(ActionRejected, match="a reason is required"):
        await driver.desk.act(case_no, Rectify(actor=COORDINATOR, task_id=rectification.id))
    await driver.desk.act(
        case_no, Rectify(actor=COORDINATOR, task_id=rectification.id, reason="增设自助取号机")
    )
    state = await driver.state(case_no)
    assert state.rating.score == 2 and state.task(rectification.id).status is TaskStatus.APPROVED


async def test_a_department_cannot_ask_again_for_a_material_already_received(
    driver: CaseDriver,
) -> None:
    case_no = await driver.start("restaurant", RESTAURANT_FORM, applicant=fresh_applicant())
    state = await driver.wait_for_tasks(case_no)
    task = next(t for t in state.open_tasks if t.kind is TaskKind.REVIEW)
    department = task.departments[0]
    with pytest.raises(
        ActionRejected, match=r"经营场所使用证明.* was already received .*never asked for twice"
    ):
        await driver.desk.act(
            case_no,
            Decide(
                actor=reviewer(department),
                task_id=task.id,
                verdict=Verdict.RETURN,
                reason="请补交",
                missing_items=["premises_proof"],
            ),
        )


async def test_an_e_licence_one_chain_issues_replaces_the_paper_in_every_chain_naming_it(
    driver: CaseDriver,
) -> None:
    """For every material some chain lets an e-licence replace, when another chain
    issues that licence: its holder is never asked for the paper. Derived from the
    registry (harness ``applicant_holding``), so a new chain is covered at once."""
    from tests.harness import applicant_holding
    from workflows import registry
    from workflows.form_samples import sample_values

    issued = {lic.code for chain in registry.all_chains() for lic in chain.licences}
    pairs = [
        (chain, material)
        for chain in registry.all_chains()
        for material in chain.materials
        if material.e_licence in issued
    ]
    assert pairs, "no chain names an e-licence another chain issues"
    checked = 0
    for chain, material in pairs[:2]:  # two are enough to prove the helper on a real server
        holder = await applicant_holding(
            driver, material.e_licence, kind="organisation", name="济宁市运河持证有限公司"
        )
        if chain.applicant_kind not in ("either", holder.kind):
            continue
        case_no = await driver.start(
            chain.code,
            sample_values(chain.form),
            applicant=holder,
            materials=[m.code for m in chain.materials if m.code != material.code],
        )
        state = await driver.wait_for_tasks(case_no)
        found = next(m for m in state.materials if m.code == material.code)
        assert found.state is MaterialState.E_LICENCE, (chain.code, material.code)
        checked += 1
    assert checked
