"""``onechain chains``: list the chains, draw a chain's flow, check a chain module.

A flow is async Python, so it cannot be read off a table. To draw it, the flow
runs against :class:`RecordingCase`, a stand-in for ``workflows.steps.CaseContext``
with the same step methods: every step is recorded instead of waiting for
departments, every step "approves", and ``parallel`` records its branches. Nothing
touches Temporal. Branches on the form (``if case.form...``) follow the form the
flow is given: a sample built from the form model's defaults and examples (or
``--form``); ``check`` and the "conditions" of ``show`` also run a few variants
of it (each yes/no flipped, each choice, small and large numbers).

Exit codes: 0 ok, 1 ``check`` found mistakes, 2 bad usage or unreadable file.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import sys
import types
import typing
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
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
from domain.case import Applicant
from domain.departments import DEPARTMENTS, department_name
from workflows.chain import Chain
from workflows.steps import StepResult

app = typer.Typer(
    help="The chains (一件事): list them, draw a flow, check a chain module.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)

#: Departments every chain may use without declaring them (the one window).
IMPLICIT_DEPARTMENTS = frozenset({"window"})
#: E-licence types held by other government systems, not issued by any chain.
EXTERNAL_E_LICENCES: dict[str, str] = {"resident_id": "居民身份证"}

KIND_ZH = {
    "review": "审查",
    "joint_survey": "联合踏勘",
    "drawing_review": "多图联审",
    "combined_evaluation": "多评合一",
    "joint_acceptance": "联合验收",
    "applicant_event": "等待申请人",
}


# --------------------------------------------------------------------------- recording
@dataclass
class Step:
    kind: str
    name: str
    departments: list[str]
    days: int | None
    on_reject: str = "end"
    stops_case_clock: bool = False
    awaits_event: str | None = None

    @property
    def case_days(self) -> int:
        """Working days this step can take off the case's own clock."""
        if self.days is None or self.stops_case_clock:
            return 0
        return self.days


@dataclass
class Parallel:
    stage: str
    branches: list[list[Node]] = field(default_factory=list)


@dataclass
class Issue:
    licences: list[str]


Node = Step | Parallel | Issue


class FlowNotDrawable(Exception):
    """The flow raised, or awaited something other than the case's steps."""


