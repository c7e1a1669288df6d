"""A chain's flow as a Mermaid flowchart (renders on Gitee, GitLab and GitHub).

The picture is the flow recorded for the sample form, with the other forms' flows
folded in (:func:`workflows.flow_analysis.explore`). Where a form takes one way and
another form another (an ``if``/``else``), the picture branches at a decision node
(a rhombus asking about the form, e.g. 场所类别？) with each way on its own arm and the
condition on its arrow, and the arms join again where the flow joins. A step only some
forms add to a parallel stage is a dashed lane with the condition on its arrow; a step
some forms skip says so on the node; a step whose departments or limit depend on the
form lists the difference. Conditions are in the form's Chinese labels (营业面积 > 300
平方米: :mod:`workflows.flow_conditions`). Parallel stages (并联) are boxes with one lane
per branch; joint steps (联合踏勘, 多图联审 …) are double-edged boxes; waiting for the
applicant a slanted box; issuing (出件) a hexagon. Limits are on every node.

Pure: builds text only.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Sequence
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
    longest_path,
    step_changes,
    steps_of,
)
from workflows.flow_conditions import Conditions
from workflows.form_samples import sample_values


@dataclass
class _Marks:
    """What the other forms do to the drawn flow (labels of the variants)."""

    added: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    dropped: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    changed: dict[int, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    licences_added: dict[tuple[int, str], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    licences_dropped: dict[tuple[int, str], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    #: The step names, in order, of the flow on a form that has every given variant's
    #: change at once (None when that form cannot be built or drawn).
    together: Callable[[list[str]], list[str] | None] = lambda _labels: None


@dataclass
class Option:
    """One arm of a decision: the variants (labels) that take it, and its steps. The
    first option of a :class:`Choice` is the sample form's (``when`` empty)."""

    when: list[str]
    nodes: list[DrawnNode]


@dataclass
class Choice:
    """An ``if``/``else`` of the flow: one decision, several arms, joined after."""

    options: list[Option]


DrawnNode = Step | Parallel | Issue | Choice
Variant = tuple[str, list[Node]]


def _same(a: Node, b: Node) -> bool:
    """Whether two recorded nodes are the same place in the flow."""
    if isinstance(a, Step) and isinstance(b, Step):
        return a.name == b.name
    if isinstance(a, Parallel) and isinstance(b, Parallel):
        return a.stage == b.stage
    if isinstance(a, Issue) and isinstance(b, Issue):
        return bool(set(a.licences) & set(b.licences))
    return False


def _key(nodes: Sequence[Node]) -> str:
    parts = []
    for node in nodes:
        if isinstance(node, Step):
            parts.append(f"s:{node.name}")
        elif isinstance(node, Parallel):
            parts.append(f"p:{node.stage}:" + "|".join(_key(b) for b in node.branches))
        else:
            parts.append("i:" + ",".join(node.licences))
    return ";".join(parts)


def _align(base: list[Node], other: list[Node]) -> list[tuple[int, int]]:
    """Matched (base index, other index) pairs of the longest common sequence."""
    n, m = len(base), len(other)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = (
                table[i + 1][j + 1] + 1
                if _same(base[i], other[j])
                else max(table[i + 1][j], table[i][j + 1])
            )
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < n and j < m:
        if _same(base[i], other[j]) and table[i][j] == table[i + 1][j + 1] + 1:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return _pair_issues(pairs, base, other)


def _pair_issues(
    pairs: list[tuple[int, int]], base: list[Node], other: list[Node]
) -> list[tuple[int, int]]:
    """Issues in the same place that hand out different licences (the form picks which
    permit) are one issue whose licences depend on the form, not a decision."""
    found: list[tuple[int, int]] = []
    previous = (-1, -1)
    for pair in [*pairs, (len(base), len(other))]:
        mine = range(previous[0] + 1, pair[0])
        theirs = range(previous[1] + 1, pair[1])
        if len(mine) == len(theirs) and all(
            isinstance(base[i], Issue) and isinstance(other[j], Issue)
            for i, j in zip(mine, theirs, strict=True)
        ):
            found += zip(mine, theirs, strict=True)
        if pair[0] < len(base):
            found.append(pair)
        previous = pair
    return found


@dataclass
class _Gap:
    variant: int
    start: int  # base span [start, end)
    end: int


