"""法律依据 and fees on a chain: declared in the module, checked by ``chains check``,
shown by ``chains show`` and on the chain's 办事指南 page; the licence-code index says
which chain issues which code and which codes are only relied on (outside systems)."""

from __future__ import annotations

import dataclasses
import json

from typer.testing import CliRunner

import chains  # noqa: F401  (registers the chains)
from cli.app import app
from docsgen import catalogue
from tests.extra_chain import extra_chain, registered
from workflows import registry
from workflows.flow_analysis import EXTERNAL_E_LICENCES, check_chain, explore, steps_of
from workflows.form_samples import sample_values
from workflows.legal_basis import LegalBasis

runner = CliRunner()


def _first_step(chain: object) -> str:
    exploration = explore(chain, chain.version, sample_values(chain.form))  # type: ignore[attr-defined]
    return steps_of(exploration.base or [])[0].name


BASIS = LegalBasis(
    laws=("《测试条例》第三条", "《中华人民共和国行政许可法》第四十二条"),
    statutory="《测试条例》第九条：20 个工作日",
    promised="测试承诺：10 个工作日",
)
STEP_BASIS = "《测试条例》第十条：即办"


def _with_basis(**changes: object) -> object:
    step = _first_step(extra_chain)
    basis = dataclasses.replace(BASIS, steps={step: STEP_BASIS})
    chain = dataclasses.replace(extra_chain, legal_basis=basis, fees="不收费", **changes)
    chain.flows = dict(extra_chain.flows)
    return chain


def test_every_registered_chain_declares_its_basis_and_fees() -> None:
    for chain in registry.all_chains():
        basis = chain.legal_basis
        assert basis.laws and basis.statutory and basis.promised and chain.fees, chain.code
        assert check_chain(chain).mistakes == [], chain.code  # per-step names all exist


def test_a_step_basis_naming_no_step_is_a_mistake() -> None:
    chain = _with_basis()
    assert check_chain(chain).mistakes == []
    typo = dataclasses.replace(
        chain, legal_basis=dataclasses.replace(BASIS, steps={"没有这步": "x"})
    )
    typo.flows = dict(extra_chain.flows)
    assert check_chain(typo).mistakes == [
        "legal_basis.steps names step '没有这步', which no explored form of the flow has"
    ]


def test_chains_show_prints_the_basis_of_the_chain_its_limits_and_a_step() -> None:
    chain = _with_basis()
    with registered(chain):
        tree = runner.invoke(app, ["chains", "show", chain.code])
        shown = runner.invoke(app, ["chains", "show", chain.code, "--json"])
    assert tree.exit_code == 0, tree.output
    assert "法律依据:" in tree.output and "《测试条例》第三条" in tree.output
    assert f"法定时限 {chain.statutory_days} 个工作日 — 《测试条例》第九条" in tree.output
    assert f"承诺时限 {chain.promised_days} 个工作日 — 测试承诺" in tree.output
    assert f"依据：{STEP_BASIS}" in tree.output and "收费: 不收费" in tree.output
    data = json.loads(shown.stdout)
    assert data["legal_basis"]["laws"] == list(BASIS.laws) and data["fees"] == "不收费"
    with registered(chain):
        listed = json.loads(runner.invoke(app, ["chains", "list", "--json"]).stdout)
    mine = next(c for c in listed if c["code"] == chain.code)
    assert mine["legal_basis"]["statutory"] == BASIS.statutory and mine["fees"] == "不收费"


def test_a_chain_without_basis_says_so_in_show_and_check() -> None:
    with registered(extra_chain):
        tree = runner.invoke(app, ["chains", "show", extra_chain.code])
    assert "法律依据: not declared" in tree.output


def test_the_catalogue_page_is_a_service_guide() -> None:
    chain = _with_basis()
    step = _first_step(chain)
    with registered(chain):
        page = catalogue.pages()[f"{chain.code}.md"]
    guide = page.split("## Flow")[0]
    assert "| 法定时限 | 20 个工作日（《测试条例》第九条：20 个工作日） |" in guide
    assert "| 承诺时限 | 10 个工作日（测试承诺：10 个工作日） |" in guide
    assert "| 收费标准 | 不收费 |" in guide
    assert "1. 《测试条例》第三条" in guide
    assert f"| {step}（" in guide and STEP_BASIS in guide
    conditional = dataclasses.replace(chain.materials[-1], form_hint="经营高危险性体育项目时提交")
    marked = dataclasses.replace(chain, materials=(*chain.materials[:-1], conditional))
    marked.flows = dict(extra_chain.flows)
    with registered(marked):
        page = catalogue.pages()[f"{marked.code}.md"]
    assert "有条件：经营高危险性体育项目时提交 |" in page


def test_licence_code_index_names_issuers_users_and_external_codes() -> None:
    with registered(extra_chain):
        pages = catalogue.pages()
    index = pages[catalogue.LICENCE_INDEX]
    assert f"]({catalogue.LICENCE_INDEX})" in pages["README.md"]
    issued_row = next(line for line in index.splitlines() if line.startswith("| `venue_permit`"))
    assert f"[{extra_chain.name_zh}]({extra_chain.code}.md)（市场监管局）" in issued_row
    external = index.split("## External")[1]
    for code in EXTERNAL_E_LICENCES:
        row = next(line for line in external.splitlines() if line.startswith(f"| `{code}`"))
        assert f"[{extra_chain.name_zh}]({extra_chain.code}.md)：经营者身份证明" in row
    for chain in registry.all_chains():
        for lic in chain.licences:
            assert f"| `{lic.code}` |" in index.split("## External")[0]
