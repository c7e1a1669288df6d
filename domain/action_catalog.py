"""Every action a person can take on a case, declared once.

One :class:`ActionSpec` per action says everything the rest of the system needs:
its input model (``domain.actions``), the workflow Update it is sent as, who may take
it (roles, and whether a reviewer is held to their own department), its zh/en labels
and help, and how it looks on the command line (command name, which fields are
positional arguments, option names). Derived from it, never written again:

* the facade's Update mapping (``client.facade.UPDATE_FOR_ACTION``);
* the ``onechain case <action>`` commands (``cli.case_actions``);
* the console's role gate and action keys (``tui.permissions``) and the labels of its
  forms (``tui.messages``);
* the role table in README.md (``onechain actions docs``);
* the role × action × department matrix test (``tests/test_role_matrix.py``), which
  sends every action as every role to a real server and fails where the workflow's
  rules (``domain/casefile.py`` ``check_*``) and this declaration disagree.

The workflow keeps its own rules on purpose: this module describes them so the user
interfaces can offer the right things, and the matrix test proves the description true.

Pure: no Temporal, Typer or Textual.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from domain.actions import (
    Action,
    AssignAgent,
    Decide,
    DecideOnBehalf,
    EndSpecialProcedure,
    Extend,
    Rate,
    Reassign,
    RecordSupplement,
    Rectify,
    ReportApplicantEvent,
    StartSpecialProcedure,
    SupplyMaterials,
    Urge,
    Withdraw,
)
from domain.roles import Role


class DepartmentRule(StrEnum):
    """Whether a reviewer's department limits what they may do."""

    NONE = "none"  # the role alone decides
    OWN_PART = "own_part"  # a reviewer decides only their own department's part of a task
    PART_IN_TASK = "part_in_task"  # a reviewer only where their department has a part


DEPARTMENT_RULE_TEXT: dict[DepartmentRule, str] = {
    DepartmentRule.NONE: "—",
    DepartmentRule.OWN_PART: "reviewer: only their own department's part of the task",
    DepartmentRule.PART_IN_TASK: "reviewer: only where their department has a part in the task",
}


@dataclass(frozen=True)
class Words:
    """One text in both of the project's languages."""

    zh: str
    en: str

    def __call__(self, language: str) -> str:
        return self.en if language == "en" else self.zh


@dataclass(frozen=True)
class Param:
    """How one field of the action's model appears on the command line.

    ``flag`` defaults to ``--field-name``; ``help`` to the field's description;
    ``required`` to whether the model requires the field (a CLI may ask for more, e.g.
    a reason the workflow requires only for some verdicts).
    """

    field: str
    argument: bool = False
    flag: str | None = None
    metavar: str | None = None
    help: str | None = None
    required: bool | None = None
    department: bool = False  # a department code, checked against the known ones first

    @property
    def option(self) -> str:
        return self.flag or "--" + self.field.replace("_", "-")


@dataclass(frozen=True)
class ConsoleForm:
    """One form of the console (``tui.permissions.Act``). An action may have several
    (decide: approve/reject, or return for supplement), fixing some of its fields."""

    act: str
    key: str
    label: Words
    help: Words
    reason_required: bool = False


@dataclass(frozen=True)
class ActionSpec:
    command: str
    model: type[Action]
    update: str
    roles: frozenset[Role]
    department_rule: DepartmentRule
    label: Words
    help: str  # the CLI command's help (English, like every CLI text)
    params: tuple[Param, ...]
    forms: tuple[ConsoleForm, ...] = ()

    def may(self, role: Role, department_matches: bool = True) -> bool:
        """Whether a person in ``role`` may take this action; ``department_matches``
        says whether a reviewer's department is the one the rule asks for."""
        if role not in self.roles:
            return False
        if role is Role.REVIEWER and self.department_rule is not DepartmentRule.NONE:
            return department_matches
        return True

    def who(self) -> str:
        """The roles, e.g. ``coordinator, supervisor``."""
        return ", ".join(r.value for r in Role if r in self.roles)