def _gaps(pairs: list[tuple[int, int]], n: int, m: int, variant: int) -> list[_Gap]:
    found: list[_Gap] = []
    previous = (-1, -1)
    for pair in [*pairs, (n, m)]:
        if pair[0] - previous[0] > 1 or pair[1] - previous[1] > 1:
            found.append(_Gap(variant, previous[0] + 1, pair[0]))
        previous = pair
    return found


def _clusters(gaps: list[_Gap]) -> list[tuple[int, int, list[_Gap]]]:
    """Gaps that touch or overlap on the base, as one decision each: (start, end, gaps)."""
    found: list[tuple[int, int, list[_Gap]]] = []
    for gap in sorted(gaps, key=lambda g: (g.start, g.end)):
        if found and gap.start <= found[-1][1]:
            start, end, members = found[-1]
            found[-1] = (start, max(end, gap.end), [*members, gap])
        else:
            found.append((gap.start, gap.end, [gap]))
    return found


def _build(base: list[Node], others: list[Variant], marks: _Marks) -> list[DrawnNode]:
    """The drawn sequence: ``base`` (the sample form's recording) with each variant's
    recording folded in; where they part, a :class:`Choice`."""
    matches = [_align(base, nodes) for _, nodes in others]
    position = [dict(pairs) for pairs in matches]
    gaps = [
        gap
        for index, ((_, nodes), pairs) in enumerate(zip(others, matches, strict=True))
        for gap in _gaps(pairs, len(base), len(nodes), index)
    ]
    drawn: list[DrawnNode] = []
    i = 0
    for start, end, members in [*_clusters(gaps), (len(base), len(base), [])]:
        for index in range(i, start):
            drawn.append(_matched(base[index], others, position, index, marks))
        if not members and start == len(base):
            break
        parting = {gap.variant for gap in members}
        staying: list[Variant] = []
        arms: dict[str, tuple[list[str], list[Node]]] = {}
        for index, (label, nodes) in enumerate(others):
            low = position[index][start - 1] + 1 if start > 0 else 0
            high = position[index][end] if end < len(base) else len(nodes)
            segment = nodes[low:high]
            if index not in parting:
                staying.append((label, segment))
                continue
            labels, _ = arms.setdefault(_key(segment), ([], segment))
            labels.append(label)
        base_arm = _build(base[start:end], staying, marks)
        options = [Option(labels, _build(segment, [], marks)) for labels, segment in arms.values()]
        drawn += _decisions(base_arm, options, start == end, marks)
        i = end
    return drawn


def _decisions(
    base_arm: list[DrawnNode], options: list[Option], inserted: bool, marks: _Marks
) -> list[Choice]:
    """One decision with an arm per way; or, where forms only add steps at one place
    and one form can add them all (the flow's ``if``s are independent), one decision
    per addition, in the order such a form takes them."""
    if inserted and len(options) > 1:
        firsts = [_drawn_steps(option.nodes) for option in options]
        order = marks.together([option.when[0] for option in options])
        if order is not None and all(f and f[0].name in order for f in firsts):
            ranked = sorted(
                zip(firsts, options, strict=True), key=lambda p: order.index(p[0][0].name)
            )
            return [Choice([Option([], []), option]) for _, option in ranked]
    return [Choice([Option([], base_arm), *options])]


def _matched(
    node: Node, others: list[Variant], position: list[dict[int, int]], index: int, marks: _Marks
) -> DrawnNode:
    """A node every variant also has, with what the variants change on it."""
    mine = [(label, nodes[position[k][index]]) for k, (label, nodes) in enumerate(others)]
    if isinstance(node, Step):
        step = copy.deepcopy(node)
        for label, theirs in mine:
            assert isinstance(theirs, Step)
            if changes := step_changes(node, theirs, department_name):
                marks.changed[id(step)].append((label, "；".join(changes)))
        return step
    if isinstance(node, Issue):
        issue = Issue(list(node.licences))
        for label, theirs in mine:
            assert isinstance(theirs, Issue)
            for code in theirs.licences:
                if code not in issue.licences:
                    issue.licences.append(code)
                if code not in node.licences:
                    marks.licences_added[(id(issue), code)].append(label)
            for code in node.licences:
                if code not in theirs.licences:
                    marks.licences_dropped[(id(issue), code)].append(label)
        return issue
    assert isinstance(node, Parallel)
    return _lanes(node, [(label, theirs) for label, theirs in mine], marks)


