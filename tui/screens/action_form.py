"""One form per action, in a modal. It sends the action itself, so a refusal is
shown inline (worded from the workflow's refusal code in the console's language)
and the form stays open; on success it closes with an :class:`ActionOutcome`.

The task drop-down offers only tasks that can take the action now, preselects the
late (or most urgent) one and shows its department and due date; an extension or a
stopped clock previews the new due date; a reassignment offers the department's
officers; and the case is read again just before sending, so a task decided
meanwhile is refused here, in plain words, before the workflow is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import ValidationError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, SelectionList, Static

from cli.safe_text import safe
from domain.action_catalog import console_forms
from domain.actions import (
    Action,
    Decide,
    DecideOnBehalf,
    EndSpecialProcedure,
    Extend,
    Reassign,
    RecordSupplement,
    StartSpecialProcedure,
    Urge,
    Withdraw,
)
from domain.case import CaseState, SuspensionKind, Task, Verdict
from domain.departments import DEPARTMENTS
from tui.permissions import MANUAL_SUSPENSIONS, Act, open_special_procedures, tasks_for
from tui.refusals import task_label
from tui.screens.base import ConsoleModal
from tui.screens.dialogs import ConfirmScreen
from tui.screens.form_help import (
    department_officers,
    extended_due,
    most_urgent,
    stopped_due,
    undecided_departments,
)
from tui.text import safe_lines

#: Forms whose reason is required (declared with the action, domain/action_catalog.py).
NEEDS_REASON = {Act(form.act) for _, form in console_forms() if form.reason_required}
TASK_ACTS = {
    Act.DECIDE,
    Act.RETURN,
    Act.EXTEND,
    Act.REASSIGN,
    Act.URGE,
    Act.SPECIAL_START,
    Act.SUPPLEMENT,
    Act.APPROVE_ON_BEHALF,
    Act.REJECT_ON_BEHALF,
}
DEPARTMENT_ACTS = {Act.REASSIGN, Act.URGE, Act.APPROVE_ON_BEHALF, Act.REJECT_ON_BEHALF}
ON_BEHALF = {Act.APPROVE_ON_BEHALF: Verdict.APPROVE, Act.REJECT_ON_BEHALF: Verdict.REJECT}
WHOLE_CASE = "__case__"
ANY_DEPARTMENT = "__any__"


@dataclass(frozen=True)
class ActionOutcome:
    act: Act
    case_no: str
    message: str
    notice: str | None = None


def material_names(state: CaseState) -> list[str]:
    """The names the applicant may be asked for: the case's missing materials when
    the intake records them, else the chain's list."""
    pinned = getattr(state, "materials", None)
    if pinned:
        # A material received or held as an e-licence is never asked for again.
        return [m.name for m in pinned if getattr(m.state, "value", m.state) == "missing"]
    try:
        import chains  # noqa: F401  (registers the chains)
        from workflows import registry

        return [m.name for m in registry.get_chain(state.chain).materials]
    except LookupError:
        return []


