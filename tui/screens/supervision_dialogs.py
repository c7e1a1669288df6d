"""The supervision screen's dialogs: a 督办 step with its reason, and the list's filter.

The step dialog sends the step itself (as the action forms do) and stays open on a
refusal, showing the item workflow's own words: the console hides keys a role has no
use for, but the engine is what decides who may take a step.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from cli.safe_text import safe
from tui.messages import Catalog
from tui.screens.base import ConsoleModal
from tui.screens.dialogs import FilterField
from tui.supervision_data import NO_DEPARTMENT, STATUSES, FindingFilter, FindingRow
from tui.text import safe_lines

#: The steps a person takes (the engine's own "overdue" step is nobody's key).
STEPS = ("send", "respond", "escalate", "close")


def department_label(catalog: Catalog, code: str | None) -> str:
    """A department's name; system-wide findings have none."""
    if not code or code == NO_DEPARTMENT:
        return catalog.t("sup.no_department")
    return catalog.department(code)


def rule_label(catalog: Catalog, code: str) -> str:
    """A rule's Chinese name (its code in English, and for a rule no longer registered)."""
    if catalog.lang != "zh":
        return code
    from supervision.registry import UnknownRule, get_rule

    try:
        return get_rule(code).name_zh
    except UnknownRule:
        return code


class StepDialog(ConsoleModal):
    """Reason (and, to send, the days to answer) for one step; dismisses with the
    step's ``StepRecord`` once the engine accepted it, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "form.cancel"),
        Binding("ctrl+s", "submit", "form.submit"),
    ]

    def __init__(self, step: str, finding: FindingRow) -> None:
        super().__init__()
        self.step = step
        self.finding = finding

    def compose(self) -> ComposeResult:
        t = self.t
        with Vertical(classes="dialog", id="step-dialog"):
            yield Label(
                t("sup.step_title", step=t(f"sup.step.{self.step}"), id=self.finding.id),
                classes="dialog-title",
            )
            with VerticalScroll(id="form-fields"):
                yield Static(safe(self.finding.sentence), id="step-finding")
                if self.step == "send":
                    yield Label(t("sup.respond_days"))
                    yield Input("5", id="respond-days", restrict=r"[0-9]*")
                yield Label(t(f"sup.reason.{self.step}"))
                yield Input(id="reason")
            yield Static("", id="form-error")
            with Horizontal(classes="buttons"):
                yield Button(t("form.submit"), variant="primary", id="submit")
                yield Button(t("form.cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def show_error(self, text: str) -> None:
        error = self.query_one("#form-error", Static)
        error.update(safe_lines(text))
        error.set_class(bool(text), "-shown")

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.show_error(self.t("sup.reason_required"))
            return
        options: dict[str, Any] = {}
        if self.step == "send":
            days = self.query_one("#respond-days", Input).value.strip()
            if not days.isdigit() or not 1 <= int(days) <= 30:
                self.show_error(self.t("sup.days_invalid", value=days or "—"))
                return
            options["respond_days"] = int(days)
        self.send(reason, options)

    @work(exclusive=True, group="supervision-step")
    async def send(self, reason: str, options: dict[str, Any]) -> None:
        from client.facade import CaseError

        self.show_error("")
        submit = self.query_one("#submit", Button)
        submit.disabled = True
        try:
            desk = self.console.supervision_desk()
            if desk is None:
                raise ConnectionError(self.t("conn.lost_short"))
            record = await getattr(desk, self.step)(self.finding.id, reason, **options)
        except ValidationError as invalid:
            self.show_error(self.t("form.invalid", message=invalid.errors()[0]["msg"]))
            return
        except Exception as error:
            said = self.console.outage(error, acting=True)
            if said is not None:  # not a refusal: Temporal or its workers did not answer
                self.show_error(said)
            elif isinstance(error, CaseError):
                self.show_error(self.t("form.rejected", message=str(error)))
            else:
                raise
            return
        finally:
            submit.disabled = False
        self.dismiss(record)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class SupervisionFilterScreen(ConsoleModal):
    """Department, rule and status of the findings list; Enter applies."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "bind.back"),
        Binding("enter,ctrl+s", "apply", "filter.apply"),
    ]

    def __init__(self, current: FindingFilter, departments: list[str], rules: list[str]) -> None:
        super().__init__()
        self.current = current
        self.departments = departments
        self.rules = rules

    def _select(self, name: str, options: list[tuple[str, str]], value: str | None) -> Select[str]:
        return FilterField(
            options,
            value=value if value in {v for _, v in options} else Select.NULL,
            prompt=self.t("filter.any"),
            id=f"sup-filter-{name}",
        )

    def compose(self) -> ComposeResult:
        cur = self.current
        with Vertical(classes="dialog", id="sup-filters"):
            yield Label(self.t("sup.filter_title"), classes="dialog-title")
            yield Label(self.t("filter.keys"), classes="dim")
            yield Label(self.t("filter.department"))
            yield self._select(
                "department",
                [(department_label(self.catalog, d), d) for d in self.departments],
                cur.department,
            )
            yield Label(self.t("sup.col.rule"))
            yield self._select(
                "rule", [(rule_label(self.catalog, r), r) for r in self.rules], cur.rule
            )
            yield Label(self.t("sup.col.status"))
            yield self._select(
                "status", [(self.t(f"sup.status.{s}"), s) for s in STATUSES], cur.status
            )
            with Horizontal(classes="buttons"):
                yield Button(self.t("filter.apply"), variant="primary", id="apply")
                yield Button(self.t("filter.reset"), id="reset")
                yield Button(self.t("form.cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#sup-filter-department", Select).focus()

    def _value(self, name: str) -> str | None:
        value: Any = self.query_one(f"#sup-filter-{name}", Select).value
        return None if value is Select.NULL else str(value)

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        self.dismiss(
            FindingFilter(
                department=self._value("department"),
                rule=self._value("rule"),
                status=self._value("status"),
            )
        )

    @on(Button.Pressed, "#reset")
    def _reset(self) -> None:
        self.dismiss(FindingFilter())

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(None)