def _lanes(node: Parallel, mine: list[tuple[str, Node]], marks: _Marks) -> Parallel:
    """A parallel stage's lanes: each base lane with the variants' matching lanes folded
    in (a lane replaced by another is one lane with a decision); lanes only some forms
    have are added dashed; lanes some forms lack say so on their steps."""
    lane_others: list[list[Variant]] = [[] for _ in node.branches]
    lacking: list[list[str]] = [[] for _ in node.branches]
    added: dict[str, tuple[list[str], list[Node]]] = {}
    for label, theirs in mine:
        assert isinstance(theirs, Parallel)
        free = list(range(len(node.branches)))
        spare: list[list[Node]] = []
        for lane in theirs.branches:
            names = {s.name for s in steps_of(lane)}
            home = next(
                (k for k in free if names & {s.name for s in steps_of(node.branches[k])}), None
            )
            if home is None:
                spare.append(lane)
            else:
                free.remove(home)
                lane_others[home].append((label, lane))
        for lane in spare:
            if free:  # the flow took another way in this lane: a decision within it
                lane_others[free.pop(0)].append((label, lane))
            else:
                labels, _ = added.setdefault(_key(lane), ([], lane))
                labels.append(label)
        for k in free:
            lacking[k].append(label)
    drawn = Parallel(node.stage)
    for k, lane in enumerate(node.branches):
        built = _build(lane, lane_others[k], marks)
        for step in _drawn_steps(built):
            marks.dropped[id(step)] += lacking[k]
        drawn.branches.append(built)  # type: ignore[arg-type]
    for labels, lane in added.values():
        built = _build(lane, [], marks)
        for step in _drawn_steps(built):
            marks.added[id(step)] += labels
        drawn.branches.append(built)  # type: ignore[arg-type]
    return drawn


def _drawn_steps(nodes: Sequence[DrawnNode]) -> list[Step]:
    found: list[Step] = []
    for node in nodes:
        if isinstance(node, Step):
            found.append(node)
        elif isinstance(node, Parallel):
            for branch in node.branches:
                found += _drawn_steps(branch)  # type: ignore[arg-type]
        elif isinstance(node, Choice):
            for option in node.options:
                found += _drawn_steps(option.nodes)
    return found


