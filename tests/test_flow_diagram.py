"""``chains show CODE --format mermaid`` and the generated catalogue pages: parallel
stages, joint steps, steps only some forms take (dashed, with the condition on the
arrow), limits on the nodes. Drawn for chains defined here, not today's list."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field
from typer.testing import CliRunner

from cli.app import app
from docsgen import catalogue
from tests.extra_chain import registered
from workflows.chain import Chain, LicenceType, Material
from workflows.flow_diagram import mermaid
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
    assert re.search(rf"-\.->\|当 big=true\| {fire}\n", text)
    assert re.search(rf"class [\w,]*\b{fire}\b[\w,]* conditional", text)
    # A step some forms skip, a limit that depends on the form, a licence only some get.
    assert "当 outdoor_sign=false 时不办" in node_line(text, "招牌审查")
    assert "当 big=true：limit 1 个工作日 → 2 个工作日" in node_line(text, "联合踏勘")
    issue = node_line(text, "统一出件")
    assert (
        "消防合格证（当 big=true）" in issue
        and "招牌意见书（当 outdoor_sign=false 时不出）" in issue
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