TASK = Param("task_id", argument=True, metavar="TASK", help="Task id, e.g. T2 (see `cases show`).")
REASON = Param("reason")
REQUIRED_REASON = Param("reason", required=True)
COORDINATING = frozenset({Role.COORDINATOR, Role.SUPERVISOR})

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        command="decide",
        model=Decide,
        update="decide",
        roles=frozenset({Role.REVIEWER}),
        department_rule=DepartmentRule.OWN_PART,
        label=Words("审查决定", "Decide"),
        help="A department's decision on its part of a task.\n\n"
        "Reject and return need --reason; return lists every missing item at once (一次告知).",
        params=(
            TASK,
            Param("verdict", help="approve (同意), reject (不同意) or return (补正)."),
            Param("department", help="Department deciding (code); default: the reviewer's own."),
            Param(
                "missing_items",
                flag="--missing",
                metavar="ITEM",
                help="A missing item, for --verdict return; repeatable.",
            ),
            REASON,
        ),
        forms=(
            ConsoleForm(
                "decide",
                "d",
                Words("审查决定", "Decide"),
                Words(
                    "本部门对任务作出同意或不同意决定",
                    "Your department approves or rejects its part of a task",
                ),
            ),
            ConsoleForm(
                "return",
                "b",
                Words("退回补正", "Request supplement"),
                Words(
                    "本部门退回补正，一次性告知全部缺件（停止计时）",
                    "Return for supplement, listing everything missing at once (clock stops)",
                ),
                reason_required=True,
            ),
        ),
    ),
    ActionSpec(
        command="decide-on-behalf",
        model=DecideOnBehalf,
        update="decide_on_behalf",
        roles=frozenset({Role.SUPERVISOR}),
        department_rule=DepartmentRule.NONE,
        label=Words("代为决定", "Decide on behalf"),
        help="A supervisor approves or rejects for a department (督办), with a reason.",
        params=(
            TASK,
            Param("verdict", help="approve or reject."),
            REQUIRED_REASON,
            Param("department", help="Department decided for (code); default: the only one."),
        ),
        forms=(
            ConsoleForm(
                "approve_on_behalf",
                "a",
                Words("代为同意", "Approve on behalf"),
                Words(
                    "督办人员代部门同意（须确认并说明理由）",
                    "A supervisor approves for a department (confirmed, reason required)",
                ),
                reason_required=True,
            ),
            ConsoleForm(
                "reject_on_behalf",
                "x",
                Words("代为不同意", "Reject on behalf"),
                Words(
                    "督办人员代部门不同意（须确认并说明理由）",
                    "A supervisor rejects for a department (confirmed, reason required)",
                ),
                reason_required=True,
            ),
        ),
    ),
    ActionSpec(
        command="extend",
        model=Extend,
        update="extend",
        roles=COORDINATING,
        department_rule=DepartmentRule.NONE,
        label=Words("延期", "Extend"),
        help="Extend a task's limit or the case's (+10, or +15 when joint; once per limit).",
        params=(
            Param("days", help="Extra working days (once per limit)."),
            REQUIRED_REASON,
            Param(
                "task_id",
                flag="--task",
                metavar="TASK",
                help="Extend this task's limit; default: the whole case's.",
            ),
        ),
        forms=(
            ConsoleForm(
                "extend",
                "e",
                Words("延期", "Extend"),
                Words(
                    "延长任务或整个案件的期限（每个期限一次，须说明理由）",
                    "Extend a task's or the whole case's limit (once per limit, reason required)",
                ),
                reason_required=True,
            ),
        ),
    ),
    ActionSpec(
        command="reassign",
        model=Reassign,
        update="reassign",
        roles=COORDINATING,
        department_rule=DepartmentRule.NONE,
        label=Words("转办", "Reassign"),
        help="Move a task's part to another department or officer (转办).",
        params=(
            TASK,
            REQUIRED_REASON,
            Param(
                "to_department",
                help="Move the part to this department (code).",
                department=True,
            ),
            Param("to_assignee", help="Give the part to this officer (user id)."),
            Param(
                "department",
                help="Which department's part of a joint task (code); default: the only one.",
            ),
        ),
        forms=(
            ConsoleForm(
                "reassign",
                "r",
                Words("转办", "Reassign"),
                Words(
                    "把任务转给其他部门或经办人（须说明理由）",
                    "Move a task to another department or officer (reason required)",
                ),
                reason_required=True,
            ),
        ),
    ),
    ActionSpec(
        command="urge",
        model=Urge,
        update="urge",
        roles=COORDINATING,
        department_rule=DepartmentRule.NONE,
        label=Words("催办", "Urge"),
        help="Remind the departments on a task (催办).",
        params=(
            TASK,
            Param("department", help="Urge only this department (code); default: all undecided."),
            REASON,
        ),
        forms=(
            ConsoleForm(
                "urge",
                "u",
                Words("催办", "Urge"),
                Words("催办未决定的部门", "Remind the departments that have not decided"),
            ),
        ),
    ),
    ActionSpec(
        command="special-start",
        model=StartSpecialProcedure,
        update="start_special_procedure",
        roles=COORDINATING | {Role.REVIEWER},
        department_rule=DepartmentRule.PART_IN_TASK,
        label=Words("开始特别程序", "Start special procedure"),
        help="Start a special procedure on a task: its clock and the case's stop (特别程序).",
        params=(
            TASK,
            Param(
                "kind",
                help="Why the clock stops: hearing, testing, expert_review, intermediary ...",
            ),
            REQUIRED_REASON,
        ),
        forms=(
            ConsoleForm(
                "special_start",
                "t",
                Words("开始特别程序", "Start special procedure"),
                Words(
                    "听证、检验、专家评审等，停止计时（须说明理由）",
                    "Hearing, testing, expert review…: the clock stops (reason required)",
                ),
                reason_required=True,
            ),
        ),
    ),
    ActionSpec(
        command="special-end",
        model=EndSpecialProcedure,
        update="end_special_procedure",
        roles=COORDINATING | {Role.REVIEWER},
        department_rule=DepartmentRule.PART_IN_TASK,
        label=Words("结束特别程序", "End special procedure"),
        help="End a special procedure: the clocks run again with the days that were left.",
        params=(
            Param(
                "suspension_id",
                argument=True,
                metavar="SUSPENSION",
                help="Suspension id, e.g. S1 (see `cases show`).",
            ),
            REQUIRED_REASON,
        ),
        forms=(
            ConsoleForm(
                "special_end",
                "T",
                Words("结束特别程序", "End special procedure"),
                Words("结束特别程序，恢复计时", "End a special procedure; the clock restarts"),
            ),
        ),
    ),
    ActionSpec(
        command="supplement",
        model=RecordSupplement,
        update="record_supplement",
        roles=frozenset({Role.WINDOW_CLERK}),
        department_rule=DepartmentRule.NONE,
        label=Words("登记补正材料", "Record supplement"),
        help="Record materials the applicant brought for a returned task (补正).",
        params=(
            TASK,
            Param(
                "items",
                flag="--item",
                metavar="ITEM",
                help="An item the applicant brought; repeatable.",
            ),
            REASON,
        ),
        forms=(
            ConsoleForm(
                "supplement",
                "m",
                Words("登记补正材料", "Record supplement"),
                Words(
                    "申请人送来补正材料，窗口登记",
                    "The window records materials the applicant brought",
                ),
            ),
        ),
    ),
    ActionSpec(
        command="report-event",
        model=ReportApplicantEvent,
        update="report_applicant_event",
        roles=frozenset({Role.WINDOW_CLERK}),
        department_rule=DepartmentRule.NONE,
        label=Words("登记申请人事项", "Report applicant event"),
        help="Record an event the flow waits for from the applicant (e.g. 竣工).",
        params=(
            Param(
                "event",
                argument=True,
                metavar="EVENT",
                help="What the applicant did, e.g. construction_completed.",
            ),
            REASON,
        ),
    ),
    ActionSpec(
        command="withdraw",
        model=Withdraw,
        update="withdraw",
        roles=frozenset({Role.WINDOW_CLERK, Role.COORDINATOR}),
        department_rule=DepartmentRule.NONE,
        label=Words("撤回", "Withdraw"),
        help="Withdraw the case at the applicant's request (撤回).",
        params=(REQUIRED_REASON,),
        forms=(
            ConsoleForm(
                "withdraw",
                "w",
                Words("撤回", "Withdraw"),
                Words(
                    "申请人撤回申请（须说明理由）",
                    "The applicant withdraws the application (reason required)",
                ),
                reason_required=True,
            ),
        ),
    ),
    ActionSpec(
        command="supply-materials",
        model=SupplyMaterials,
        update="supply_materials",
        roles=frozenset({Role.WINDOW_CLERK}),
        department_rule=DepartmentRule.NONE,
        label=Words("补齐材料", "Supply materials"),
        help="Record materials brought after the one-time notice (一次告知) or under 容缺受理.",
        params=(
            Param(
                "items",
                flag="--item",
                metavar="CODE",
                help="Material code the applicant brought; repeatable.",
            ),
            REASON,
        ),
    ),
    ActionSpec(
        command="rate",
        model=Rate,
        update="rate",
        roles=frozenset({Role.WINDOW_CLERK, Role.SYSTEM}),
        department_rule=DepartmentRule.NONE,
        label=Words("好差评", "Rate"),
        help="Record the applicant's one rating of a concluded case (好差评).",
        params=(
            Param("score", help="1 (很差) to 5 (很好)."),
            Param("comment", help="The applicant's words."),
        ),
    ),
    ActionSpec(
        command="rectify",
        model=Rectify,
        update="rectify",
        roles=frozenset({Role.COORDINATOR}),
        department_rule=DepartmentRule.NONE,
        label=Words("整改完成", "Rectify"),
        help="Close a rectification task (整改) after a bad rating, saying what was done.",
        params=(TASK, Param("reason", required=True, help="What was done (required).")),
    ),
    ActionSpec(
        command="assign-agent",
        model=AssignAgent,
        update="assign_agent",
        roles=frozenset({Role.WINDOW_CLERK, Role.COORDINATOR}),
        department_rule=DepartmentRule.NONE,
        label=Words("指定代办员", "Assign agent"),
        help="Name the case's agent (帮办代办), who follows it to the licence and hears "
        "of each warning. The agent must be a known, enabled user.",
        params=(
            Param("agent", argument=True, metavar="USER", help="The agent's user id."),
            REASON,
        ),
    ),
)


