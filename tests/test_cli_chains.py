"""``onechain chains list|show|check``: drawing flows with a recording CaseContext and
finding mistakes in chain modules. No Temporal needed: flows run against a fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.app import app
from tests.test_cli_cases import wide_terminal
from workflows import registry

runner = CliRunner()

GOOD_CHAIN = """
from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.steps import CaseContext


class PharmacyForm(BaseModel):
    shop_name: str = Field(min_length=2)
    floor_area_m2: float = Field(gt=0)


chain = Chain(
    code="pharmacy_ok",
    name_zh="我要开药店",
    name_en="Open a pharmacy",
    form=PharmacyForm,
    departments=("market",),
    materials=(Material("operator_id", "经营者身份证明", e_licence="resident_id"),),
    licences=(LicenceType("drug_business_licence", "药品经营许可证", "market"),),
    promised_days=5,
    statutory_days=20,
)


@chain.flow(version=1)
async def flow(case: CaseContext[PharmacyForm]) -> None:
    await case.review("market", "药品经营许可审查", days=5)
    await case.issue("drug_business_licence")
"""

BROKEN_CHAIN = """
from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material


class Form(BaseModel):
    name: str = Field(min_length=2)
    big: bool = False


chain = Chain(
    code="broken",
    name_zh="坏链条",
    name_en="Broken",
    form=Form,
    departments=("market", "spaceport"),
    materials=(
        Material("id", "身份证明", e_licence="passport_of_mars"),
        Material("plan", "平面图", verifier="health"),
    ),
    licences=(LicenceType("permit", "许可证", "fire"),),
    promised_days=5,
    statutory_days=20,
)

no_flow = Chain(
    code="no_flow",
    name_zh="没有流程",
    name_en="No flow",
    form=Form,
    departments=("market",),
    materials=(),
    licences=(),
    promised_days=30,
    statutory_days=20,
)


@chain.flow(version=1)
async def flow(case):
    await case.review("market", "审查", days=3)
    if case.form.big:
        await case.parallel(
            "并联",
            case.review("health", "卫生审查", days=4),
            case.review("market", "复核", days=1),
        )
    await case.issue("permit", "unknown_licence")
