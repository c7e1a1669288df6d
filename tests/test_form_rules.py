"""A form with a rule across fields (a pydantic model validator): everything that builds
a form of the chain — the sample form, ``chains check``'s variants, the demo rows, the
sample import file, the simulator's seeding — builds one the model accepts; a chain
whose examples cannot meet its rule fails ``chains check``, naming the fields.

The chains here are registered only in the tests (``tests.extra_chain.registered``)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, model_validator
from typer.testing import CliRunner

from cli.app import app
from domain.case import CaseStatus
from domain.roles import Actor, Role
from importing.columns import resolve_headers
from importing.readers import RawRow, Sheet
from importing.validate import CheckedFile, check_sheet
from simulator.demo import demo_case_prefix, demo_rows, sample_rows, seed_demo
from tests.extra_chain import registered
from tests.harness import CaseDriver
from workflows import registry
from workflows.chain import Chain, LicenceType, Material
from workflows.flow_analysis import check_chain, explore, issued_of, steps_of
from workflows.form_samples import accepts, demo_values, sample_values, variants
from workflows.steps import CaseContext

CLERK = Actor(user_id="c1", name="窗口", role=Role.WINDOW_CLERK, department="window")
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class HotelForm(BaseModel):
    """Taken field by field, the first examples (60 rooms, 30 beds) break the rule."""

    hotel_name: str = Field(
        min_length=2, max_length=50, description="旅馆名称", examples=["运河宾馆", "孔府客栈"]
    )
    rooms: int = Field(ge=1, le=500, description="客房数（间）", examples=[60, 20, 120])
    beds: int = Field(ge=1, le=1_000, description="床位数（张）", examples=[30, 80, 200])
    has_restaurant: bool = Field(default=False, description="附设餐厅")

    @model_validator(mode="after")
    def _beds_cover_rooms(self) -> HotelForm:
        if self.beds < self.rooms:
            raise ValueError("床位数不应少于客房数")
        return self


hotel = Chain(
    code="zz_hotel_rule",
    name_zh="我要开测试旅馆",
    name_en="Open a test hotel",
    form=HotelForm,
    departments=("public_security", "fire"),
    materials=(
        Material("application", "一链办理申请表"),
        Material("operator_id", "经营者身份证明", e_licence="resident_id"),
    ),
    licences=(LicenceType("hotel_permit", "特种行业许可证", "public_security"),),
    promised_days=10,
    statutory_days=20,
    applicant_kind="either",
)


@hotel.flow(version=1)
async def _hotel_flow(case: CaseContext[HotelForm]) -> None:
    steps = [case.review("public_security", "特种行业许可审查", days=5)]
    if case.form.rooms > 100:  # only reachable with beds raised along with rooms
        steps.append(case.review("fire", "消防安全检查", days=3))
    await case.parallel("并联审查", *steps)
    await case.issue("hotel_permit")


@pytest.fixture
def with_hotel() -> Iterator[Chain]:
    with registered(hotel):
        yield hotel


def checked(headers: list[str], rows: list[dict]) -> CheckedFile:
    """The rows read back exactly as ``onechain import`` reads a file."""
    sheet = Sheet(
        headers,
        [RawRow(i, [r.get(h, "") for h in headers], []) for i, r in enumerate(rows, start=2)],
        "csv",
    )
    return check_sheet(sheet, resolve_headers(headers, chain_given=False), actor=CLERK, now=NOW)


def test_the_rule_is_real() -> None:
    """Without the model, the first examples and random draws of examples break it."""
    assert not accepts(HotelForm, {"hotel_name": "运河宾馆", "rooms": 60, "beds": 30})
    assert accepts(HotelForm, {"hotel_name": "运河宾馆", "rooms": 20, "beds": 30})


def test_sample_and_variants_are_forms_the_model_accepts() -> None:
    sample = sample_values(HotelForm)
    assert accepts(HotelForm, sample)
    found = variants(HotelForm, sample)
    assert all(accepts(HotelForm, values) for _, values in found)
    # The largest room count is still explored: beds come up with it.
    large = dict(found)["rooms=500"]
    assert large["rooms"] == 500 and large["beds"] >= 500


def test_chains_check_accepts_it_and_explores_the_branch_behind_the_rule(
    with_hotel: Chain,
) -> None:
    result = check_chain(with_hotel)
    assert result.mistakes == [] and result.notes == []
    exploration = explore(with_hotel, 1, sample_values(HotelForm))
    surveyed = {
        label
        for label, nodes in exploration.runs
        if "消防安全检查" in {s.name for s in steps_of(nodes)}
    }
    assert "rooms=500" in surveyed and "" not in surveyed
    assert all(issued_of(nodes) == ["hotel_permit"] for _, nodes in exploration.runs)


def test_drawing_and_catalogue_page_are_built_for_it(with_hotel: Chain) -> None:
    from docsgen import catalogue
    from workflows.flow_diagram import mermaid

    text = mermaid(with_hotel)
    assert "-.->|当 客房数 > 100 间|" in text  # the branch the rule made reachable
    assert "```mermaid\n" + text in catalogue.pages()[f"{hotel.code}.md"]


def test_demo_values_follow_the_rule() -> None:
    rng = random.Random(11)
    drawn = [demo_values(HotelForm, rng) for _ in range(200)]
    assert all(accepts(HotelForm, values) for values in drawn)
    assert len({(v["rooms"], v["beds"]) for v in drawn}) > 3  # still varied


def test_demo_rows_and_sample_file_are_valid_with_the_chain(with_hotel: Chain) -> None:
    headers, rows = demo_rows(now=NOW, per_chain=12)
    result = checked(headers, rows)
    assert result.problems == []
    assert sum(r.request.chain == hotel.code for r in result.rows if r.request) == 12

    headers, rows = sample_rows()
    result = checked(headers, rows)
    assert result.problems == []
    assert hotel.code in {r.request.chain for r in result.rows if r.request}


async def test_the_simulator_seeds_the_chain(driver: CaseDriver, with_hotel: Chain) -> None:
    report = await seed_demo(driver.desk, per_chain=2)
    assert not report.rejected
    assert report.started + report.existing == 2 * len(registry.all_chains())
    # The desk validated each form through the model before starting the case.
    for number in ("001", "002"):
        state = await driver.state(f"{demo_case_prefix(hotel.code)}-{number}")
        assert state.chain == hotel.code and state.status is CaseStatus.RUNNING


# -------------------------------------------------------- examples that cannot meet it

AREA_CHAIN = """
from pydantic import BaseModel, Field, model_validator