def spec_for_command(command: str) -> ActionSpec:
    for spec in ACTIONS:
        if spec.command == command:
            return spec
    raise LookupError(f"unknown action {command!r} (actions: {', '.join(commands())})")


def spec_for(action: BaseModel | type[BaseModel]) -> ActionSpec:
    """The declaration of an action (or of its model class): the most specific one, so
    a ``DecideOnBehalf`` is never taken for a ``Decide``."""
    kind = action if isinstance(action, type) else type(action)
    for cls in kind.__mro__:
        for spec in ACTIONS:
            if spec.model is cls:
                return spec
    raise LookupError(f"{kind.__name__} is not a declared action")


def commands() -> list[str]:
    return [spec.command for spec in ACTIONS]


def console_forms() -> Iterator[tuple[ActionSpec, ConsoleForm]]:
    """Every console form with the action it sends, in menu order."""
    for spec in ACTIONS:
        for form in spec.forms:
            yield spec, form


def console_texts(language: str) -> dict[str, str]:
    """The console's ``act.<form>`` and ``act.help.<form>`` texts."""
    texts: dict[str, str] = {}
    for _, form in console_forms():
        texts[f"act.{form.act}"] = form.label(language)
        texts[f"act.help.{form.act}"] = form.help(language)
    return texts


def role_table() -> list[dict[str, str]]:
    """One row per action: the README's table and ``onechain actions list``."""
    return [
        {
            "action": f"{spec.label.zh} ({spec.label.en})",
            "command": f"onechain case {spec.command}",
            "update": spec.update,
            "roles": spec.who(),
            "department_rule": DEPARTMENT_RULE_TEXT[spec.department_rule],
        }
        for spec in ACTIONS
    ]


def _check_declarations() -> None:
    """Catch a broken declaration when the module loads, not when a user hits it."""
    seen: set[str] = set()
    for spec in ACTIONS:
        for name in (spec.command, spec.update, spec.model.__name__):
            if name in seen and name != spec.update:
                raise ValueError(f"action {name!r} declared twice")
        seen |= {spec.command, spec.model.__name__}
        fields = spec.model.model_fields
        for param in spec.params:
            if param.field not in fields:
                raise ValueError(
                    f"{spec.command}: {spec.model.__name__} has no field {param.field}"
                )
    acts = [form.act for _, form in console_forms()]
    keys = [form.key for _, form in console_forms()]
    if len(set(acts)) != len(acts) or len(set(keys)) != len(keys):
        raise ValueError("two console forms share a name or a key")


_check_declarations()