def _text(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def _edge_text(text: str) -> str:
    """Text safe inside ``-->|…|``: no pipes, brackets or quotes."""
    table = str.maketrans({"|": "/", '"': "'", "(": "（", ")": "）", "[": "【", "]": "】"})
    return text.translate(table)


class _Drawing:
    def __init__(self, chain: Chain, marks: _Marks, conditions: Conditions) -> None:
        self.chain = chain
        self.marks = marks
        self.conditions = conditions
        self.lines: list[str] = []
        self.edges: list[str] = []
        self.dashed: list[str] = []
        self.count = 0

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def when(self, labels: list[str]) -> str:
        return self.conditions.any_of(labels)

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
        if labels := self.marks.dropped.get(id(step)):
            lines.append(f"当 {self.when(labels)} 时不办")
        lines += [
            f"当 {self.when([label])}：{change}" for label, change in self.marks.changed[id(step)]
        ]
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
                name += f"（当 {self.when(labels)}）"
            if labels := self.marks.licences_dropped.get((id(issue), code)):
                name += f"（当 {self.when(labels)} 时不出）"
            names.append(name)
        label = _text("<b>统一出件</b>\n" + "\n".join(names))
        self.lines.append(f'{indent}{node_id}{{{{"{label}"}}}}')
        return node_id

    def sequence(
        self, nodes: Sequence[DrawnNode], entries: list[tuple[str, str]], indent: str
    ) -> list[tuple[str, str]]:
        """Draw ``nodes`` in order after ``entries`` (node id, label of the arrow still
        to draw from it); returns the exits to connect whatever follows."""
        current = entries
        for node in nodes:
            if isinstance(node, Parallel):
                current = self.parallel(node, current, indent)
                continue
            if isinstance(node, Choice):
                current = self.choice(node, current, indent)
                continue
            node_id = (
                self.step_node(node, indent)
                if isinstance(node, Step)
                else self.issue_node(node, indent)
            )
            when = (
                self.when(self.marks.added[id(node)])
                if isinstance(node, Step) and id(node) in self.marks.added
                else ""
            )
            self.connect(current, node_id, when)
            current = [(node_id, "")]
        return current

    def choice(
        self, node: Choice, entries: list[tuple[str, str]], indent: str
    ) -> list[tuple[str, str]]:
        """A decision: one rhombus, an arm per option with its condition on the arrow;
        the arms' exits go on together (an empty arm goes straight on)."""
        labels = [label for option in node.options for label in option.when]
        decision = self.new_id("d")
        self.lines.append(f'{indent}{decision}{{"{_text(self.conditions.question(labels))}"}}')
        self.connect(entries, decision, "")
        exits: list[tuple[str, str]] = []
        for option in node.options:
            if option.when:
                text = self.when(option.when)
            elif len(node.options) == 2:  # none of the other arm's conditions holds
                text = " 且 ".join(self.conditions.otherwise(w) for w in node.options[1].when)
            else:
                text = "其他情形"
            exits += self.sequence(option.nodes, [(decision, text)], indent)
        return exits

    def parallel(
        self, node: Parallel, entries: list[tuple[str, str]], indent: str
    ) -> list[tuple[str, str]]:
        labelled = any(text for _, text in entries)
        if (len(entries) > 1 or labelled) and len(node.branches) > 1:  # join first
            join = self.new_id("j")
            self.lines.append(f'{indent}{join}((" "))')
            self.connect(entries, join, "")
            entries = [(join, "")]
        days, _ = longest_path([_longest_view(node)])
        box = self.new_id("p")
        self.lines.append(
            f'{indent}subgraph {box}["{_text(f"并联：{node.stage}（最长 {days} 个工作日）")}"]'
        )
        exits: list[tuple[str, str]] = []
        for branch in node.branches:
            exits += self.sequence(branch, entries, indent + "  ")  # type: ignore[arg-type]
        self.lines.append(f"{indent}end")
        return exits

    def connect(self, sources: list[tuple[str, str]], target: str, when: str) -> None:
        """Arrows from ``sources`` to ``target``: dashed with ``when`` for a step only
        some forms add, else solid, with the source's own pending label if any."""
        for source, pending in sources:
            if when and not pending:
                self.edges.append(f"  {source} -.->|{_edge_text('当 ' + when)}| {target}")
            elif pending:
                self.edges.append(f"  {source} -->|{_edge_text(pending)}| {target}")
            else:
                self.edges.append(f"  {source} --> {target}")


def _longest_view(node: DrawnNode) -> Node:
    """A drawn node as the limit arithmetic reads it: a decision counts its slowest arm."""
    if isinstance(node, Parallel):
        return Parallel(node.stage, [[_longest_view(n) for n in b] for b in node.branches])  # type: ignore[arg-type]
    if isinstance(node, Choice):
        arms = [[_longest_view(n) for n in option.nodes] for option in node.options]
        return Parallel("", arms)  # the slowest arm, as a parallel's slowest branch
    return node


def union_flow(
    exploration: Exploration, together: Callable[[list[str]], list[str] | None] | None = None
) -> tuple[list[DrawnNode], _Marks]:
    """The sample form's flow with every single-field variant's flow folded in.
    ``together`` records the flow on a form with several variants' changes at once."""
    marks = _Marks()
    if together is not None:
        marks.together = together
    if exploration.base is None:
        return [], marks
    others = [
        (label, nodes)
        for label, nodes in exploration.runs
        if label and ", " not in label  # not the base, nor several fields at once
    ]
    return _build(exploration.base, others, marks), marks


def mermaid(chain: Chain, version: int | None = None, form: dict | None = None) -> str:
    """The flow of ``chain`` (version: the one new cases start on) as a Mermaid
    ``flowchart``; branches follow ``form`` (default: the sample form) and the
    variants of it."""
    version = version if version is not None else chain.version
    base = form if form is not None else sample_values(chain.form)
    exploration = explore(chain, version, base)
    if exploration.base is None:
        raise ValueError(f"chain {chain.code} v{version}: {exploration.base_error}")
    conditions = Conditions(chain, version, base)
    union, marks = union_flow(exploration, conditions.steps_together)
    drawing = _Drawing(chain, marks, conditions)
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
