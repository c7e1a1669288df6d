"""The flow analysis behind ``chains show``, ``chains check``, the diagrams and the
catalogue: a chain's flow run against a recording stand-in for the engine.

A flow is async Python, so it cannot be read off a table. To analyse it, the flow
runs against :class:`RecordingCase`, a mirror of ``workflows.steps.CaseContext``
with the same step methods (a test keeps the signatures equal): every step is
recorded instead of waiting for departments, every step "approves", and
``parallel`` records its branches. Nothing touches Temporal. Branches on the form
(``if case.form...``) follow the form the flow is given: a sample built from the
form model (:mod:`workflows.form_samples`); :func:`explore` also runs variants of it
(each yes/no flipped, each choice, small and large numbers), and :func:`conditions`
says what each variant changes.

Pure: no I/O, no Typer or Rich; the CLI and the docs only present what this returns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from domain.case import Applicant
from domain.departments import DEPARTMENTS
from workflows.chain import Chain
from workflows.form_samples import (
    SampleProblem,
    build_form,
    sample_applicant,
    sample_problems,
    sample_values,
    variants,
)
from workflows.legal_basis import basis_mistakes
from workflows.steps import StepResult

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
    wait: bool = False  # the flow waits for licences held under 容缺受理


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

    async def issue(self, *licence_codes: str, wait: bool = False) -> None:
        self._target.append(Issue(list(licence_codes), wait))


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
    if node.wait:
        return {"type": "issue", "licences": node.licences, "wait": True}
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
    applicant = sample_applicant(chain.applicant_kind)
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


def form_issuing(chain: Chain, licence: str) -> dict[str, Any] | None:
    """Form values (the sample form or one of its variants) on which the chain's
    current flow issues ``licence``; None when no explored form does."""
    applicant = sample_applicant(chain.applicant_kind)
    materials = [m.code for m in chain.materials]
    for _, values in variants(chain.form, sample_values(chain.form)):
        try:
            nodes = record_flow(
                chain.flows[chain.version], build_form(chain.form, values), applicant, materials
            )
        except FlowNotDrawable:
            continue
        if licence in issued_of(nodes):
            return values
    return None


def known_e_licence_types() -> set[str]:
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
    #: Where a case of the chain could wait longer than it must (容缺受理).
    warnings: list[str] = field(default_factory=list)


def check_chain(
    chain: Chain,
    known_e_licences: set[str] | None = None,
    departments: Collection[str] = DEPARTMENTS,
) -> CheckResult:
    """Every mistake ``chains check`` reports for one chain, each a short sentence.

    ``departments``: the codes chains may name; ``chains check`` passes the office's
    (from the database), the default is the code's own list.
    """
    result = CheckResult(chain.code)
    mistakes = result.mistakes
    known_e_licences = known_e_licences if known_e_licences is not None else known_e_licence_types()
    known_e_licences = known_e_licences | {lic.code for lic in chain.licences}
    declared = set(chain.departments)

    for code in chain.departments:
        if code not in departments:
            mistakes.append(f"declares unknown department {code!r}")
    for code in _duplicates(chain.departments):
        mistakes.append(f"declares department {code!r} twice")
    for code in _duplicates(lic.code for lic in chain.licences):
        mistakes.append(f"declares licence {code!r} twice")
    for licence in chain.licences:
        if licence.department not in departments:
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
            if verifier not in departments:
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
    mistakes += material_mistakes(chain)
    if chain.promised_days > chain.statutory_days:
        mistakes.append(
            f"promised limit {chain.promised_days} is longer than the statutory "
            f"{chain.statutory_days} working days"
        )
    mistakes += [sample_mistake(problem) for problem in sample_problems(chain.form)]
    if not chain.flows:
        mistakes.append("has no flow")
        return result

    used_departments: set[str] = set()
    issued: set[str] = set()
    step_names: set[str] = set()  # for the legal basis per step
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
                step_names.add(step.name)
                for department in step.departments:
                    used_departments.add(department)
                    if department not in departments:
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
        found = [held for _, nodes in exploration.runs for held in held_issues(chain, nodes)]
        result.warnings += [f"{prefix}: {w}" for w in held_issue_warnings(found)]
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
    result.warnings = material_warnings(chain) + result.warnings
    mistakes += basis_mistakes(chain, step_names)
    return result


def material_mistakes(chain: Chain) -> list[str]:
    """Conditions on fields the form lacks, and 容缺 holds on licences never declared."""
    from workflows.material_conditions import condition_problems

    mistakes: list[str] = []
    declared = {lic.code for lic in chain.licences}
    for material in chain.materials:
        if material.required_if is not None:
            for problem in condition_problems(material.required_if, chain.form):
                mistakes.append(f"material {material.code!r}: required_if {problem}")
        for code in material.needed_for or ():
            if code not in declared:
                mistakes.append(
                    f"material {material.code!r} is needed_for licence {code!r}, "
                    "which the chain does not declare"
                )
    return mistakes


def material_warnings(chain: Chain) -> list[str]:
    """容缺受理: non-key materials that hold every licence, or none."""
    if not chain.allow_incomplete:
        return []
    warnings: list[str] = []
    for material in chain.materials:
        if material.key:
            continue
        if material.needed_for is None:
            warnings.append(
                f"容缺: non-key material {material.code!r} declares no needed_for, so while "
                "it is missing it holds back every licence; name the licences it is needed for"
            )
        elif not material.needed_for:
            warnings.append(
                f"容缺: non-key material {material.code!r} is needed for no licence: no "
                "licence waits for it, only its supplement deadline applies"
            )
    return warnings


def _in_order(nodes: Iterable[Node]) -> list[Node]:
    """Steps and issues in the order a case meets them (parallel branches flattened)."""
    found: list[Node] = []
    for node in nodes:
        if isinstance(node, Parallel):
            for branch in node.branches:
                found += _in_order(branch)
        else:
            found.append(node)
    return found


def held_issues(chain: Chain, nodes: list[Node]) -> list[tuple[bool, str, dict[str, list[str]]]]:
    """容缺: each issue before further steps of licences a non-key item may hold back,
    as (the flow waits there, the next step, {licence: the items that hold it}).

    Without ``wait=True`` such a licence is issued once its item arrives and the flow
    does not wait for it (cases started before per-licence holds stopped there until
    every item came)."""
    if not chain.allow_incomplete:
        return []
    order = _in_order(nodes)
    found: list[tuple[bool, str, dict[str, list[str]]]] = []
    for index, node in enumerate(order):
        if not isinstance(node, Issue):
            continue
        later = [n.name for n in order[index + 1 :] if isinstance(n, Step)]
        if not later:
            continue
        held = {
            licence: [
                m.code
                for m in chain.materials
                if not m.key and (m.needed_for is None or licence in m.needed_for)
            ]
            for licence in node.licences
        }
        held = {licence: holders for licence, holders in held.items() if holders}
        if held:
            found.append((node.wait, later[0], held))
    return found


def held_issue_warnings(found: list[tuple[bool, str, dict[str, list[str]]]]) -> list[str]:
    """One warning per kind of issue and next step, over every explored form."""
    merged: dict[tuple[bool, str], dict[str, list[str]]] = {}
    for wait, step, held in found:
        merged.setdefault((wait, step), {}).update(held)
    warnings: list[str] = []
    for (wait, step), held in merged.items():
        which = "; ".join(f"{lic} by {', '.join(items)}" for lic, items in held.items())
        if wait:
            warnings.append(
                f"容缺: the flow waits (wait=True) before further steps ({step} …) while a "
                f"licence is held back for a missing non-key item ({which}): those steps "
                "wait for the applicant too"
            )
        else:
            warnings.append(
                f"容缺: issued before further steps ({step} …), a licence may be held back "
                f"while a non-key item is missing ({which}); the later steps go on without "
                "it, so they must not need it (else issue with wait=True)"
            )
    return warnings


def sample_mistake(problem: SampleProblem) -> str:
    """``chains check``'s line for a form no sample can fill: which fields the author
    must give examples for, and for a rule across fields, one whole-form example."""
    fields = ", ".join(problem.fields)
    if not problem.across_fields:
        return (
            f"the sample form does not validate ({fields}: {problem.message}); give that "
            "field examples=[...] (demo cases, drawings and the import sample use them)"
        )
    example = ", ".join(f'"{name}": …' for name in problem.fields)
    return (
        f"no sample form meets the rule across fields {fields} ({problem.message}); give "
        "examples of these fields that meet it together, or a whole form: model_config = "
        f'ConfigDict(json_schema_extra={{"examples": [{{{example}}}]}})'
    )


def _form_label(label: str) -> str:
    return f"form with {label}" if label else "sample form"


def _step_keys(nodes: list[Node]) -> dict[str, Step]:
    return {s.name: s for s in steps_of(nodes)}


def _step_text(step: Step) -> str:
    return f"{step.name}（{'、'.join(step.departments)}）"


def days_text(days: int | None) -> str:
    """A step limit as people say it: 即办, N 个工作日, or 不计时 (no limit)."""
    if days is None:
        return "不计时"
    return "即办" if days == 0 else f"{days} 个工作日"


def step_changes(before: Step, after: Step, department: Callable[[str], str] = str) -> list[str]:
    """What differs between two recordings of the same step: departments (shown by
    ``department``, codes by default), limit, kind, whether it stops the case clock,
    what a rejection does."""
    changes: list[str] = []
    if before.departments != after.departments:
        old = "、".join(department(d) for d in before.departments)
        new = "、".join(department(d) for d in after.departments)
        changes.append(f"departments {old} → {new}")
    if before.days != after.days:
        changes.append(f"limit {days_text(before.days)} → {days_text(after.days)}")
    if before.kind != after.kind:
        changes.append(f"kind {before.kind} → {after.kind}")
    if before.stops_case_clock != after.stops_case_clock:
        changes.append("stops the case clock" if after.stops_case_clock else "case clock runs")
    if before.on_reject != after.on_reject:
        changes.append(f"on rejection {before.on_reject} → {after.on_reject}")
    return changes


def condition_lines(found: list[dict[str, Any]], base_days: int) -> list[str]:
    """One line per condition (``when X: + step; - step; ~ step: limit …``), as
    ``chains show`` prints them and the catalogue lists them."""
    lines: list[str] = []
    for item in found:
        changes = [f"+ {s}" for s in item["adds_steps"]]
        changes += [f"- {s}" for s in item["drops_steps"]]
        changes += [f"~ {s}" for s in item["changes_steps"]]
        if item["regroups_steps"]:
            changes.append("~ 环节顺序或并联分组不同")
        changes += [f"+ 出件 {c}" for c in item["adds_licences"]]
        changes += [f"- 出件 {c}" for c in item["drops_licences"]]
        if change := item["longest_days_change"]:
            changes.append(f"longest path {base_days + change} working days ({change:+d})")
        lines.append(f"when {item['when']}: " + "; ".join(changes))
    return lines


def conditions(exploration: Exploration) -> list[dict[str, Any]]:
    """How each variant with one field changed differs from the drawn flow: steps
    added or dropped, steps whose departments, limit or kind change, licences, the
    longest path, and (when nothing else differs) the order or grouping of steps."""
    if exploration.base is None:
        return []
    base_steps = _step_keys(exploration.base)
    base_licences = set(issued_of(exploration.base))
    base_days = longest_path(exploration.base)[0]
    base_shape = [node_json(n) for n in exploration.base]
    found: list[dict[str, Any]] = []
    for label, nodes in exploration.runs:
        if not label or ", " in label:  # the drawn form, or several fields at once
            continue
        steps = _step_keys(nodes)
        licences = set(issued_of(nodes))
        added = [_step_text(s) for k, s in steps.items() if k not in base_steps]
        removed = [_step_text(s) for k, s in base_steps.items() if k not in steps]
        changed = [
            f"{_step_text(s)}: {'; '.join(step_changes(base_steps[k], s))}"
            for k, s in steps.items()
            if k in base_steps and step_changes(base_steps[k], s)
        ]
        days = longest_path(nodes)[0]
        regrouped = (
            not (added or removed or changed) and [node_json(n) for n in nodes] != base_shape
        )
        if not (added or removed or changed or regrouped or licences != base_licences):
            continue
        found.append(
            {
                "when": label,
                "adds_steps": added,
                "drops_steps": removed,
                "changes_steps": changed,
                "regroups_steps": regrouped,
                "adds_licences": sorted(licences - base_licences),
                "drops_licences": sorted(base_licences - licences),
                "longest_days": days,
                "longest_days_change": days - base_days,
            }
        )
    return found
