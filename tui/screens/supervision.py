"""电子监察: findings by department and rule, and the 督办 items sent about them.

A supervisor (and, read-only, an administrator) sees every finding: the unclosed ones
counted by department × rule on top (Enter narrows the list to that pair), the list
below with each finding's 督办 status. A reviewer sees only the items sent to their
department that await its answer. Enter on a finding opens it (``FindingScreen``).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from domain.timezone import CST
from tui.messages import Catalog
from tui.polling import polled
from tui.screens.base import ConsoleScreen
from tui.screens.supervision_dialogs import (
    SupervisionFilterScreen,
    department_label,
    rule_label,
)
from tui.supervision_data import (
    NO_DEPARTMENT,
    FindingFilter,
    FindingRow,
    SummaryRow,
    choices,
    findings,
    sees_all,
    summary,
)
from tui.widgets.footer import FittingFooter
from tui.widgets.safe_table import SafeDataTable
from tui.widgets.status import StatusBar

#: Rows in the list: the newest first (the filter narrows it; the summary counts all).
LIMIT = 500
SUMMARY_STATUSES = ("open", "sent", "responded", "escalated")
FINDING_COLUMNS = ("id", "status", "rule", "department", "case", "found", "respond_by", "finding")
STATUS_STYLES = {"open": "bold", "sent": "yellow", "escalated": "bold red", "closed": "dim"}


def status_cell(catalog: Catalog, status: str) -> Text:
    return Text(catalog.t(f"sup.status.{status}"), style=STATUS_STYLES.get(status, ""))


class SupervisionScreen(ConsoleScreen):
    HELP_EXTRA = (("enter", "bind.open"),)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "filter", "bind.filter"),
        Binding("x", "clear", "bind.clear"),
        Binding("ctrl+r", "refresh", "bind.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = FindingFilter()
        self.rows: list[FindingRow] = []

    @property
    def sees_all(self) -> bool:
        return sees_all(self.console.actor)

    def compose(self) -> ComposeResult:
        actor = self.console.actor
        yield StatusBar("screen.supervision", id="status")
        if self.sees_all:
            yield Static(self.t(f"sup.hint.{actor.role.value}"), classes="dim", id="sup-hint")
            yield Label(self.t("sup.summary"), classes="section")
            yield SafeDataTable(id="sup-summary", cursor_type="row", zebra_stripes=True)
        else:
            department = self.catalog.department(actor.department)
            yield Static(self.t("sup.hint.reviewer", department=department), id="sup-hint")
        yield Static("", id="sup-filter", classes="dim")
        yield SafeDataTable(id="sup-findings", cursor_type="row", zebra_stripes=True)
        yield Static("", id="sup-selected")
        yield FittingFooter()

    def on_mount(self) -> None:
        if self.sees_all:
            table = self.query_one("#sup-summary", DataTable)
            table.add_column(self.t("sup.col.department"), key="department", width=16)
            table.add_column(self.t("sup.col.rule"), key="rule", width=18)
            for status in SUMMARY_STATUSES:
                table.add_column(self.t(f"sup.status.{status}"), key=status, width=8)
        listed = self.query_one("#sup-findings", DataTable)
        widths = {"id": 5, "status": 10, "rule": 16, "department": 12, "case": 12}
        for key in FINDING_COLUMNS:
            listed.add_column(self.t(f"sup.col.{key}"), key=key, width=widths.get(key))
        listed.focus()
        self.reload()
        if self.console.refresh_seconds:
            self.set_interval(
                self.console.refresh_seconds * 2,
                polled(self, self.reload, self.console.refresh_seconds * 2),
            )

    # ------------------------------------------------------------- loading
    def reload(self) -> None:
        self.fetch()

    def action_refresh(self) -> None:
        self.reload()

    @work(exclusive=True, group="supervision")
    async def fetch(self) -> None:
        engine, actor = self.console.engine, self.console.actor
        try:
            rows = await asyncio.to_thread(findings, engine, actor, self.filter, LIMIT)
            counts = await asyncio.to_thread(summary, engine, actor) if self.sees_all else []
        except SQLAlchemyError as error:
            self.console.read_model_failed(error)
            return
        self.show(rows, counts)

    def show(self, rows: list[FindingRow], counts: list[SummaryRow]) -> None:
        self.rows = rows
        c = self.catalog
        if self.sees_all:
            table = self.query_one("#sup-summary", DataTable)
            table.clear()
            for row in counts:
                table.add_row(
                    department_label(c, row.department),
                    rule_label(c, row.rule),
                    *(
                        Text(
                            str(row.counts.get(s) or ""),
                            justify="right",
                            style=STATUS_STYLES.get(s, ""),
                        )
                        for s in SUMMARY_STATUSES
                    ),
                    key=f"{row.department or NO_DEPARTMENT}|{row.rule}",
                )
        listed = self.query_one("#sup-findings", DataTable)
        selected = None
        if listed.row_count:
            selected = listed.coordinate_to_cell_key(listed.cursor_coordinate).row_key.value
        listed.clear()
        for row in rows:
            listed.add_row(
                Text(str(row.id), justify="right"),
                status_cell(c, row.status),
                rule_label(c, row.rule),
                department_label(c, row.department),
                row.case_no or "—",
                f"{row.found_at.astimezone(CST):%m-%d %H:%M}",
                f"{row.respond_by.astimezone(CST):%Y-%m-%d}" if row.respond_by else "",
                row.sentence,
                key=str(row.id),
            )
        if selected and selected in {str(r.id) for r in rows}:
            listed.move_cursor(row=listed.get_row_index(selected), animate=False)
        self._show_filter(len(rows))

    def _show_filter(self, count: int) -> None:
        flt, c = self.filter, self.catalog
        parts = [self.t("sup.count", count=count)]
        if count >= LIMIT:
            parts[0] = self.t("sup.capped", count=count)
        if flt.department:
            parts.append(department_label(c, flt.department))
        if flt.rule:
            parts.append(rule_label(c, flt.rule))
        if flt.status:
            parts.append(self.t(f"sup.status.{flt.status}"))
        if flt.active:
            parts.append(self.t("sup.filter_clear"))
        self.query_one("#sup-filter", Static).update(" · ".join(parts))

    # ----------------------------------------------------------- filtering
    def set_filter(self, flt: FindingFilter) -> None:
        self.filter = flt
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter" and not self.sees_all:
            return False  # a reviewer's list is one department's inbox already
        if action == "clear":
            if not self.sees_all:
                return False
            return True if self.filter.active else None
        return True

    def action_filter(self) -> None:
        self._open_filter()

    @work(exclusive=True, group="supervision-filter")
    async def _open_filter(self) -> None:
        try:
            departments, rules = await asyncio.to_thread(choices, self.console.engine)
        except SQLAlchemyError as error:
            self.console.read_model_failed(error)
            return

        def chosen(flt: FindingFilter | None) -> None:
            if flt is not None:
                self.set_filter(flt)

        self.app.push_screen(SupervisionFilterScreen(self.filter, departments, rules), chosen)

    def action_clear(self) -> None:
        self.set_filter(FindingFilter())

    @on(DataTable.RowSelected, "#sup-summary")
    def _narrow(self, event: DataTable.RowSelected) -> None:
        department, _, rule = str(event.row_key.value or "").partition("|")
        self.set_filter(FindingFilter(department=department or None, rule=rule or None))
        self.query_one("#sup-findings", DataTable).focus()

    @on(DataTable.RowHighlighted, "#sup-findings")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The whole sentence of the highlighted finding (the column cuts it)."""
        row = next((r for r in self.rows if str(r.id) == event.row_key.value), None)
        self.query_one("#sup-selected", Static).update(
            Text(f"#{row.id} {row.sentence}") if row is not None else ""
        )

    @on(DataTable.RowSelected, "#sup-findings")
    def _open(self, event: DataTable.RowSelected) -> None:
        from tui.screens.finding import FindingScreen

        if event.row_key.value:
            self.app.push_screen(FindingScreen(int(event.row_key.value)))

    def selected_finding(self) -> int | None:
        listed = self.query_one("#sup-findings", DataTable)
        if not listed.row_count:
            return None
        key = listed.coordinate_to_cell_key(listed.cursor_coordinate).row_key.value
        return int(key) if key else None
