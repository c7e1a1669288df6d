"""``chains show CODE --format mermaid`` and the generated catalogue pages: parallel
stages, joint steps, steps only some forms take (dashed, with the condition on the
arrow), if/else alternatives as branches of a decision that join again, conditions in
the form's Chinese labels, limits on the nodes. Drawn for chains defined here, and the
branch rule checked for every registered chain."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from cli.app import app
from docsgen import catalogue
from tests.extra_chain import registered
from workflows import registry
from workflows.chain import Chain, LicenceType, Material
from workflows.flow_analysis import KIND_ZH, Step, explore, steps_of
from workflows.flow_diagram import mermaid
from workflows.form_samples import sample_values
from workflows.steps import CaseContext, StepResult


class ShopForm(BaseModel):
    shop_name: str = Field(min_length=2, description="名称", examples=["运河商店"])
    big: bool = Field(default=False, description="大型场所")
    outdoor_sign: bool = Field(default=True, description="户外招牌")


shop = Chain(
    code="zz_diagram_shop",
    name_zh="测试开店",
    name_en="Test shop",
    form=ShopForm,
    departments=("market", "fire", "urban", "housing"),
    materials=(Material("application", "申请表"), Material("plan", "平面图", key=False)),
    licences=(
        LicenceType("permit", "经营许可证", "market"),
        LicenceType("fire_ok", "消防合格证", "fire"),
        LicenceType("sign_ok", "招牌意见书", "urban"),
    ),
    promised_days=15,
    statutory_days=20,
)


@shop.flow(version=1)
async def _shop_flow(case: CaseContext[ShopForm]) -> None:
    async def market() -> StepResult:
        await case.review("market", "名称核准", days=0)
        return await case.review("market", "经营许可审查", days=3)

    steps = [market()]
    if case.form.outdoor_sign:
        steps.append(case.review("urban", "招牌审查", days=1))
    if case.form.big:
        steps.append(case.review("fire", "消防检查", days=5))
    await case.parallel("并联审批", *steps)
    await case.joint_survey(["market", "housing"], "联合踏勘", days=2 if case.form.big else 1)
    await case.wait_for_applicant("opened", "开业告知")
    licences = ["permit"] + (["sign_ok"] if case.form.outdoor_sign else [])
    await case.issue(*licences, *(["fire_ok"] if case.form.big else []))


def node_line(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if f"<b>{name}" in line)


def node_id(text: str, name: str) -> str:
    return node_line(text, name).strip().split("[", 1)[0].split("{", 1)[0]


def test_mermaid_draws_stages_joint_steps_conditions_and_limits() -> None:
    text = mermaid(shop)
    assert text.startswith("flowchart TD\n")
    # A parallel stage is a box; its steps (and a branch's sequence) are inside.
    box = re.search(
        r'subgraph (\w+)\["并联：并联审批（最长 5 个工作日）"\]\n(.*?)\n  end', text, re.S
    )
    assert box, text
    for name in ("名称核准", "经营许可审查", "招牌审查", "消防检查"):
        assert f"<b>{name}" in box.group(2)
    assert f"{node_id(text, '名称核准')} --> {node_id(text, '经营许可审查')}" in text
    # Limits on every node; a joint step is double-edged; the applicant wait is slanted.
    assert "即办" in node_line(text, "名称核准") and "3 个工作日" in node_line(text, "经营许可审查")
    assert node_line(text, "联合踏勘").strip().startswith(f"{node_id(text, '联合踏勘')}[[")
    assert "[/" in node_line(text, "开业告知") and "案件计时暂停" in node_line(text, "开业告知")
    # A step only some forms take: dashed, the condition on its arrow.
    fire = node_id(text, "消防检查")
    assert re.search(rf"-\.->\|当 大型场所：是\| {fire}\n", text)
    assert re.search(rf"class [\w,]*\b{fire}\b[\w,]* conditional", text)
    # A step some forms skip, a limit that depends on the form, a licence only some get.
    assert "当 户外招牌：否 时不办" in node_line(text, "招牌审查")
    assert "当 大型场所：是：limit 1 个工作日 → 2 个工作日" in node_line(text, "联合踏勘")
    issue = node_line(text, "统一出件")
    assert (
        "消防合格证（当 大型场所：是）" in issue and "招牌意见书（当 户外招牌：否 时不出）" in issue
    )


def test_chains_show_format_mermaid_prints_only_the_chart() -> None:
    with registered(shop):
        result = CliRunner().invoke(app, ["chains", "show", shop.code, "--format", "mermaid"])
    assert result.exit_code == 0, result.output
    assert result.stdout == mermaid(shop)


def test_catalogue_page_has_diagram_departments_materials_licences_and_limits() -> None:
    with registered(shop):
        page = catalogue.pages()[f"{shop.code}.md"]
        index = catalogue.pages()["README.md"]
    assert f"({shop.code}.md)" in index and "15 / 20" in index
    assert "```mermaid\n" + mermaid(shop) + "```" in page
    assert "promised **15**, statutory **20**" in page
    assert "| 住房城乡建设局 | `housing` | 联合踏勘 |" in page
    assert "| `plan` | 平面图 | non-key |" in page
    assert "| `fire_ok` | 消防合格证 | 消防救援支队 | until revoked |" in page
    assert "when big=true: + 消防检查（fire）" in page


# ------------------------------------------------- every registered chain's branches


def _graph(text: str) -> tuple[dict[str, str], dict[str, list[str]], set[str]]:
    """Node labels by id, solid arrows (decision nodes' arrows left out: passing one
    means a condition was met) and the decision nodes, from a drawing."""
    labels: dict[str, str] = {}
    decisions: set[str] = set()
    for line in text.splitlines():
        found = re.match(r"\s*(\w+)(\{\{|\{|\[\[|\[/|\[|\(\[|\(\()\"(.*?)\"", line)
        if found:
            labels[found.group(1)] = found.group(3)
            if found.group(2) == "{":
                decisions.add(found.group(1))
    solid: dict[str, list[str]] = {}
    for source, arrow, target in re.findall(
        r"^\s*(\w+) (-->|-\.->)(?:\|[^|]*\|)? (\w+)$", text, re.M
    ):
        if arrow == "-->" and source not in decisions and target not in decisions:
            solid.setdefault(source, []).append(target)
    return labels, solid, decisions


def _reaches(solid: dict[str, list[str]], source: str, target: str) -> bool:
    seen, todo = {source}, [source]
    while todo:
        for nxt in solid.get(todo.pop(), []):
            if nxt == target:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _nodes_of(labels: dict[str, str], step: Step) -> list[str]:
    """The drawn nodes of a step (more than one when several arms take it)."""
    kind = KIND_ZH.get(step.kind, step.kind)
    title = step.name if kind in (step.name, "审查") else f"{step.name}（{kind}）"
    found = [i for i, label in labels.items() if label.startswith(f"<b>{title}</b>")]
    assert found, step.name
    return found


@pytest.mark.parametrize("code", [c.code for c in registry.all_chains()])
def test_every_alternative_is_drawn_as_a_branch(code: str) -> None:
    """For each form variant, a step only it takes and a step only the sample form takes
    are never drawn one after the other: both sit behind a condition (a decision's arm
    or a dashed arrow), and no unconditional path leads from one to the other. Conditions
    are in the form's Chinese labels, never ``field=value``."""
    chain = registry.get_chain(code)
    text = mermaid(chain)
    labels, solid, decisions = _graph(text)
    exploration = explore(chain, chain.version, sample_values(chain.form))
    assert exploration.base is not None
    base = {s.name: s for s in steps_of(exploration.base)}
    for label, nodes in exploration.runs:
        if not label or ", " in label:
            continue
        theirs = {s.name: s for s in steps_of(nodes)}
        only_base = [
            n for name, s in base.items() if name not in theirs for n in _nodes_of(labels, s)
        ]
        only_theirs = [
            n for name, s in theirs.items() if name not in base for n in _nodes_of(labels, s)
        ]
        for node in only_theirs:
            assert not _reaches(solid, "start", node), (label, labels[node])
        # A step only the sample form takes: behind a condition, or marked as skipped.
        skipped = [node for node in only_base if "时不办" in labels[node]]
        for node in only_base:
            assert node in skipped or not _reaches(solid, "start", node), (label, labels[node])
        for a in (node for node in only_base if node not in skipped):
            for b in only_theirs:
                assert not _reaches(solid, a, b), (label, labels[a], labels[b])
                assert not _reaches(solid, b, a), (label, labels[b], labels[a])
    for name in chain.form.model_fields:
        assert f"{name}=" not in text, name
    arms = re.findall(r"^\s*(\w+) -->\|([^|]*)\| \w+$", text, re.M)
    assert all(text_ for source, text_ in arms if source in decisions)


