"""A chain's flow as a Mermaid flowchart (renders on Gitee, GitLab and GitHub).

The picture is the flow recorded for the sample form, with the other forms' branches
merged in (:func:`workflows.flow_analysis.explore`): a step only some forms take is
drawn dashed and its arrow says when ("当 signboard_complex=true"); a step some forms
skip says so on the node; a step whose departments or limit depend on the form lists
the difference. Parallel stages (并联) are boxes with one lane per branch; joint steps
(联合踏勘, 多图联审 …) are drawn as double-edged boxes; waiting for the applicant as a
slanted box; issuing (出件) as a hexagon. Limits are on every node.

Pure: builds text only.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field

from domain.departments import department_name
from workflows.chain import Chain
from workflows.flow_analysis import (
    KIND_ZH,
    Exploration,
    Issue,
    Node,
    Parallel,
    Step,
    days_text,
    explore,
    issued_of,
    longest_path,
    step_changes,
    steps_of,
)
from workflows.form_samples import sample_values


@dataclass
class _Marks:
    """What the other forms do to the union of the recorded flows."""

    added: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    dropped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    changed: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    licences_added: dict[tuple[int, str], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    licences_dropped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def _steps_in(node: Node) -> list[Step]:
    return steps_of([node])


def _find(into: list[Node], node: Node, start: int) -> int | None:
    order = list(range(start, len(into))) + list(range(start))
    for index in order:
        candidate = into[index]
        if isinstance(node, Step) and isinstance(candidate, Step) and candidate.name == node.name:
            return index
        if (
            isinstance(node, Parallel)
            and isinstance(candidate, Parallel)
            and candidate.stage == node.stage
        ):
            return index
        if isinstance(node, Issue) and isinstance(candidate, Issue) and index >= start:
            return index
    return None


def _merge(into: list[Node], other: list[Node], label: str, marks: _Marks) -> None:
    """Fold ``other`` (a variant's recording) into ``into`` (the union so far)."""
    position = 0
    for node in other:
        index = _find(into, node, position)
        if index is None:
            new = copy.deepcopy(node)
            into.insert(position, new)
            for step in _steps_in(new):
                marks.added[id(step)].append(label)
            if isinstance(new, Issue):
                for code in new.licences:
                    marks.licences_added[(id(new), code)].append(label)
            position += 1
            continue
        target = into[index]
        if isinstance(target, Step) and isinstance(node, Step):
            if id(target) in marks.added:
                marks.added[id(target)].append(label)
            elif changes := step_changes(target, node, department_name):
                marks.changed[id(target)].append(f"{label}：{'；'.join(changes)}")
        elif isinstance(target, Parallel) and isinstance(node, Parallel):
            for branch in node.branches:
                names = {s.name for s in steps_of(branch)}
                home = next(
                    (b for b in target.branches if names & {s.name for s in steps_of(b)}),
                    None,
                )
                if home is None:
                    home = []
                    target.branches.append(home)
                _merge(home, branch, label, marks)
        elif isinstance(target, Issue) and isinstance(node, Issue):
            for code in node.licences:
                if code not in target.licences:
                    target.licences.append(code)
                    marks.licences_added[(id(target), code)].append(label)
                elif (id(target), code) in marks.licences_added:
                    marks.licences_added[(id(target), code)].append(label)
        position = index + 1


def _when(labels: list[str]) -> str:
    """``a=1``, ``a=2``, ``b=true`` → ``a=1/2 或 b=true``."""
    by_field: dict[str, list[str]] = {}
    for label in labels:
        name, _, value = label.partition("=")
        values = by_field.setdefault(name, [])
        if value and value not in values:
            values.append(value)
    return " 或 ".join(f"{n}={'/'.join(v)}" if v else n for n, v in by_field.items())


def _text(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def _edge_text(text: str) -> str:
    """Text safe inside ``-->|…|``: no pipes, brackets or quotes."""
    table = str.maketrans({"|": "/", '"': "'", "(": "（", ")": "）", "[": "【", "]": "】"})
    return text.translate(table)


class _Drawing:
    def __init__(self, chain: Chain, marks: _Marks) -> None:
        self.chain = chain
        self.marks = marks
        self.lines: list[str] = []
        self.edges: list[str] = []
        self.dashed: list[str] = []
        self.count = 0

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def step_node(self, step: Step, indent: str) -> str:
        node_id = self.new_id("s")
        departments = "、".join(department_name(d) for d in step.departments)
        limit = days_text(step.days)
        if step.stops_case_clock:
            limit += "，案件计时暂停"
        kind = KIND_ZH.get(step.kind, step.kind)
        title = step.name if kind in (step.name, "审查") else f"{step.name}（{kind}）"
        lines = [f"<b>{title}</b>"]
        if step.awaits_event:
            lines.append(f"等待申请人：{step.awaits_event}")
        else:
            lines.append(departments)
        lines.append(limit)
        if step.on_reject == "continue":
            lines.append("不同意时继续")
        if labels := self.marks.dropped.get(step.name):
            lines.append(f"当 {_when(labels)} 时不办")
        lines += [f"当 {change}" for change in self.marks.changed.get(id(step), [])]
        label = _text("\n".join(lines))
        if step.awaits_event:
            shape = f'[/"{label}"/]'
        elif len(step.departments) > 1:
            shape = f'[["{label}"]]'
        else:
            shape = f'["{label}"]'
        self.lines.append(f"{indent}{node_id}{shape}")
        if id(step) in self.marks.added:
            self.dashed.append(node_id)
        return node_id

    def issue_node(self, issue: Issue, indent: str) -> str:
        node_id = self.new_id("i")
        names = []
        for code in issue.licences:
            try:
                name = self.chain.licence(code).name
            except LookupError:
                name = f"{code}（未声明）"
            if labels := self.marks.licences_added.get((id(issue), code)):
                name += f"（当 {_when(labels)}）"
            if labels := self.marks.licences_dropped.get(code):
                name += f"（当 {_when(labels)} 时不出）"
            names.append(name)
        label = _text("<b>统一出件</b>\n" + "\n".join(names))
        self.lines.append(f'{indent}{node_id}{{{{"{label}"}}}}')
        return node_id

    def sequence(
        self, nodes: list[Node], entries: list[tuple[str, str]], indent: str
    ) -> list[tuple[str, str]]:
        """Draw ``nodes`` in order after ``entries`` (node id, pending edge label);
        returns the exits to connect whatever follows."""
        current = entries
        for node in nodes:
            if isinstance(node, Parallel):
                current = self.parallel(node, current, indent)
                continue
            node_id = (
                self.step_node(node, indent)
                if isinstance(node, Step)
                else self.issue_node(node, indent)
            )
            when = (
                _when(self.marks.added[id(node)])
                if isinstance(node, Step) and id(node) in self.marks.added
                else ""
            )
            self.connect(current, node_id, when)
            current = [(node_id, "")]
        return current

    def parallel(
        self, node: Parallel, entries: list[tuple[str, str]], indent: str
    ) -> list[tuple[str, str]]:
        if len(entries) > 1 and len(node.branches) > 1:  # many to many: join first
            join = self.new_id("j")
            self.lines.append(f'{indent}{join}((" "))')
            self.connect(entries, join, "")
            entries = [(join, "")]
        days, _ = longest_path([node])
        box = self.new_id("p")
        self.lines.append(
            f'{indent}subgraph {box}["{_text(f"并联：{node.stage}（最长 {days} 个工作日）")}"]'
        )
        exits: list[tuple[str, str]] = []
        for branch in node.branches:
            exits += self.sequence(branch, entries, indent + "  ")
        self.lines.append(f"{indent}end")
        return exits

    def connect(self, sources: list[tuple[str, str]], target: str, when: str) -> None:
        for source, _ in sources:
            if when:
                self.edges.append(f"  {source} -.->|{_edge_text('当 ' + when)}| {target}")
            else:
                self.edges.append(f"  {source} --> {target}")


def union_flow(exploration: Exploration) -> tuple[list[Node], _Marks]:
    """The sample form's flow with every single-field variant's steps merged in."""
    marks = _Marks()
    if exploration.base is None:
        return [], marks
    union = copy.deepcopy(exploration.base)
    base_names = {s.name for s in steps_of(exploration.base)}
    base_licences = set(issued_of(exploration.base))
    for label, nodes in exploration.runs:
        if not label or ", " in label:  # the base, or several fields at once
            continue
        _merge(union, nodes, label, marks)
        for name in sorted(base_names - {s.name for s in steps_of(nodes)}):
            marks.dropped[name].append(label)
        for code in sorted(base_licences - set(issued_of(nodes))):
            marks.licences_dropped[code].append(label)
    return union, marks


def mermaid(chain: Chain, version: int | None = None, form: dict | None = None) -> str:
    """The flow of ``chain`` (version: the one new cases start on) as a Mermaid
    ``flowchart``; branches follow ``form`` (default: the sample form) and the
    variants of it."""
    version = version if version is not None else chain.version
    exploration = explore(chain, version, form if form is not None else sample_values(chain.form))
    if exploration.base is None:
        raise ValueError(f"chain {chain.code} v{version}: {exploration.base_error}")
    union, marks = union_flow(exploration)
    drawing = _Drawing(chain, marks)
    limits = f"承诺 {chain.promised_days} / 法定 {chain.statutory_days} 个工作日"
    drawing.lines += [
        "flowchart TD",
        f'  start(["{_text(f"受理：{chain.name_zh}（{limits}）")}"])',
    ]
    exits = drawing.sequence(union, [("start", "")], "  ")
    drawing.lines.append('  finish(["办结"])')
    drawing.connect(exits, "finish", "")
    drawing.lines += drawing.edges
    if drawing.dashed:
        drawing.lines.append("  classDef conditional stroke-dasharray: 5 5")
        drawing.lines.append(f"  class {','.join(drawing.dashed)} conditional")
    return "\n".join(drawing.lines) + "\n"
