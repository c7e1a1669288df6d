"""``onechain chains``: list the chains, draw a chain's flow (a tree or a Mermaid
flowchart), check chain modules, write a new chain, regenerate the generated docs.

The analysis (running a flow against a recording stand-in for the engine, the form
variants, the checks) lives in :mod:`workflows.flow_analysis`; this module only
presents it.

Exit codes: 0 ok, 1 ``check`` found mistakes (or ``docs --check`` stale files), 2 bad
usage or unreadable file.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.tree import Tree

from cli.output import (
    EXIT_CODES_HELP,
    EXIT_REJECTED,
    EXIT_USAGE,
    emit_json,
    fail,
    guarded,
    message,
    stdout,
    table,
)
from workflows.chain import Chain
from workflows.flow_analysis import (
    KIND_ZH,
    CheckResult,
    Issue,
    Node,
    Step,
    check_chain,
    condition_lines,
    conditions,
    days_text,
    explore,
    known_e_licence_types,
    longest_path,
    node_json,
)
from workflows.flow_diagram import mermaid
from workflows.form_samples import sample_values, show_value
from workflows.legal_basis import basis_notes, step_basis


class ShowFormat(enum.StrEnum):
    TREE = "tree"
    JSON = "json"
    MERMAID = "mermaid"


app = typer.Typer(
    help="The chains (一件事): list them, draw a flow, check chain modules, write a new one, "
    "regenerate the docs that list them.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)


# ---------------------------------------------------------------------------- drawing
def _days_text(step: Step) -> str:
    text = days_text(step.days)
    if step.days is not None and step.stops_case_clock:
        text += "，案件计时暂停"
    return text


def department_name(code: str) -> str:
    """The office's name for a department (database, else the code list)."""
    from cli.departments import office_department_names

    return office_department_names()(code)


def _departments_text(codes: Sequence[str]) -> str:
    return "、".join(f"{department_name(c)}({c})" for c in codes)


def _step_label(step: Step) -> str:
    if step.awaits_event:
        return (
            f"[bold]{step.name}[/]  等待申请人告知 [cyan]{step.awaits_event}[/]"
            "（窗口登记），案件计时暂停"
        )
    extra = "，不同意时继续" if step.on_reject == "continue" else ""
    kind = KIND_ZH.get(step.kind, step.kind)
    kind_text = "" if kind == step.name else f" · {kind}"
    return (
        f"[bold]{step.name}[/]{kind_text} · "
        f"{_departments_text(step.departments)} · {_days_text(step)}{extra}"
    )


def _licence_name(chain: Chain, code: str) -> str:
    try:
        licence = chain.licence(code)
    except LookupError:
        return f"{code}（未声明）"
    return f"{licence.name}({code}, {department_name(licence.department)})"


def draw(tree: Tree, nodes: Sequence[Node], chain: Chain) -> None:
    for node in nodes:
        if isinstance(node, Step):
            basis = step_basis(chain, node.name)
            tree.add(_step_label(node) + (f"\n[dim]依据：{escape(basis)}[/]" if basis else ""))
        elif isinstance(node, Issue):
            tree.add("[green]出件[/] " + "、".join(_licence_name(chain, c) for c in node.licences))
        else:
            days, _ = longest_path([node])
            stage = tree.add(f"[magenta]并联[/] [bold]{node.stage}[/]（最长 {days} 个工作日）")
            for index, branch in enumerate(node.branches, start=1):
                if len(branch) == 1:
                    draw(stage, branch, chain)
                else:
                    draw(stage.add(f"分支 {index}（依次）"), branch, chain)


# --------------------------------------------------------------------------- commands
def _chain(code: str) -> Chain:
    from workflows import registry

    try:
        return registry.get_chain(code)
    except LookupError as unknown:
        fail(str(unknown), EXIT_USAGE)


def _registered() -> list[Chain]:
    import chains  # noqa: F401  (registers the chains)
    from workflows import registry

    return registry.all_chains()


