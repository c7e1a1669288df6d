"""Materials the form decides (``required_if``) and 容缺受理 per licence (``needed_for``):
the Chinese condition, ``chains check``, the import and, on a real dev server, a case
that is not asked for what its form does not need, and an early issue that no longer
holds the flow while a missing item holds back only its own licence.

The chains here are built in the test (``tests.extra_chain.registered``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from client.facade import CaseRequest
from domain.actions import SupplyMaterials
from domain.case import CaseStatus, TaskKind
from domain.departments import DEPARTMENTS
from domain.materials import Acceptance, MaterialState
from domain.roles import Actor, Role
from importing.columns import resolve_headers
from importing.readers import read_file
from importing.validate import check_sheet
from tests.extra_chain import registered
from tests.harness import CLERK, CaseDriver, fresh_applicant
from workflows.admission import pinned_limits
from workflows.chain import Chain, LicenceType, Material
from workflows.flow_analysis import check_chain
from workflows.flow_conditions import condition_zh
from workflows.material_conditions import AnyOf, FormIs
from workflows.steps import CaseContext

# Two departments of the office, whichever they are (not today's list by name).
FIRST, SECOND = [code for code in DEPARTMENTS if code != "window"][:2]
THRESHOLD = 300


class HallForm(BaseModel):
    hall_name: str = Field(min_length=2, description="场馆名称", examples=["运河会堂"])
    floor_area_m2: float = Field(gt=0, description="营业面积（平方米）", examples=[120, 450])
    seats: int = Field(ge=0, description="座位数", examples=[20, 40])
    indoor: bool = Field(default=True, description="室内场馆")


def hall_chain(code: str, *, wait: bool = False) -> Chain:
    """Registration issued first, then a further review: the early-issue pattern.
    ``wait``: the further review needs the permit (``case.issue(..., wait=True)``)."""
    chain = Chain(
        code=code,
        name_zh="我要开测试会堂",
        name_en="Open a test hall",
        form=HallForm,
        departments=(FIRST, SECOND),
        materials=(
            Material("application", "申请表"),
            Material("staff_health", "从业人员健康证明", key=False, needed_for=("hall_permit",)),
            Material(
                "fire_plan",
                "消防预案",
                key=False,
                required_if=AnyOf(
                    FormIs("floor_area_m2", ">", THRESHOLD), FormIs("seats", ">", 100)
                ),
                needed_for=("fire_ok",),
            ),
        ),
        licences=(
            LicenceType("registration", "登记证", FIRST),
            LicenceType("hall_permit", "会堂许可证", FIRST),
            LicenceType("fire_ok", "消防合格证", SECOND),
        ),
        promised_days=10,
        statutory_days=20,
        allow_incomplete=True,
        supplement_days=5,
    )

    @chain.flow(version=1)
    async def flow(case: CaseContext[HallForm]) -> None:
        await case.review(FIRST, "登记", days=1)
        await case.issue("registration", "hall_permit", wait=wait)
        await case.review(SECOND, "消防检查", days=1)
        await case.issue("fire_ok")

    return chain


SMALL = {"hall_name": "运河会堂", "floor_area_m2": 120, "seats": 20}
LARGE = {**SMALL, "floor_area_m2": 450}


# ------------------------------------------------------------------- no server
def test_conditions_read_in_the_forms_chinese_labels() -> None:
    area = FormIs("floor_area_m2", ">", THRESHOLD)
    assert condition_zh(HallForm, area) == "营业面积 > 300 平方米"
    both = AnyOf(area, FormIs("seats", ">=", 100))
    assert condition_zh(HallForm, both) == "营业面积 > 300 平方米 或 座位数 ≥ 100"
    assert condition_zh(HallForm, "indoor") == "室内场馆：是"
    assert condition_zh(HallForm, FormIs("indoor", "==", False)) == "室内场馆：否"


def test_pinned_specs_say_whether_the_form_asks_for_it() -> None:
    chain = hall_chain("zz_hall_specs")
    small = {s.code: s for s in pinned_limits(chain, SMALL).materials}
    large = {s.code: s for s in pinned_limits(chain, LARGE).materials}
    assert not small["fire_plan"].applies and large["fire_plan"].applies
    assert small["application"].applies and small["staff_health"].applies
    assert "营业面积 > 300 平方米" in large["fire_plan"].condition
    assert large["fire_plan"].needed_for == ["fire_ok"]
    assert large["staff_health"].holds("hall_permit")
    assert not large["staff_health"].holds("registration")


def test_chains_check_names_bad_declarations_and_warns_where_a_flow_may_wait() -> None:
    chain = hall_chain("zz_hall_check")
    result = check_chain(chain, set(), DEPARTMENTS)
    assert result.mistakes == []
    # hall_permit, issued before the fire review, is held while staff_health is missing.
    held = [w for w in result.warnings if "issued before further steps" in w]
    assert len(held) == 1 and "hall_permit by staff_health" in held[0]
    assert "registration" not in held[0] and "go on without it" in held[0]
    waiting = check_chain(hall_chain("zz_hall_check_wait", wait=True), set(), DEPARTMENTS)
    assert any("waits (wait=True)" in w and "hall_permit" in w for w in waiting.warnings)

    bad = Chain(
        code="zz_hall_bad",
        name_zh="坏声明",
        name_en="Bad declarations",
        form=HallForm,
        departments=(FIRST,),
        materials=(
            Material("application", "申请表"),
            Material("plan", "预案", key=False, required_if="no_such_field"),
            Material("list", "清单", key=False, needed_for=("no_such_licence",)),
            Material("extra", "附件", key=False),
            Material("nothing", "说明", key=False, needed_for=()),
        ),
        licences=(LicenceType("permit", "许可证", FIRST),),
        promised_days=5,
        statutory_days=20,
        allow_incomplete=True,
    )
    bad.flow(version=1)(_review_then_issue)
    result = check_chain(bad, set(), DEPARTMENTS)
    assert any("'plan'" in m and "no_such_field" in m for m in result.mistakes)
    assert any("'list'" in m and "no_such_licence" in m for m in result.mistakes)
    assert any("'extra'" in w and "every licence" in w for w in result.warnings)
    assert any("'nothing'" in w and "no licence" in w for w in result.warnings)


async def _review_then_issue(case: CaseContext[HallForm]) -> None:
    await case.review(FIRST, "审查", days=1)
    await case.issue("permit")


def test_the_import_passes_a_conditional_material_only_when_the_form_asks(
    tmp_path: Path,
) -> None:
    with registered(hall_chain("zz_hall_import")) as chain:
        applicant = fresh_applicant()
        path = tmp_path / "in.csv"
        rows = [
            f"{case},{chain.code},{applicant.name},{applicant.id_number},"
            f"application、消防预案,{form['hall_name']},{form['floor_area_m2']},{form['seats']}"
            for case, form in (("H1", SMALL), ("H2", LARGE))
        ]
        path.write_text(
            "案件编号,事项,申请人,证件号码,材料,hall_name,floor_area_m2,seats\n"
            + "\n".join(rows)
            + "\n",
            encoding="utf-8",
        )
        sheet = read_file(path)
        clerk = Actor(user_id="c1", name="窗口", role=Role.WINDOW_CLERK)
        checked = check_sheet(sheet, resolve_headers(sheet.headers, chain_given=False), actor=clerk)
        small, large = (row.request for row in checked.rows)
        assert small is not None and large is not None, checked.problems
        assert small.materials == ["application"]  # 120 m², 20 seats: no fire plan asked
        assert large.materials == ["application", "fire_plan"]


# ------------------------------------------------------------------ dev server
async def _start(driver: CaseDriver, chain: Chain, form: dict, materials: list[str]) -> str:
    case_no = f"H{abs(hash((chain.code, str(form), tuple(materials)))) % 10**9}"
    await driver.desk.start_case(
        CaseRequest(
            case_no=case_no,
            chain=chain.code,
            applicant=fresh_applicant(),
            form=form,
            materials=materials,
            accepted_by=CLERK,
        )
    )
    return case_no


async def test_a_case_is_asked_for_a_conditional_material_only_when_its_form_says_so(
    driver: CaseDriver,
) -> None:
    with registered(hall_chain("zz_hall_cond")) as chain:
        given = ["application", "staff_health"]
        small = await _start(driver, chain, SMALL, given)
        state = await driver.wait_for_tasks(small)
        assert state.acceptance is Acceptance.ACCEPTED and state.notice is None
        assert "fire_plan" not in {m.code for m in state.materials}
        assert not any(t.kind is TaskKind.MATERIALS for t in state.tasks)

        large = await _start(driver, chain, LARGE, given)
        state = await driver.wait_for_tasks(large)
        assert state.acceptance is Acceptance.INCOMPLETE
        assert [m.code for m in state.missing_materials] == ["fire_plan"]
        assert state.notice is not None
        assert "消防预案" in state.notice.text and "营业面积 > 300 平方米" in state.notice.text


async def test_an_early_issue_holds_only_the_licence_a_missing_item_is_needed_for(
    driver: CaseDriver,
) -> None:
    with registered(hall_chain("zz_hall_hold")) as chain:
        case_no = await _start(driver, chain, SMALL, ["application"])  # staff_health missing
        state = await driver.wait_for_tasks(case_no)
        assert state.acceptance is Acceptance.INCOMPLETE
        await driver.approve_open(case_no)  # 登记

        state = await _until(driver, case_no, lambda s: any(t.name == "消防检查" for t in s.tasks))
        # registration is out at once; hall_permit waits for staff_health; the flow went on.
        assert [lic.type for lic in state.licences] == ["registration"]
        assert any(e.kind == "licences_held" and "会堂许可证" in e.summary for e in state.events)

        await driver.approve_open(case_no)  # 消防检查
        state = await _until(driver, case_no, lambda s: "fire_ok" in _types(s))
        assert state.status is CaseStatus.RUNNING and state.stage == "等待补齐材料"
        assert "hall_permit" not in _types(state)

        await driver.desk.act(
            case_no, SupplyMaterials(actor=CLERK, items=["staff_health"], reason="健康证")
        )
        outcome = await driver.desk.outcome(case_no)
        assert outcome.status is CaseStatus.APPROVED
        assert sorted(lic.type for lic in outcome.licences) == [
            "fire_ok",
            "hall_permit",
            "registration",
        ]
        state = await driver.state(case_no)
        supplied = next(m for m in state.materials if m.code == "staff_health")
        assert supplied.state is MaterialState.RECEIVED


async def test_an_issue_with_wait_holds_the_flow_until_its_licence_is_out(
    driver: CaseDriver,
) -> None:
    with registered(hall_chain("zz_hall_wait", wait=True)) as chain:
        case_no = await _start(driver, chain, SMALL, ["application"])  # staff_health missing
        await driver.wait_for_tasks(case_no)
        await driver.approve_open(case_no)  # 登记
        state = await _until(driver, case_no, lambda s: "registration" in _types(s))
        await asyncio.sleep(1)  # give a wrongly opened review time to show
        state = await driver.state(case_no)
        assert state.stage == "等待补齐材料"
        assert not any(t.name == "消防检查" for t in state.tasks)

        await driver.desk.act(case_no, SupplyMaterials(actor=CLERK, items=["staff_health"]))
        state = await _until(driver, case_no, lambda s: any(t.name == "消防检查" for t in s.tasks))
        assert "hall_permit" in _types(state)


def _types(state) -> set[str]:  # type: ignore[no-untyped-def]
    return {lic.type for lic in state.licences}


async def _until(driver: CaseDriver, case_no: str, condition, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state = await driver.state(case_no)
        if condition(state):
            return state
        if loop.time() > deadline:
            pytest.fail(
                f"{case_no}: condition not met; stage {state.stage}, events "
                f"{[e.kind for e in state.events]}"
            )
        await asyncio.sleep(0.05)


HELD_CHAIN = """
from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material