class ActionForm(ConsoleModal):
    """The form of one action on one case."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "form.cancel"),
        Binding("ctrl+s", "submit", "form.submit"),
    ]

    def __init__(self, act: Act, state: CaseState) -> None:
        super().__init__()
        self.act = act
        self.state = state
        self.case_no = state.case_no
        self.tasks: list[Task] = tasks_for(self.console.actor, act, state)

    # ------------------------------------------------------------- layout
    def task_label(self, task: Task) -> str:
        return f"{task.id} {self.catalog.step(self.state.chain, task.name)}"

    def _task_options(self) -> list[tuple[str, str]]:
        options = [(self.task_label(t), t.id) for t in self.tasks]
        if self.act is Act.EXTEND and not self.state.promised.extended:
            options.append((self.t("form.task_case"), WHOLE_CASE))
        return options

    def compose(self) -> ComposeResult:
        act, t = self.act, self.t
        title = t("form.title", action=t(f"act.{act}"), case_no=self.case_no)
        with Vertical(classes="dialog", id="action-form"):
            yield Label(safe(title), classes="dialog-title")
            yield Static(t(f"act.help.{act}"), classes="dim")
            with VerticalScroll(id="form-fields"):
                if act in TASK_ACTS:
                    options = self._task_options()
                    urgent = most_urgent(self.tasks, self.console.days, self.console.today())
                    yield Label(t("form.task"))
                    yield Select(
                        options,
                        value=urgent.id if urgent is not None else Select.NULL,
                        allow_blank=not options,
                        prompt=t("form.nothing", action=t(f"act.{act}")),
                        id="task",
                    )
                    yield Static("", id="task-info", classes="dim")
                if act in DEPARTMENT_ACTS:
                    yield Label(
                        t("form.department")
                        if act is not Act.REASSIGN
                        else t("form.from_department")
                    )
                    yield Select([], prompt=t("form.select"), id="department")
                if act is Act.DECIDE:
                    yield Label(t("form.verdict"))
                    yield Select(
                        [(t("verdict.approve"), "approve"), (t("verdict.reject"), "reject")],
                        allow_blank=False,
                        id="verdict",
                    )
                if act is Act.RETURN:
                    yield Label(t("form.items"))
                    yield SelectionList[str](
                        *[(name, name) for name in material_names(self.state)], id="items"
                    )
                    yield Label(t("form.items_extra"))
                    yield Input(id="items-extra")
                if act is Act.SUPPLEMENT:
                    yield Label(t("form.items_received"))
                    yield SelectionList[str](id="items")
                if act is Act.EXTEND:
                    yield Label(t("form.days"))
                    yield Input(type="integer", id="days", value="5")
                if act in (Act.EXTEND, Act.SPECIAL_START):
                    yield Static("", id="preview")
                if act is Act.REASSIGN:
                    yield Label(t("form.to_department"))
                    yield Select(
                        [(self.catalog.department(d), d) for d in DEPARTMENTS],
                        prompt=t("form.select"),
                        id="to-department",
                    )
                    yield Label(t("form.officer"))
                    yield Select([], prompt=t("form.select"), id="officer")
                    yield Static("", id="officer-note", classes="dim")
                    yield Label(t("form.to_assignee"))
                    yield Input(id="to-assignee")
                if act is Act.SPECIAL_START:
                    yield Label(t("form.kind"))
                    yield Select(
                        [(self.catalog.enum("suspension", k), k.value) for k in MANUAL_SUSPENSIONS],
                        allow_blank=False,
                        id="kind",
                    )
                if act is Act.SPECIAL_END:
                    running = open_special_procedures(self.console.actor, self.state)
                    yield Label(t("form.suspension"))
                    yield Select(
                        [
                            (
                                f"{s.id} {self.catalog.enum('suspension', s.kind)} "
                                f"{s.task_id or ''} {s.start.isoformat()}",
                                s.id,
                            )
                            for s in running
                        ],
                        allow_blank=not running,
                        prompt=t("form.nothing", action=t(f"act.{act}")),
                        id="suspension",
                    )
                yield Label(t("form.reason_required") if act in NEEDS_REASON else t("form.reason"))
                yield Input(id="reason")
            yield Static("", id="form-error")
            with Horizontal(classes="buttons"):
                yield Button(t("form.submit"), variant="primary", id="submit")
                yield Button(t("form.cancel"), id="cancel")

    def on_mount(self) -> None:
        self._task_changed()
        self._officers()
        for items in self.query(SelectionList):
            if items.option_count:
                items.highlighted = 0
        first = self.query("#form-fields Select, #form-fields SelectionList, #form-fields Input")
        if self.act in (Act.WITHDRAW,) or not first:
            self.query_one("#reason", Input).focus()
        else:
            first.first().focus()

    # -------------------------------------------------------------- values
    def _value(self, widget_id: str) -> str | None:
        found = self.query(f"#{widget_id}")
        if not found:
            return None
        widget = found.first()
        if isinstance(widget, Select):
            value: Any = widget.value
            return None if value is Select.NULL else str(value)
        if isinstance(widget, Input):
            return widget.value.strip()
        return None

    def selected_task(self) -> Task | None:
        task_id = self._value("task")
        return next((t for t in self.tasks if t.id == task_id), None)

    @on(Select.Changed, "#task")
    def _task_changed(self) -> None:
        task = self.selected_task()
        self._show_task(task)
        self._preview()
        if self.act in DEPARTMENT_ACTS:
            undecided = [p.department for p in task.parts if p.verdict is None] if task else []
            options = [(self.catalog.department(d), d) for d in undecided]
            if self.act is Act.URGE and len(undecided) > 1:
                options.insert(0, (self.t("form.department_any"), ANY_DEPARTMENT))
            select = self.query_one("#department", Select)
            select.set_options(options)
            if options:
                select.value = options[0][1]
            self._officers()
        if self.act is Act.SUPPLEMENT:
            items = self.query_one("#items", SelectionList)
            items.clear_options()
            for name in task.missing_items if task else []:
                items.add_option((name, name, True))

    def _show_task(self, task: Task | None) -> None:
        """The chosen task's department(s) and its own due date (and how late)."""
        found = self.query("#task-info")
        if not found:
            return
        info = found.first(Static)
        if task is None:
            info.update("")
            return
        department = self.catalog.departments(undecided_departments(task))
        if task.clock is None:
            info.update(safe(self.t("form.task_no_clock", department=department)))
            return
        left = self.console.days.of(self.console.today(), task.clock)
        late = self.t("form.task_late", days=-left) if left is not None and left < 0 else ""
        info.update(
            safe(
                self.t(
                    "form.task_due",
                    department=department,
                    due=task.clock.due_on.isoformat(),
                    late=late,
                )
            )
        )

    @on(Input.Changed, "#days")
    def _preview(self) -> None:
        """The new due date an extension (or a stop of the clock) would give."""
        found = self.query("#preview")
        if not found:
            return
        preview = found.first(Static)
        calendar, today = self.console.days.calendar, self.console.today()
        task_id = self._value("task")
        if self.act is Act.EXTEND:
            whole = task_id == WHOLE_CASE
            task = self.selected_task()
            clock = self.state.promised if whole else (task.clock if task else None)
            try:
                extra = int(self._value("days") or "")
            except ValueError:
                extra = 0
            if clock is None or extra <= 0:
                preview.update(self.t("form.new_due_unknown"))
                return
            due = extended_due(clock, extra, calendar, today).isoformat()
            preview.update(self.t("form.new_due_case" if whole else "form.new_due", due=due))
            return
        task = self.selected_task()
        if task is None or task.clock is None:
            preview.update("")
            return
        due = stopped_due(task.clock, calendar, today).isoformat()
        preview.update(self.t("form.new_due_stopped", due=due))

    @on(Select.Changed, "#to-department")
    def _officers(self) -> None:
        """The officers of the department the task goes to (or of the one holding it)."""
        if self.act is not Act.REASSIGN:
            return
        department = self._value("to-department") or self._value("department")
        officers = department_officers(self.console.engine, department) if department else []
        select = self.query_one("#officer", Select)
        select.set_options([(f"{name}（{user_id}）", name) for user_id, name in officers])
        note = self.query_one("#officer-note", Static)
        note.update(self.t("form.officer_none") if department and not officers else "")

    @on(Select.Changed, "#officer")
    def _officer_chosen(self) -> None:
        name = self._value("officer")
        if name:
            self.query_one("#to-assignee", Input).value = name

    def _items(self) -> list[str]:
        chosen = list(self.query_one("#items", SelectionList).selected)
        extra = self._value("items-extra") or ""
        for part in extra.replace("；", ";").split(";"):
            if part.strip() and part.strip() not in chosen:
                chosen.append(part.strip())
        return chosen

    def build_action(self) -> Action:
        """The action the form describes (pydantic checks its shape)."""
        actor = self.console.actor
        reason = self._value("reason") or ""
        task_id = self._value("task") or ""
        act = self.act
        department = self._value("department")
        if act is Act.DECIDE:
            return Decide(
                actor=actor, task_id=task_id, verdict=Verdict(self._value("verdict")), reason=reason
            )
        if act is Act.RETURN:
            return Decide(
                actor=actor,
                task_id=task_id,
                verdict=Verdict.RETURN,
                missing_items=self._items(),
                reason=reason,
            )
        if act is Act.EXTEND:
            days = int(self._value("days") or "0")
            return Extend(
                actor=actor,
                task_id=None if task_id == WHOLE_CASE else task_id,
                days=days,
                reason=reason,
            )
        if act is Act.REASSIGN:
            return Reassign(
                actor=actor,
                task_id=task_id,
                department=department,
                to_department=self._value("to-department") or None,
                to_assignee=self._value("to-assignee") or None,
                reason=reason,
            )
        if act is Act.URGE:
            return Urge(
                actor=actor,
                task_id=task_id,
                department=None if department in (None, ANY_DEPARTMENT) else department,
                reason=reason,
            )
        if act is Act.SPECIAL_START:
            return StartSpecialProcedure(
                actor=actor,
                task_id=task_id,
                kind=SuspensionKind(self._value("kind")),
                reason=reason,
            )
        if act is Act.SPECIAL_END:
            return EndSpecialProcedure(
                actor=actor, suspension_id=self._value("suspension") or "", reason=reason
            )
        if act is Act.SUPPLEMENT:
            return RecordSupplement(
                actor=actor,
                task_id=task_id,
                items=list(self.query_one("#items", SelectionList).selected),
                reason=reason,
            )
        if act in ON_BEHALF:
            return DecideOnBehalf(
                actor=actor,
                task_id=task_id,
                verdict=ON_BEHALF[act],
                department=department,
                reason=reason,
            )
        return Withdraw(actor=actor, reason=reason)

    # -------------------------------------------------------------- submit
    def show_error(self, text: str) -> None:
        error = self.query_one("#form-error", Static)
        error.update(safe_lines(text))
        error.set_class(bool(text), "-shown")

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        try:
            action = self.build_action()
        except (ValidationError, ValueError) as invalid:
            message = (
                invalid.errors()[0]["msg"] if isinstance(invalid, ValidationError) else str(invalid)
            )
            self.show_error(self.t("form.invalid", message=message))
            return
        if self.act in ON_BEHALF:
            task = self.selected_task()
            text = self.t(
                "confirm.on_behalf",
                action=self.t(f"act.{self.act}"),
                case_no=self.case_no,
                task=self.task_label(task) if task else "",
                department=self.catalog.department(self._value("department")),
                reason=action.reason or "—",
            )

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self.send(action)

            self.app.push_screen(ConfirmScreen(text), confirmed)
            return
        self.send(action)

    @work(exclusive=True, group="form-send")
    async def send(self, action: Action) -> None:
        from client.facade import ActionRejected, CaseError

        desk = self.console.desk
        self.show_error("")
        self.query_one("#submit", Button).disabled = True
        sent = False
        try:
            if desk is None:
                raise ConnectionError(self.t("conn.lost_short"))
            self.show_error(self.t("form.refreshing"))
            fresh = await desk.state(self.case_no, events=False)
            stale = self.stale_reason(action, fresh)
            self.state = fresh
            if stale is not None:
                self.show_error(stale)
                return
            self.show_error("")
            sent = True
            result = await desk.act(self.case_no, action)
        except ActionRejected as rejected:
            self.show_error(self.t("form.rejected", message=self.worded(rejected)))
            return
        except Exception as error:
            said = self.console.outage(error, acting=sent)
            if said is not None:  # not a refusal: Temporal or its workers did not answer
                self.show_error(said)
            elif isinstance(error, CaseError):
                self.show_error(self.t("form.rejected", message=self.worded(error)))
            else:
                raise
            return
        finally:
            self.query_one("#submit", Button).disabled = False
        self.dismiss(
            ActionOutcome(self.act, self.case_no, result.message, notice=self._notice(action))
        )

    def worded(self, error: Exception) -> str:
        """A refusal in the console's language (its English message if it has no code)."""
        return self.catalog.refused(error, state=self.state, doing=self.t(f"act.{self.act}"))

    def stale_reason(self, action: Action, fresh: CaseState) -> str | None:
        """Why the action no longer fits the case just read (a task decided or
        concluded meanwhile, the case concluded), or None if it still does."""
        from client.facade import CaseError
        from domain.refusal import Refusal

        task_id = getattr(action, "task_id", None)
        if fresh.status.value != "running" and self.act in TASK_ACTS | {Act.WITHDRAW}:
            error = CaseError.refused(
                Refusal.CASE_NOT_RUNNING, case_no=fresh.case_no, status=fresh.status.value
            )
            return self.t("form.rejected", message=self.worded(error))
        if self.act not in TASK_ACTS or not task_id or task_id == WHOLE_CASE:
            return None
        if any(t.id == task_id for t in tasks_for(self.console.actor, self.act, fresh)):
            return None
        task = fresh.task(task_id)
        if task is None:
            return None  # the workflow says what is wrong
        self.tasks = tasks_for(self.console.actor, self.act, fresh)
        if self._task_options():
            self.query_one("#task", Select).set_options(self._task_options())
        status = self.catalog.enum("task", task.status)
        name = self.catalog.step(fresh.chain, task.name)
        label = task_label(self.catalog.lang, task.id, {"task_name": name}, None)
        return self.t("refusal.stale", task=label, status=status)

    def _notice(self, action: Action) -> str | None:
        if self.act is not Act.RETURN or not isinstance(action, Decide):
            return None
        task = self.selected_task()
        items = "\n".join(f"{i}. {name}" for i, name in enumerate(action.missing_items, 1))
        return self.t(
            "notice.body",
            case_no=self.case_no,
            task=self.task_label(task) if task else action.task_id,
            department=self.catalog.department(self.console.actor.department),
            count=len(action.missing_items),
            items=items,
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