class RecordingCase:
    """A stand-in for ``workflows.steps.CaseContext`` that records the steps.

    Same attributes (``form``, ``applicant``, ``materials``, ``case_no``) and step
    methods with the same signatures; every step is approved at once.
    """

    def __init__(self, form: BaseModel, applicant: Applicant, materials: Sequence[str]) -> None:
        self.form = form
        self.applicant = applicant
        self.materials = tuple(materials)
        self.case_no = "PREVIEW"
        self.nodes: list[Node] = []
        self._target = self.nodes
        self._tasks = 0

    async def _human_step(self, step: Step) -> StepResult:
        if not step.departments:
            raise ValueError(f"step {step.name!r} needs at least one department")
        self._target.append(step)
        self._tasks += 1
        return StepResult(
            task_id=f"T{self._tasks}",
            approved=True,
            comments={d: "" for d in step.departments},
        )

    async def review(
        self,
        department: str,
        name: str,
        *,
        days: int,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        return await self._human_step(Step("review", name, [department], days, on_reject))

    async def joint_survey(
        self,
        departments: Sequence[str],
        name: str = "联合踏勘",
        *,
        days: int,
        stops_clock: bool = False,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        step = Step("joint_survey", name, list(departments), days, on_reject, stops_clock)
        return await self._human_step(step)

    async def drawing_review(
        self,
        departments: Sequence[str],
        name: str = "多图联审",
        *,
        days: int,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        return await self._human_step(
            Step("drawing_review", name, list(departments), days, on_reject)
        )

    async def combined_evaluation(
        self,
        departments: Sequence[str],
        name: str = "多评合一",
        *,
        days: int,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        return await self._human_step(
            Step("combined_evaluation", name, list(departments), days, on_reject)
        )

    async def joint_acceptance(
        self,
        departments: Sequence[str],
        name: str = "联合验收",
        *,
        days: int,
        stops_clock: bool = False,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        return await self._human_step(
            Step("joint_acceptance", name, list(departments), days, on_reject, stops_clock)
        )

    async def wait_for_applicant(self, event: str, name: str) -> StepResult:
        step = Step("applicant_event", name, ["window"], None, "end", True, awaits_event=event)
        return await self._human_step(step)

    async def parallel(
        self, stage: str, *steps: Coroutine[Any, Any, StepResult]
    ) -> list[StepResult]:
        node = Parallel(stage)
        self._target.append(node)
        outer = self._target
        results: list[StepResult] = []
        try:
            for step in steps:
                branch: list[Node] = []
                node.branches.append(branch)
                self._target = branch
                results.append(await step)
        finally:
            self._target = outer
        return results

    async def issue(self, *licence_codes: str) -> None:
        self._target.append(Issue(list(licence_codes)))


def record_flow(
    flow: Callable[[Any], Coroutine[Any, Any, None]],
    form: BaseModel,
    applicant: Applicant,
    materials: Sequence[str],
) -> list[Node]:
    """Run ``flow`` against a :class:`RecordingCase` and return what it did.

    The recording never suspends, so the coroutine is driven by hand: no event
    loop is needed (and none is disturbed when the caller already runs one).
    """
    case = RecordingCase(form, applicant, materials)
    coroutine = flow(case)
    try:
        coroutine.send(None)
    except StopIteration:
        return case.nodes
    except Exception as error:
        raise FlowNotDrawable(f"{type(error).__name__}: {error}") from error
    coroutine.close()
    raise FlowNotDrawable("the flow awaited something other than the case's steps")


# ----------------------------------------------------------------------- sample forms
def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _bounds(info: FieldInfo) -> tuple[float | None, float | None, bool]:
    """Lower bound, upper bound, and whether the lower bound is exclusive."""
    low: float | None = None
    high: float | None = None
    exclusive = False
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            low = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            low, exclusive = float(item.gt), True  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            high = float(item.le)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Lt):
            high = float(item.lt) - 1  # type: ignore[arg-type]
    return low, high, exclusive


def _min_length(info: FieldInfo) -> int:
    for item in info.metadata:
        if isinstance(item, annotated_types.MinLen):
            return item.min_length
    return 0


def _number(info: FieldInfo, kind: type, large: bool) -> int | float:
    low, high, exclusive = _bounds(info)
    if large:
        value = high if high is not None else max(low or 0, 0) + 10_000
    else:
        value = (low + 1 if exclusive else low) if low is not None else 1
        if high is not None:
            value = min(value, high)
    return int(value) if kind is int else float(value)


def _choices(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [member.value for member in annotation]
    return []


def _sample_value(info: FieldInfo) -> Any:
    if not info.is_required():
        return info.get_default(call_default_factory=True)
    if info.examples:
        return info.examples[0]
    annotation, _ = _unwrap_optional(info.annotation)
    if choices := _choices(annotation):
        return choices[0]
    if annotation is bool:
        return False
    if annotation in (int, float):
        return _number(info, annotation, large=False)
    if annotation is str:
        return "示例" + "样" * max(0, _min_length(info) - 2)
    if annotation is date:
        return date(2026, 1, 5).isoformat()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sample_values(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return []
    if origin is dict:
        return {}
    return None


def sample_values(model: type[BaseModel]) -> dict[str, Any]:
    """Plausible values for every field: defaults, then examples, then made-up ones
    that meet the field's bounds (the lowest allowed number, a short text)."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    base = dict(examples[0]) if isinstance(examples, list) and examples else {}
    values = {}
    for name, info in model.model_fields.items():
        values[name] = base[name] if name in base else _sample_value(info)
    return values


def variants(model: type[BaseModel], base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The base values, then one field changed at a time (every yes/no flipped, every
    other choice, the smallest and the largest number), then all yes/no at once."""
    found: list[tuple[str, dict[str, Any]]] = [("", base)]
    flags: list[str] = []

    def add(label: str, values: dict[str, Any]) -> None:
        if all(values != seen for _, seen in found):
            found.append((label, values))

    for name, info in model.model_fields.items():
        annotation, optional = _unwrap_optional(info.annotation)
        current = base.get(name)
        options: list[Any] = []
        if annotation is bool:
            flags.append(name)
            options = [not current]
        elif choices := _choices(annotation):
            options = [c for c in choices if c != current]
        elif annotation in (int, float):
            options = [
                _number(info, annotation, large=False),
                _number(info, annotation, large=True),
            ]
        if optional:
            options.append(None)
        for option in options:
            if option != current:
                add(f"{name}={_show(option)}", {**base, name: option})
    for flag_value in (True, False):
        if len(flags) > 1:
            add(
                ", ".join(f"{f}={_show(flag_value)}" for f in flags),
                {**base, **dict.fromkeys(flags, flag_value)},
            )
    return found


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def build_form(model: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    """The form as the flow sees it; unvalidated when sample values break a rule the
    flow does not branch on (e.g. a name pattern)."""
    try:
        return model.model_validate(values)
    except ValidationError:
        return model.model_construct(**values)


def sample_applicant(chain: Chain) -> Applicant:
    kind: Literal["person", "organisation"] = (
        "person" if chain.applicant_kind == "person" else "organisation"
    )
    return Applicant(kind=kind, name="示例申请人", id_number="000000000000000000")


# -------------------------------------------------------------------------- analysis
def steps_of(nodes: Iterable[Node]) -> list[Step]:
    found: list[Step] = []
    for node in nodes:
        if isinstance(node, Step):
            found.append(node)
        elif isinstance(node, Parallel):
            for branch in node.branches:
                found += steps_of(branch)
    return found


def issued_of(nodes: Iterable[Node]) -> list[str]:
    found: list[str] = []
    for node in nodes:
        if isinstance(node, Issue):
            found += node.licences
        elif isinstance(node, Parallel):
            for branch in node.branches:
                found += issued_of(branch)
    return found


def longest_path(nodes: Iterable[Node]) -> tuple[int, list[Step]]:
    """Working days on the case's clock along the slowest sequence of steps, and it.

    Steps in a sequence add up; parallel branches count as the slowest branch.
    Steps that stop the case's clock (applicant waits, surveys that stop it) count 0.
    """
    total = 0
    path: list[Step] = []
    for node in nodes:
        if isinstance(node, Step):
            total += node.case_days
            path.append(node)
        elif isinstance(node, Parallel) and node.branches:
            days, slowest = max((longest_path(b) for b in node.branches), key=lambda r: r[0])
            total += days
            path += slowest
    return total, path


def node_json(node: Node) -> dict[str, Any]:
    if isinstance(node, Step):
        return {
            "type": "step",
            "kind": node.kind,
            "name": node.name,
            "departments": node.departments,
            "days": node.days,
            "stops_case_clock": node.stops_case_clock,
            "on_reject": node.on_reject,
            "awaits_event": node.awaits_event,
        }
    if isinstance(node, Parallel):
        return {
            "type": "parallel",
            "stage": node.stage,
            "branches": [[node_json(n) for n in b] for b in node.branches],
        }
    return {"type": "issue", "licences": node.licences}


@dataclass
class Exploration:
    """One version's flow run against the sample form and its variants."""

    version: int
    base: list[Node] | None
    base_error: str | None
    runs: list[tuple[str, list[Node]]]
    errors: list[tuple[str, str]]


def explore(chain: Chain, version: int, base_values: dict[str, Any]) -> Exploration:
    """Run one flow version on the given form, on its variants, with only the key
    materials, and (for chains open to both) with a person instead of an organisation."""
    flow = chain.flows[version]
    applicant = sample_applicant(chain)
    all_materials = [m.code for m in chain.materials]
    key_materials = [m.code for m in chain.materials if m.key]
    runs: list[tuple[str, list[Node]]] = []
    errors: list[tuple[str, str]] = []
    base: list[Node] | None = None
    base_error: str | None = None
    cases = [
        (label, values, all_materials, applicant)
        for label, values in variants(chain.form, base_values)
    ]
    if key_materials != all_materials:
        cases.append(("only key materials received", base_values, key_materials, applicant))
    if chain.applicant_kind == "either":
        person = applicant.model_copy(update={"kind": "person"})
        cases.append(("applicant kind=person", base_values, all_materials, person))
    for label, values, materials, who in cases:
        try:
            nodes = record_flow(flow, build_form(chain.form, values), who, materials)
        except FlowNotDrawable as error:
            errors.append((label, str(error)))
            if not label:
                base_error = str(error)
            continue
        if not label:
            base = nodes
        runs.append((label, nodes))
    return Exploration(version, base, base_error, runs, errors)


def _known_e_licences() -> set[str]:
    from workflows import registry

    known = set(EXTERNAL_E_LICENCES)
    for registered in registry.all_chains():
        known |= {lic.code for lic in registered.licences}
    return known


def _duplicates(codes: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    twice: list[str] = []
    for code in codes:
        if code in seen and code not in twice:
            twice.append(code)
        seen.add(code)
    return twice


def _describe_path(path: list[Step]) -> str:
    return " → ".join(f"{s.name} {s.case_days}" for s in path if s.case_days)


@dataclass
class CheckResult:
    code: str
    mistakes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    explored: int = 0


def check_chain(chain: Chain, known_e_licences: set[str] | None = None) -> CheckResult:
    """Every mistake ``chains check`` reports for one chain, each a short sentence."""
    result = CheckResult(chain.code)
    mistakes = result.mistakes
    known_e_licences = known_e_licences if known_e_licences is not None else _known_e_licences()
    known_e_licences = known_e_licences | {lic.code for lic in chain.licences}
    declared = set(chain.departments)

    for code in chain.departments:
        if code not in DEPARTMENTS:
            mistakes.append(f"declares unknown department {code!r}")
    for code in _duplicates(chain.departments):
        mistakes.append(f"declares department {code!r} twice")
    for code in _duplicates(lic.code for lic in chain.licences):
        mistakes.append(f"declares licence {code!r} twice")
    for licence in chain.licences:
        if licence.department not in DEPARTMENTS:
            mistakes.append(
                f"licence {licence.code!r} is issued by unknown department {licence.department!r}"
            )
        elif licence.department not in declared | IMPLICIT_DEPARTMENTS:
            mistakes.append(
                f"licence {licence.code!r} is issued by department {licence.department!r}, "
                "which the chain does not declare"
            )
    for code in _duplicates(m.code for m in chain.materials):
        mistakes.append(f"declares material {code!r} twice")
    for material in chain.materials:
        if material.e_licence is not None and material.e_licence not in known_e_licences:
            mistakes.append(
                f"material {material.code!r} is replaced by e-licence {material.e_licence!r}, "
                "which no chain issues and no outside system holds"
            )
        if not material.name.strip():
            mistakes.append(f"material {material.code!r} has no name")
        verifier = getattr(material, "verifier", None)
        if verifier is not None:
            if verifier not in DEPARTMENTS:
                mistakes.append(
                    f"material {material.code!r} is verified by unknown department {verifier!r}"
                )
            elif verifier not in declared | IMPLICIT_DEPARTMENTS:
                mistakes.append(
                    f"material {material.code!r} is verified by department {verifier!r}, "
                    "which the chain does not declare"
                )
            if not material.commitment:
                mistakes.append(
                    f"material {material.code!r} names a verifier but no commitment "
                    "(告知承诺) may replace it"
                )
    if chain.promised_days > chain.statutory_days:
        mistakes.append(
            f"promised limit {chain.promised_days} is longer than the statutory "
            f"{chain.statutory_days} working days"
        )
    if not chain.flows:
        mistakes.append("has no flow")
        return result

    used_departments: set[str] = set()
    issued: set[str] = set()
    for version in sorted(chain.flows):
        exploration = explore(chain, version, sample_values(chain.form))
        result.explored += len(exploration.runs) + len(exploration.errors)
        prefix = f"flow v{version}"
        for label, error in exploration.errors:
            mistakes.append(f"{prefix} fails on the {_form_label(label)}: {error}")
        worst: tuple[int, list[Step], str] | None = None
        problems: dict[str, None] = {}
        for label, nodes in exploration.runs:
            for step in steps_of(nodes):
                for department in step.departments:
                    used_departments.add(department)
                    if department not in DEPARTMENTS:
                        problems[f"step {step.name!r} names unknown department {department!r}"] = (
                            None
                        )
                    elif department not in declared | IMPLICIT_DEPARTMENTS:
                        problems[
                            f"step {step.name!r} uses department {department!r}, "
                            "which the chain does not declare"
                        ] = None
                if step.days is not None and step.days < 0:
                    problems[f"step {step.name!r} has a negative limit ({step.days})"] = None
            codes = issued_of(nodes)
            issued |= set(codes)
            for code in codes:
                if code not in {lic.code for lic in chain.licences}:
                    problems[f"issues licence {code!r}, which the chain does not declare"] = None
            for code in _duplicates(codes):
                problems[f"issues licence {code!r} twice on the {_form_label(label)}"] = None
            days, path = longest_path(nodes)
            if worst is None or days > worst[0]:
                worst = (days, path, label)
        mistakes += [f"{prefix}: {p}" for p in problems]
        if worst is not None and worst[0] > chain.promised_days:
            days, path, label = worst
            mistakes.append(
                f"{prefix}: step limits along the longest path add up to {days} working days "
                f"({_describe_path(path)}; {_form_label(label)}), more than the promised "
                f"{chain.promised_days}"
            )
    unused = [d for d in chain.departments if d not in used_departments]
    if unused:
        result.notes.append(f"declared departments no explored branch uses: {', '.join(unused)}")
    never = [lic.code for lic in chain.licences if lic.code not in issued]
    if never:
        result.notes.append(f"declared licences no explored branch issues: {', '.join(never)}")
    return result


def _form_label(label: str) -> str:
    return f"form with {label}" if label else "sample form"


# ---------------------------------------------------------------------------- drawing
def _days_text(step: Step) -> str:
    if step.days is None:
        return "不计时"
    text = "即办" if step.days == 0 else f"{step.days} 个工作日"
    if step.stops_case_clock:
        text += "，案件计时暂停"
    return text


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
            tree.add(_step_label(node))
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


def _step_keys(nodes: list[Node]) -> dict[str, Step]:
    return {s.name: s for s in steps_of(nodes)}


def _step_text(step: Step) -> str:
    return f"{step.name}（{'、'.join(step.departments)}）"


def conditions(exploration: Exploration) -> list[dict[str, Any]]:
    """How each variant with one field changed differs from the drawn flow."""
    if exploration.base is None:
        return []
    base_steps = _step_keys(exploration.base)
    base_licences = set(issued_of(exploration.base))
    found: list[dict[str, Any]] = []
    for label, nodes in exploration.runs:
        if not label or ", " in label:  # the drawn form, or several fields at once
            continue
        steps = _step_keys(nodes)
        licences = set(issued_of(nodes))
        added = [_step_text(s) for k, s in steps.items() if k not in base_steps]
        removed = [_step_text(s) for k, s in base_steps.items() if k not in steps]
        changed = [
            _step_text(s)
            for k, s in steps.items()
            if k in base_steps and s.departments != base_steps[k].departments
        ]
        if not (added or removed or changed or licences != base_licences):
            continue
        found.append(
            {
                "when": label,
                "adds_steps": added,
                "drops_steps": removed,
                "changes_steps": changed,
                "adds_licences": sorted(licences - base_licences),
                "drops_licences": sorted(base_licences - licences),
                "longest_days": longest_path(nodes)[0],
            }
        )
    return found


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
        mine = [e for e in invalid.errors() if e["loc"] and e["loc"][0] in given]
        if mine:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in mine)
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a tree.")] = False,
) -> None:
    """Draw a chain's flow as a tree: stages, parallel steps, departments, limits, conditions."""
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
    days, path = longest_path(exploration.base)
    found = conditions(exploration)
    if as_json:
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
    shown = ", ".join(f"{k}={_show(v)}" for k, v in values.items())
    message(
        f"Branches depend on the form; drawn for: {shown}. Use --form JSON to draw another branch."
    )
    if found:
        message("Conditions (other forms):")
        for item in found:
            changes = [f"+ {s}" for s in item["adds_steps"]]
            changes += [f"- {s}" for s in item["drops_steps"]]
            changes += [f"~ {s}" for s in item["changes_steps"]]
            changes += [f"+ 出件 {c}" for c in item["adds_licences"]]
            changes += [f"- 出件 {c}" for c in item["drops_licences"]]
            message(f"  when {item['when']}: " + "; ".join(changes))


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
    known = _known_e_licences()
    for name, chain, problem in targets:
        if chain is None:
            results.append(CheckResult(name, mistakes=[problem or "cannot load"]))
        else:
            results.append(check_chain(chain, known))
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
            for note in result.notes:
                typer.echo(f"{result.code}: note: {note}", err=True)
    if bad:
        raise typer.Exit(EXIT_REJECTED)