@app.command("list")
@guarded
def list_chains(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the registered chains: flow versions, promised/statutory working days, departments, steps in brief."""
    found = _registered()
    if as_json:
        emit_json(
            [
                {
                    "code": c.code,
                    "name_zh": c.name_zh,
                    "name_en": c.name_en,
                    "versions": sorted(c.flows),
                    "promised_days": c.promised_days,
                    "statutory_days": c.statutory_days,
                    "departments": list(c.departments),
                    "licences": [lic.code for lic in c.licences],
                    "materials": [m.code for m in c.materials],
                    "applicant_kind": c.applicant_kind,
                    "description": c.description,
                    "legal_basis": basis_json(c),
                    "fees": c.fees,
                }
                for c in found
            ]
        )
        return
    table(
        "Chains (一件事)",
        ["code", "chain", "flow", "days", "depts", "steps"],
        [
            [
                c.code,
                c.name_zh,
                ",".join(f"v{v}" for v in sorted(c.flows)) or "none",
                f"{c.promised_days}/{c.statutory_days}",
                len(c.departments),
                c.description,
            ]
            for c in found
        ],
    )


def _form_values(chain: Chain, form: str | None) -> dict[str, Any]:
    values = sample_values(chain.form)
    if form is None:
        return values
    text = form
    if not form.lstrip().startswith("{") and Path(form).is_file():
        try:
            text = Path(form).read_text(encoding="utf-8")
        except OSError as error:
            fail(f"--form {form}: {error}", EXIT_USAGE)
    try:
        given = json.loads(text)
    except json.JSONDecodeError as error:
        fail(f"--form is not JSON (or a JSON file): {error}", EXIT_USAGE)
    if not isinstance(given, dict):
        fail("--form must be a JSON object of form fields", EXIT_USAGE)
    unknown = sorted(set(given) - set(chain.form.model_fields))
    if unknown:
        fields = ", ".join(chain.form.model_fields)
        fail(f"--form: unknown field(s) {', '.join(unknown)} (fields: {fields})", EXIT_USAGE)
    values.update(given)
    try:
        chain.form.model_validate(values)
    except ValidationError as invalid:
        # a field given wrong, or a rule across fields (no location) the given ones break
        mine = [e for e in invalid.errors() if not e["loc"] or e["loc"][0] in given]
        if mine:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in mine
            )
            fail(f"--form for chain {chain.code}: {problems}", EXIT_USAGE)
    return values


@app.command()
@guarded
def show(
    code: Annotated[str, typer.Argument(metavar="CODE", help="Chain code, e.g. kindergarten.")],
    form: Annotated[
        str | None,
        typer.Option(
            metavar="JSON",
            help="Form fields (JSON object or a JSON file) to draw the branches they take; "
            "missing fields come from the sample form.",
        ),
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="Flow version (default: the one new cases start on).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a tree (same as --format json).")
    ] = False,
    output_format: Annotated[
        ShowFormat,
        typer.Option(
            "--format",
            help="tree (default), json, or mermaid: a Mermaid flowchart to paste into "
            "Markdown (Gitee, GitLab, GitHub render it).",
        ),
    ] = ShowFormat.TREE,
) -> None:
    """Draw a chain's flow: stages, parallel steps, departments, limits, and how other forms change it.

    `--format mermaid` prints a flowchart: an if/else of the flow as a decision (rhombus) with an arm per way and the condition, in the form's Chinese labels, on each arm, joined where the flow joins; parallel stages as boxes, joint steps double-edged, steps only some forms add dashed with the condition on their arrow, limits on every node.
    """
    _registered()
    chain = _chain(code)
    if not chain.flows:
        fail(f"chain {chain.code} has no flow", EXIT_REJECTED)
    version = version if version is not None else chain.version
    if version not in chain.flows:
        known = ", ".join(str(v) for v in sorted(chain.flows))
        fail(f"chain {chain.code} has no flow version {version} (known: {known})", EXIT_USAGE)
    values = _form_values(chain, form)
    exploration = explore(chain, version, values)
    if exploration.base is None:
        fail(f"chain {chain.code} v{version}: {exploration.base_error}", EXIT_REJECTED)
    if output_format is ShowFormat.MERMAID:
        typer.echo(mermaid(chain, version, values), nl=False)
        return
    days, path = longest_path(exploration.base)
    found = conditions(exploration)
    if as_json or output_format is ShowFormat.JSON:
        emit_json(
            {
                "code": chain.code,
                "name_zh": chain.name_zh,
                "version": version,
                "promised_days": chain.promised_days,
                "statutory_days": chain.statutory_days,
                "form": values,
                "flow": [node_json(n) for n in exploration.base],
                "longest_path_days": days,
                "longest_path": [s.name for s in path if s.case_days],
                "conditions": found,
                "materials": materials_for(chain, values),
                "legal_basis": basis_json(chain),
                "fees": chain.fees,
                "note": "branches depend on the form; this flow is drawn for 'form'",
            }
        )
        return
    tree = Tree(
        f"[bold]{chain.name_zh}[/] ({chain.code}) v{version} — 承诺 {chain.promised_days} / "
        f"法定 {chain.statutory_days} 个工作日"
    )
    draw(tree, exploration.base, chain)
    stdout.print(tree, soft_wrap=False)
    over = " [red]exceeds the promised limit[/]" if days > chain.promised_days else ""
    message(f"Step limits along the longest path: {days} working days{over}")
    shown = ", ".join(f"{k}={show_value(v)}" for k, v in values.items())
    message(
        f"Branches depend on the form; drawn for: {shown}. Use --form JSON to draw another branch."
    )
    if found:
        message("Conditions (other forms):")
        for line in condition_lines(found, days):
            message(f"  {line}")
    message("Materials (一套材料) for this form:")
    for item in materials_for(chain, values):
        kind = "关键" if item["key"] else "非关键"
        when = f"，仅当 {item['condition']} 时提交" if item["condition"] else ""
        asked = "" if item["asked"] else " — 本表单不需要"
        holds = f"；容缺时暂缓 {'、'.join(item['holds'])}" if item["holds"] else ""
        message(f"  {item['code']} {item['name']}（{kind}{when}{holds}）{asked}")
    for line in basis_lines(chain):
        message(line)


def materials_for(chain: Chain, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Each material, whether this form asks for it, its condition in Chinese and, under
    容缺受理, the licences it holds back while missing."""
    form = chain.form.model_validate(values)
    rows: list[dict[str, Any]] = []
    for material in chain.materials:
        holds: list[str] = []
        if chain.allow_incomplete and not material.key:
            codes = material.needed_for
            holds = [lic.name for lic in chain.licences if codes is None or lic.code in codes]
        rows.append(
            {
                "code": material.code,
                "name": material.name,
                "key": material.key,
                "asked": material.applies(form),
                "condition": chain.material_condition(material),
                "holds": holds,
            }
        )
    return rows


def basis_json(chain: Chain) -> dict[str, Any]:
    basis = chain.legal_basis
    return {
        "laws": list(basis.laws),
        "statutory": basis.statutory,
        "promised": basis.promised,
        "steps": dict(basis.steps),
    }


def basis_lines(chain: Chain) -> list[str]:
    """法律依据 and fees under the tree: the laws, where each limit comes from."""
    basis = chain.legal_basis
    if basis.is_empty() and not chain.fees:
        return ["法律依据: not declared (legal_basis=LegalBasis(...) on the Chain)"]
    lines = ["法律依据:"]
    lines += [f"  {law}" for law in basis.laws]
    if basis.statutory:
        lines.append(f"  法定时限 {chain.statutory_days} 个工作日 — {basis.statutory}")
    if basis.promised:
        lines.append(f"  承诺时限 {chain.promised_days} 个工作日 — {basis.promised}")
    lines.append(f"收费: {chain.fees or 'not declared'}")
    return lines


def load_chain_file(path: Path) -> list[Chain]:
    """The chains a module file defines (its ``chain``, or every Chain it holds)."""
    name = f"onechain_check_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        fail(f"{path}: not a Python module", EXIT_USAGE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the form's annotations through it
    spec.loader.exec_module(module)
    found = [value for value in vars(module).values() if isinstance(value, Chain)]
    chain = getattr(module, "chain", None)
    if isinstance(chain, Chain):
        return [chain, *[c for c in found if c is not chain]]
    return list({id(c): c for c in found}.values())


def _office_department_codes() -> set[str]:
    """The departments chains may name: the office's, from the shared database."""
    from readmodel.database import ready_engine
    from readmodel.departments import department_codes
    from runtime.settings import get_settings

    return department_codes(ready_engine(get_settings().resolved_database_url))


@app.command()
@guarded
def check(
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="[PATH]",
            help="A chain module file or a folder of them (default: every registered chain).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
) -> None:
    """Check chains for mistakes: departments, licences, materials, limits, missing flow.

    Prints one line per mistake (chain: what is wrong) and exits 1 if there is any.

    The flow runs against the sample form and variants of it (each yes/no flipped, each choice, small and large numbers), so a mistake on a branch no variant takes is not found.
    """
    _registered()
    results: list[CheckResult] = []
    if path is None:
        targets: list[tuple[str, Chain | None, str | None]] = [
            (c.code, c, None) for c in _registered()
        ]
    else:
        if not path.exists():
            fail(f"{path}: no such file or folder", EXIT_USAGE)
        files = (
            sorted(p for p in path.glob("*.py") if p.name != "__init__.py")
            if path.is_dir()
            else [path]
        )
        targets = []
        for file in files:
            try:
                loaded = load_chain_file(file)
            except typer.Exit:
                raise
            except Exception as error:
                targets.append((str(file), None, f"cannot load: {type(error).__name__}: {error}"))
                continue
            if not loaded:
                targets.append(
                    (str(file), None, "defines no Chain (expected `chain = Chain(...)`)")
                )
            targets += [(c.code, c, None) for c in loaded]
    known = known_e_licence_types()
    departments = _office_department_codes()
    for name, chain, problem in targets:
        if chain is None:
            results.append(CheckResult(name, mistakes=[problem or "cannot load"]))
        else:
            result = check_chain(chain, known, departments)
            result.notes += basis_notes(chain)  # what the 办事指南 page lacks
            results.append(result)
    bad = any(r.mistakes for r in results)
    if as_json:
        emit_json(
            {
                "ok": not bad,
                "chains": [
                    {
                        "code": r.code,
                        "mistakes": r.mistakes,
                        "notes": r.notes,
                        "warnings": r.warnings,
                        "forms_explored": r.explored,
                    }
                    for r in results
                ],
            }
        )
    else:
        for result in results:
            for mistake in result.mistakes:
                typer.echo(f"{result.code}: {mistake}")
            if not result.mistakes:
                typer.echo(f"{result.code}: ok ({result.explored} form variants explored)")
            for warning in result.warnings:
                typer.echo(f"{result.code}: warning: {warning}", err=True)
            for note in result.notes:
                typer.echo(f"{result.code}: note: {note}", err=True)
    if bad:
        raise typer.Exit(EXIT_REJECTED)


@app.command()
@guarded
def docs(
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="Change nothing; list the files that are out of date and exit 1."
        ),
    ] = False,
) -> None:
    """Regenerate every file that depends on the set of chains: import-format columns, sample import file, chain catalogue (docs/chains/).

    Run it after adding, removing or changing a chain; the tests run `--check`.
    """
    import docsgen

    _registered()
    if check_only:
        found = docsgen.stale()
        for name in found:
            typer.echo(f"out of date: {name}")
        if found:
            message("run `onechain chains docs` to regenerate them")
            raise typer.Exit(EXIT_REJECTED)
        typer.echo("generated docs are up to date")
        return
    changed = docsgen.write()
    for name in changed:
        typer.echo(f"wrote {name}")
    if not changed:
        typer.echo("generated docs were already up to date")