"""


def invoke(*args: str) -> Result:
    with wide_terminal():
        return runner.invoke(app, list(args))


def test_list() -> None:
    result = invoke("chains", "list", "--json")
    assert result.exit_code == 0, result.output
    data = {c["code"]: c for c in json.loads(result.stdout)}
    assert {"kindergarten", "restaurant", "company", "construction"} <= set(data)
    assert data["kindergarten"]["promised_days"] == 20 and data["kindergarten"]["versions"] == [1]
    text = invoke("chains", "list").stdout
    assert "我要开幼儿园" in text and "20/45" in text


def test_show_draws_stages_steps_and_conditions() -> None:
    result = invoke("chains", "show", "kindergarten", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    first = data["flow"][0]
    assert first["type"] == "parallel" and first["stage"] == "并联初审"
    assert [b[0]["departments"] for b in first["branches"]] == [
        ["education"],
        ["fire"],
        ["health"],
        ["market"],
    ]
    assert data["flow"][1]["kind"] == "joint_survey" and data["flow"][1]["days"] == 3
    assert data["flow"][-1] == {
        "type": "issue",
        "licences": [
            "school_permit",
            "fire_check",
            "health_evaluation",
            "private_non_enterprise",
            "food_business_licence",
        ],
    }
    assert data["longest_path_days"] == 5 + 3 + 3 + 3
    (canteen,) = data["conditions"]
    assert canteen["when"] == "has_canteen=false"
    assert "food_business_licence" in canteen["drops_licences"]
    assert "branches depend on the form" in data["note"]

    text = invoke("chains", "show", "restaurant").stdout
    for expected in ("并联审批", "营业执照登记", "即办", "Branches depend on the form", "--form"):
        assert expected in text
    assert "when signboard_complex=true" in text and "公众聚集场所消防安全检查" in text


def test_show_with_form_draws_that_branch() -> None:
    result = invoke(
        "chains", "show", "restaurant", "--json", "--form",
        '{"seats": 200, "signboard_complex": true, "existing_business_licence": true}',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    names = [step["name"] for branch in data["flow"][0]["branches"] for step in branch]
    assert "公众聚集场所消防安全检查" in names and "门头牌匾现场勘查" in names
    assert "营业执照登记" not in names
    assert data["form"]["seats"] == 200


def test_show_with_form_file(tmp_path: Path) -> None:
    form = tmp_path / "form.json"
    form.write_text(json.dumps({"has_canteen": False}), encoding="utf-8")
    result = invoke("chains", "show", "kindergarten", "--form", str(form), "--json")
    assert result.exit_code == 0, result.output
    assert "food_business_licence" not in json.loads(result.stdout)["flow"][-1]["licences"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["spaceport"], "unknown chain"),
        (["restaurant", "--form", "{not json"], "not JSON"),
        (["restaurant", "--form", "[1, 2]"], "JSON object"),
        (["restaurant", "--form", '{"seatz": 1}'], "unknown field(s) seatz"),
        (["restaurant", "--form", '{"seats": "many"}'], "seats"),
        (["restaurant", "--version", "9"], "no flow version 9"),
    ],
)
def test_show_bad_input(args: list[str], says: str) -> None:
    result = invoke("chains", "show", *args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr and result.stdout == ""


def test_check_registered_chains() -> None:
    result = invoke("chains", "check")
    lines = result.stdout.strip().splitlines()
    codes = {line.split(":", 1)[0] for line in lines}
    assert {c.code for c in registry.all_chains()} <= codes
    # The shipped chains are consistent; construction's joint acceptance runs outside
    # its promised limit (stops_clock), so 3 + 35 + 2 fits the promised 40.
    for chain in registry.all_chains():
        assert f"{chain.code}: ok" in result.stdout
    assert result.exit_code == 0, result.output
    data = json.loads(invoke("chains", "check", "--json").stdout)
    assert data["ok"] is True


def test_check_finds_each_mistake(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(BROKEN_CHAIN, encoding="utf-8")
    result = invoke("chains", "check", str(tmp_path / "broken.py"))
    assert result.exit_code == 1, result.output
    lines = result.stdout.strip().splitlines()
    expected = [
        "broken: declares unknown department 'spaceport'",
        "broken: licence 'permit' is issued by department 'fire', which the chain does not declare",
        "broken: material 'id' is replaced by e-licence 'passport_of_mars'",
        "broken: material 'plan' is verified by department 'health', which the chain does not declare",
        "broken: material 'plan' names a verifier but no commitment",
        # only on the branch taken when big=True: the variants find it
        "broken: flow v1: step '卫生审查' uses department 'health', which the chain does not declare",
        "broken: flow v1: issues licence 'unknown_licence', which the chain does not declare",
        "broken: flow v1: step limits along the longest path add up to 7 working days",
        "no_flow: promised limit 30 is longer than the statutory 20 working days",
        "no_flow: has no flow",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert len(lines) == len(expected), lines
    assert "big=true" in next(line for line in lines if "add up to 7" in line)

    data = json.loads(invoke("chains", "check", str(tmp_path / "broken.py"), "--json").stdout)
    assert data["ok"] is False and [c["code"] for c in data["chains"]] == ["broken", "no_flow"]


def test_check_good_file_and_folder(tmp_path: Path) -> None:
    (tmp_path / "pharmacy.py").write_text(GOOD_CHAIN, encoding="utf-8")
    result = invoke("chains", "check", str(tmp_path / "pharmacy.py"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("pharmacy_ok: ok")

    (tmp_path / "broken.py").write_text(BROKEN_CHAIN, encoding="utf-8")
    (tmp_path / "typo.py").write_text("def flow(:\n", encoding="utf-8")
    (tmp_path / "empty.py").write_text("X = 1\n", encoding="utf-8")
    result = invoke("chains", "check", str(tmp_path))
    assert result.exit_code == 1
    assert "pharmacy_ok: ok" in result.stdout
    assert "typo.py: cannot load: SyntaxError" in result.stdout
    assert "empty.py: defines no Chain" in result.stdout


def test_check_missing_path(tmp_path: Path) -> None:
    result = invoke("chains", "check", str(tmp_path / "nope.py"))
    assert result.exit_code == 2 and "no such file" in result.stderr