class CafeForm(BaseModel):
    cafe_name: str = Field(min_length=2, description="名称", examples=["运河咖啡"])
    floor_area_m2: float = Field(gt=0, le=5_000, description="营业面积（平方米）", examples=[120])


cafe = Chain(
    code="zz_diagram_cafe",
    name_zh="测试开咖啡馆",
    name_en="Test cafe",
    form=CafeForm,
    departments=("market", "fire", "urban"),
    materials=(),
    licences=(LicenceType("permit", "经营许可证", "market"),),
    promised_days=10,
    statutory_days=20,
)


@cafe.flow(version=1)
async def _cafe_flow(case: CaseContext[CafeForm]) -> None:
    await case.review("market", "经营许可审查", days=2)
    if case.form.floor_area_m2 > 300:
        await case.review("fire", "消防检查", days=3)
    else:
        await case.review("urban", "简易备案", days=1)
    await case.issue("permit")


def test_an_if_else_is_a_decision_whose_arms_join() -> None:
    text = mermaid(cafe)
    decision = re.search(r'^\s*(d\d+)\{"营业面积？"\}$', text, re.M)
    assert decision, text
    d = decision.group(1)
    fire, urban = node_id(text, "消防检查"), node_id(text, "简易备案")
    assert f"  {d} -->|营业面积 > 300 平方米| {fire}\n" in text
    assert f"  {d} -->|营业面积 ≤ 300 平方米| {urban}\n" in text
    issue = node_id(text, "统一出件")
    assert f"  {fire} --> {issue}\n" in text and f"  {urban} --> {issue}\n" in text
    assert f"{fire} --> {urban}" not in text and f"{urban} --> {fire}" not in text
