"""The flow analysis (workflows/flow_analysis.py): the recording mirror of the engine's
``CaseContext``, and every form-dependent difference a variant makes, limits included."""

from __future__ import annotations

import inspect
import json

from pydantic import BaseModel, Field
from typer.testing import CliRunner

from cli.app import app
from domain.case import Applicant
from tests.extra_chain import registered
from tests.test_cli_cases import wide_terminal
from workflows import registry
from workflows.chain import Chain, LicenceType
from workflows.flow_analysis import RecordingCase, conditions, explore, longest_path, record_flow
from workflows.form_samples import build_form, sample_applicant, sample_values
from workflows.steps import CaseContext


class TowerForm(BaseModel):
    project_name: str = Field(min_length=2, description="项目名称", examples=["运河大厦"])
    high_rise: bool = Field(default=False, description="高层建筑")


tower = Chain(
    code="zz_tower",
    name_zh="测试高层审查",
    name_en="Test tower",
    form=TowerForm,
    departments=("fire", "housing"),
    materials=(),
    licences=(LicenceType("permit", "许可证", "housing"),),
    promised_days=20,
    statutory_days=45,
)


@tower.flow(version=1)
async def _tower_flow(case: CaseContext[TowerForm]) -> None:
    # The high-rise branch changes only a step's limit and who takes part.
    reviewers = ["fire", "housing"] if case.form.high_rise else ["fire"]
    await case.drawing_review(reviewers, "施工图审查", days=10 if case.form.high_rise else 7)
    await case.issue("permit")


def test_recording_needs_no_event_loop() -> None:
    chain = registry.get_chain("company")
    values = sample_values(chain.form)
    nodes = record_flow(
        chain.flows[1],
        build_form(chain.form, values),
        sample_applicant(chain.applicant_kind),
        ["application"],
    )
    days, path = longest_path(nodes)
    assert days == 2 and [s.name for s in path] == ["企业设立登记", "银行基本存款账户开户"]


def test_recording_case_mirrors_case_context() -> None:
    """Every step a flow can call on the real CaseContext exists on the recorder, with
    the same parameters (names, kinds, defaults); a new engine step must be added to
    ``workflows.flow_analysis`` too."""
    form = TowerForm.model_construct()
    recorder = RecordingCase(form, Applicant(name="x", id_number="x"), [])
    for name, member in vars(CaseContext).items():
        if name.startswith("_"):
            continue
        assert hasattr(recorder, name), name
        if inspect.isfunction(member):
            real = inspect.signature(member).parameters
            mine = inspect.signature(getattr(RecordingCase, name)).parameters
            assert [(p.name, p.kind, p.default) for p in mine.values()] == [
                (p.name, p.kind, p.default) for p in real.values()
            ], name


def test_a_variant_that_changes_only_a_limit_is_reported() -> None:
    found = conditions(explore(tower, 1, sample_values(TowerForm)))
    (high,) = found
    assert high["when"] == "high_rise=true"
    assert high["adds_steps"] == [] and high["drops_steps"] == []
    (change,) = high["changes_steps"]
    assert "limit 7 个工作日 → 10 个工作日" in change
    assert "departments fire → fire、housing" in change
    assert high["longest_days"] == 10 and high["longest_days_change"] == 3


def test_chains_show_prints_the_limit_change() -> None:
    with registered(tower), wide_terminal():
        result = CliRunner().invoke(app, ["chains", "show", tower.code])
        data = json.loads(CliRunner().invoke(app, ["chains", "show", tower.code, "--json"]).stdout)
    assert result.exit_code == 0, result.output
    assert "when high_rise=true" in result.stderr + result.stdout
    assert "7 个工作日 → 10 个工作日" in result.stderr + result.stdout
    assert "longest path 10 working days (+3)" in result.stderr + result.stdout
    assert data["conditions"][0]["longest_days_change"] == 3