class Form(BaseModel):
    shop_name: str = Field(min_length=2, examples=["小店"])


chain = Chain(
    code="zz_held_file",
    name_zh="先出件再审查",
    name_en="Issue first, review after",
    form=Form,
    departments=({first!r}, {second!r}),
    materials=(
        Material("application", "申请表"),
        Material("health", "健康证明", key=False, needed_for=("permit",)),
    ),
    licences=(LicenceType("permit", "许可证", {first!r}), LicenceType("ok", "合格证", {second!r})),
    promised_days=10,
    statutory_days=20,
    allow_incomplete=True,
)


@chain.flow(version=1)
async def flow(case):
    await case.review({first!r}, "审查", days=1)
    await case.issue("permit")
    await case.review({second!r}, "检查", days=1)
    await case.issue("ok")
"""


def test_chains_check_cli_prints_the_warning_and_still_passes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.app import app

    path = tmp_path / "held.py"
    path.write_text(HELD_CHAIN.format(first=FIRST, second=SECOND), encoding="utf-8")
    result = CliRunner().invoke(app, ["chains", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "zz_held_file: ok" in result.stdout
    warning = next(line for line in result.output.splitlines() if "warning:" in line)
    assert "issued before further steps (检查" in warning and "permit by health" in warning


def test_chains_show_lists_what_this_form_is_asked_for() -> None:
    import json

    from typer.testing import CliRunner

    from cli.app import app

    with registered(hall_chain("zz_hall_show")) as chain:
        runner = CliRunner()
        shown = {}
        for name, form in (("small", SMALL), ("large", LARGE)):
            result = runner.invoke(
                app, ["chains", "show", chain.code, "--form", json.dumps(form), "--json"]
            )
            assert result.exit_code == 0, result.output
            shown[name] = {m["code"]: m for m in json.loads(result.stdout)["materials"]}
        assert not shown["small"]["fire_plan"]["asked"] and shown["large"]["fire_plan"]["asked"]
        assert shown["large"]["fire_plan"]["condition"] == "营业面积 > 300 平方米 或 座位数 > 100"
        assert shown["large"]["staff_health"]["holds"] == ["会堂许可证"]
        text = runner.invoke(app, ["chains", "show", chain.code, "--form", json.dumps(SMALL)])
        line = next(x for x in text.output.splitlines() if "fire_plan" in x)
        assert "仅当 营业面积 > 300 平方米" in line and "本表单不需要" in line
