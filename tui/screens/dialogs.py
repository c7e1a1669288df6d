"""Small dialogs: confirm, the one-time notice, help, jump, filters."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from tui.data import SORTS, CaseFilter, FilterChoices
from tui.screens.base import ConsoleModal
from tui.text import safe_lines


class ConfirmScreen(ConsoleModal):
    """Yes or no; dismisses with True or False. The confirming button has the focus,
    so the first Enter confirms (one asked to confirm means to); Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "confirm.yes"),
        Binding("n,escape", "answer(False)", "confirm.no"),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Label(self.t("confirm.title"), classes="dialog-title")
            yield Static(safe_lines(self.text), id="confirm-text")
            with Horizontal(classes="buttons"):
                yield Button(self.t("confirm.yes"), variant="error", id="yes")
                yield Button(self.t("confirm.no"), id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class NoticeScreen(ConsoleModal):
    """A text to read and close (the one-time notice of missing materials)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "close", "notice.close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="notice"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll():
                yield Static(safe_lines(self.text), id="notice-text")
            with Horizontal(classes="buttons"):
                yield Button(self.t("notice.close"), id="close", variant="primary")

    @on(Button.Pressed)
    def action_close(self) -> None:
        self.dismiss(None)


class HelpScreen(ConsoleModal):
    """Every key of the screen below, with what it does."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "bind.back")
    ]

    def __init__(self, screen_title: str, lines: list[tuple[str, str]]) -> None:
        super().__init__()
        self.screen_title = screen_title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help"):
            yield Label(self.t("help.title"), classes="dialog-title")
            with VerticalScroll():
                yield Static(self.t("help.global"), classes="help-global")
                yield Label(f"{self.t('help.screen')}: {self.screen_title}", classes="help-section")
                body = "\n".join(f"{key:>10}  {text}" for key, text in self.lines)
                yield Static(body, id="help-keys")
            yield Label(self.t("help.close"), classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)


class JumpScreen(ConsoleModal):
    """``:`` — type a screen name or a case number; dismisses with the text."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "bind.back")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="jump"):
            yield Label(self.t("jump.title"), classes="dialog-title")
            yield Input(placeholder=self.t("jump.placeholder"), id="jump-input")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_close(self) -> None:
        self.dismiss(None)


class FilterField(Select[str], inherit_bindings=False):
    """A filter drop-down: Space or ↓ opens it, Enter is left to the dialog (应用)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,space,up", "show_overlay", show=False),
    ]


class FilterCheckbox(Checkbox, inherit_bindings=False):
    """Space toggles; Enter is left to the dialog (应用)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "toggle_button", show=False)]


class FilterScreen(ConsoleModal):
    """Pick chain, status, stage, department, warning, "only problems" and sort.

    Opens on the first field; Enter applies from any field (Space opens a drop-down
    or ticks the box), Escape closes without applying."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "bind.back"),
        Binding("enter,ctrl+s", "apply", "filter.apply"),
    ]

    def __init__(self, current: CaseFilter, choices: FilterChoices) -> None:
        super().__init__()
        self.current = current
        self.choices = choices

    def _select(self, name: str, options: list[tuple[str, str]], value: str | None) -> Select[str]:
        return FilterField(
            options,
            value=value if value in {v for _, v in options} else Select.NULL,
            prompt=self.t("filter.any"),
            id=f"filter-{name}",
        )

    def compose(self) -> ComposeResult:
        c, cur = self.catalog, self.current
        statuses = ["running", "approved", "not_approved", "withdrawn"]
        with Vertical(classes="dialog", id="filters"):
            yield Label(self.t("filter.title"), classes="dialog-title")
            yield Label(self.t("filter.keys"), classes="dim")
            with VerticalScroll():
                yield Label(self.t("filter.chain"))
                yield self._select(
                    "chain", [(c.chain(x), x) for x in self.choices.chains], cur.chain
                )
                yield Label(self.t("filter.status"))
                yield self._select(
                    "status", [(c.enum("status", s), s) for s in statuses], cur.status
                )
                yield Label(self.t("filter.stage"))
                yield self._select("stage", [(s, s) for s in self.choices.stages], cur.stage)
                yield Label(self.t("filter.department"))
                yield self._select(
                    "department",
                    [(c.department(d), d) for d in self.choices.departments],
                    cur.department,
                )
                yield Label(self.t("filter.warning"))
                yield self._select(
                    "warning",
                    [(c.enum("warning", w), w) for w in ("red", "yellow", "none")],
                    cur.warning,
                )
                yield FilterCheckbox(
                    self.t("filter.problems"), cur.problems_only, id="filter-problems"
                )
                yield Label(self.t("filter.sort"))
                yield FilterField(
                    [(self.t(f"sort.{s}"), s) for s in SORTS],
                    value=cur.sort,
                    allow_blank=False,
                    id="filter-sort",
                )
            with Horizontal(classes="buttons"):
                yield Button(self.t("filter.apply"), variant="primary", id="apply")
                yield Button(self.t("filter.reset"), id="reset")
                yield Button(self.t("form.cancel"), id="cancel")

    def _value(self, name: str) -> str | None:
        value: Any = self.query_one(f"#filter-{name}", Select).value
        return None if value is Select.NULL else str(value)

    def on_mount(self) -> None:
        self.query_one("#filter-chain", Select).focus()

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        self.dismiss(
            CaseFilter(
                chain=self._value("chain"),
                status=self._value("status"),
                stage=self._value("stage"),
                department=self._value("department"),
                warning=self._value("warning"),
                problems_only=self.query_one("#filter-problems", Checkbox).value,
                search=self.current.search,
                sort=self._value("sort") or "urgency",
            )
        )

    @on(Button.Pressed, "#reset")
    def _reset(self) -> None:
        self.dismiss(CaseFilter())

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(None)