class ApplicantKind(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    EITHER = "either"


def _project_root() -> Path:
    import chains

    return Path(chains.__file__).resolve().parent.parent


def _on_terminal() -> bool:
    """Whether options left out may be asked for (stdin is a terminal)."""
    return sys.stdin.isatty()


def _ask(value: Any, prompt: str, default: Any, *, required: bool, missing: list[str]) -> Any:
    """The flag's value; else ask on a terminal; else the default (or note it missing)."""
    if value is not None:
        return value
    if _on_terminal():
        return typer.prompt(prompt, default=default)
    if required:
        missing.append(prompt.split(" ", 1)[0])
    return default


@app.command("new")
@guarded
def new_chain(
    code: Annotated[
        str, typer.Argument(metavar="CODE", help="The new chain's code, e.g. pharmacy.")
    ],
    name_zh: Annotated[str | None, typer.Option(help="Chinese name, e.g. 我要开药店.")] = None,
    name_en: Annotated[str | None, typer.Option(help="English name.")] = None,
    departments: Annotated[
        str | None,
        typer.Option(metavar="A,B", help="Department codes, comma-separated, e.g. market,fire."),
    ] = None,
    promised_days: Annotated[
        int | None, typer.Option(help="承诺时限, working days (default 10).")
    ] = None,
    statutory_days: Annotated[
        int | None, typer.Option(help="法定时限, working days (default 20).")
    ] = None,
    applicant_kind: Annotated[
        ApplicantKind | None, typer.Option(help="Who may apply (default organisation).")
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(help="Project folder holding chains/, tests/ and docs/ (default: this one)."),
    ] = None,
) -> None:
    """Write a new chain module and its test from a template, register it, regenerate the docs.

    The result passes `chains check` and its own test at once; then edit the form, the materials and the flow. Missing options are asked for on a terminal; elsewhere --name-zh and --departments are required.
    """
    import docsgen
    from docsgen.scaffold import NewChain, write_new_chain
    from workflows import registry

    _registered()
    missing: list[str] = []
    name_zh = _ask(name_zh, "--name-zh (中文名称)", "", required=True, missing=missing)
    name_en = _ask(
        name_en, "--name-en", code.replace("_", " ").capitalize(), required=False, missing=missing
    )
    departments = _ask(
        departments, "--departments (e.g. market,fire)", "", required=True, missing=missing
    )
    promised_days = _ask(promised_days, "--promised-days", 10, required=False, missing=missing)
    statutory_days = _ask(statutory_days, "--statutory-days", 20, required=False, missing=missing)
    kind = _ask(
        applicant_kind,
        "--applicant-kind",
        ApplicantKind.ORGANISATION,
        required=False,
        missing=missing,
    )
    if missing:
        fail(f"missing {', '.join(missing)} (not on a terminal, so nothing was asked)", EXIT_USAGE)
    new = NewChain(
        code=code,
        name_zh=str(name_zh).strip(),
        name_en=str(name_en).strip(),
        departments=tuple(d.strip() for d in str(departments).split(",") if d.strip()),
        promised_days=int(promised_days),
        statutory_days=int(statutory_days),
        applicant_kind=ApplicantKind(kind).value,  # type: ignore[arg-type]
    )
    problems = new.problems()
    if any(c.code == code for c in registry.all_chains()):
        problems.append(f"CODE {code!r}: a chain with this code is already registered")
    if problems:
        fail("; ".join(problems), EXIT_USAGE)
    project = (root or _project_root()).resolve()
    try:
        written = write_new_chain(new, project)
    except (FileExistsError, FileNotFoundError, ValueError) as error:
        fail(str(error), EXIT_USAGE)
    for path in written:
        typer.echo(f"wrote {path.relative_to(project)}")
    (chain, *_) = load_chain_file(written[0])
    registry.register(chain)
    result = check_chain(chain)
    for mistake in result.mistakes:
        typer.echo(f"{chain.code}: {mistake}")
    if (project / "docs" / "import-format.md").is_file():
        for name in docsgen.write(project):
            typer.echo(f"wrote {name}")
    message(
        f"next: edit chains/{code}.py (form, materials, licences, flow), then "
        f"`onechain chains check`, `onechain chains show {code}`, "
        f"`./run.sh test tests/test_chain_{code}.py` and `onechain chains docs`; on a running "
        f"system (worker restarted) `onechain chains try {code}`"
    )
    if result.mistakes:
        raise typer.Exit(EXIT_REJECTED)


@app.command("try")
@guarded
def try_command(
    code: Annotated[str, typer.Argument(metavar="CODE", help="Chain code, e.g. pharmacy.")],
    role: Annotated[
        str | None,
        typer.Option(
            metavar="ROLE[:DEPARTMENT]",
            help="Act in this role of yours (window_clerk or coordinator).",
        ),
    ] = None,
    case_no: Annotated[
        str | None, typer.Option(help="Case number (default TRY-CODE-<time>).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Start one sample case of a chain on the running system and say what to do next.

    The sample form is built through the chain's model (as the demo's), with every material; the case is accepted as the signed-in window clerk. Prints the open tasks, the departments that must act and their reviewers, and the commands to sign them in (one session each), decide the tasks and follow the case. Exit 3 when no worker answers (start or restart it: a worker knows only the chains it imported).
    """
    from cli.chain_try import try_chain

    try_chain(code, role, case_no, as_json)