from workflows.chain import Chain, LicenceType, Material
from workflows.steps import CaseContext


class AreaForm(BaseModel):
    shop_name: str = Field(min_length=2, description="店铺名称", examples=["运河商店"])
    total_m2: float = Field(gt=0, description="营业面积（平方米）", examples=[1000, 1200])
    ground_m2: float = Field(gt=0, description="一层面积（平方米）", examples=[200, 300])
    upper_m2: float = Field(gt=0, description="其余楼层面积（平方米）", examples=[100, 150])

    @model_validator(mode="after")
    def _floors_add_up(self):
        if abs(self.ground_m2 + self.upper_m2 - self.total_m2) > 0.01:
            raise ValueError("营业面积应等于各层面积之和")
        return self
{whole_form}

chain = Chain(
    code="zz_area_rule",
    name_zh="我要开测试商店",
    name_en="Open a test shop",
    form=AreaForm,
    departments=("market",),
    materials=(Material("application", "申请表"),),
    licences=(LicenceType("shop_permit", "经营许可证", "market"),),
    promised_days=5,
    statutory_days=20,
)


@chain.flow(version=1)
async def flow(case: CaseContext[AreaForm]) -> None:
    await case.review("market", "经营许可审查", days=3)
    await case.issue("shop_permit")
"""
WHOLE_FORM = """
    model_config = {"json_schema_extra": {"examples": [
        {"total_m2": 450, "ground_m2": 300, "upper_m2": 150}
    ]}}
"""


def test_chains_check_names_the_fields_when_no_example_meets_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "area.py"
    path.write_text(AREA_CHAIN.replace("{whole_form}", ""), encoding="utf-8")
    result = CliRunner().invoke(app, ["chains", "check", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "zz_area_rule: no sample form meets the rule across fields "
        "ground_m2, upper_m2, total_m2 (营业面积应等于各层面积之和)"
    )
    assert "json_schema_extra" in lines[0]


def test_a_whole_form_example_makes_the_check_pass(tmp_path: Path) -> None:
    path = tmp_path / "area.py"
    path.write_text(AREA_CHAIN.replace("{whole_form}", WHOLE_FORM), encoding="utf-8")
    result = CliRunner().invoke(app, ["chains", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("zz_area_rule: ok")


def test_show_refuses_a_form_that_breaks_the_rule(with_hotel: Chain) -> None:
    result = CliRunner().invoke(app, ["chains", "show", hotel.code, "--form", '{"beds": 5}'])
    assert result.exit_code == 2
    assert "床位数不应少于客房数" in result.stderr
    result = CliRunner().invoke(app, ["chains", "show", hotel.code, "--form", '{"beds": 500}'])
    assert result.exit_code == 0, result.output


def test_a_field_validator_reading_its_neighbour_names_both_fields() -> None:
    from pydantic import ValidationInfo, field_validator

    from workflows.flow_analysis import sample_mistake
    from workflows.form_samples import sample_problems

    class YearsForm(BaseModel):
        start_year: int = Field(ge=2000, le=2100, description="开工年份", examples=[2030])
        end_year: int = Field(ge=2000, le=2100, description="竣工年份", examples=[2031])

        @field_validator("end_year")
        @classmethod
        def _long_after(cls, value: int, info: ValidationInfo) -> int:
            if value < info.data["start_year"] + 200:  # no year in range can meet it
                raise ValueError("竣工年份须在开工两百年以后")
            return value

    (problem,) = sample_problems(YearsForm)
    assert set(problem.fields) == {"start_year", "end_year"}
    assert sample_mistake(problem).startswith("no sample form meets the rule across fields")
