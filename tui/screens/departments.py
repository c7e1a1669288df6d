"""Each department's open steps, warnings and overdue: who to chase."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import DataTable, Static

from tui.data import NOBODY, CaseFilter, DepartmentLoad, department_loads
from tui.polling import polled
from tui.screens.base import ConsoleScreen
from tui.widgets.footer import FittingFooter
from tui.widgets.safe_table import SafeDataTable
from tui.widgets.status import StatusBar

COLUMNS = ("department", "open", "yellow", "red", "returned", "cases", "overdue_cases")


class DepartmentsScreen(ConsoleScreen):
    HELP_EXTRA = (("enter", "bind.open"),)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "refresh", "bind.refresh", show=False)
    ]

    def compose(self) -> ComposeResult:
        yield StatusBar("screen.departments", id="status")
        yield Static(self.t("dept.hint"), classes="dim", id="dept-hint")
        yield SafeDataTable(id="departments", cursor_type="row", zebra_stripes=True)
        yield FittingFooter()

    def on_mount(self) -> None:
        table = self.query_one("#departments", DataTable)
        for key in COLUMNS:  # fixed widths: see OverviewScreen.on_mount
            table.add_column(
                self.t(f"dept.col.{key}"), key=key, width=16 if key == "department" else 8
            )
        table.focus()
        self.reload()
        if self.console.refresh_seconds:
            self.set_interval(
                self.console.refresh_seconds * 2,
                polled(self, self.reload, self.console.refresh_seconds * 2),
            )

    def reload(self) -> None:
        self.fetch()

    def action_refresh(self) -> None:
        self.reload()

    @work(exclusive=True, group="departments")
    async def fetch(self) -> None:
        try:
            loads = await asyncio.to_thread(department_loads, self.console.engine)
        except SQLAlchemyError as error:
            self.console.read_model_failed(error)
            return
        try:
            self.show(loads)
        except NoMatches:  # the screen went away (app closing) while the query ran
            return

    def show(self, loads: list[DepartmentLoad]) -> None:
        table = self.query_one("#departments", DataTable)
        selected = None
        if table.row_count:
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        for load in loads:
            name = (
                self.t("dept.nobody")
                if load.department == NOBODY
                else self.catalog.department(load.department)
            )
            table.add_row(
                name,
                Text(f"{load.open_tasks:,}", justify="right"),
                Text(f"{load.yellow:,}" if load.yellow else "", style="yellow", justify="right"),
                Text(f"{load.red:,}" if load.red else "", style="bold red", justify="right"),
                Text(f"{load.returned or ''}", style="cyan", justify="right"),
                Text(f"{load.cases:,}", justify="right"),
                Text(f"{load.overdue_cases or ''}", style="red", justify="right"),
                key=load.department,
            )
        if selected and selected in {d.department for d in loads}:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    @on(DataTable.RowSelected, "#departments")
    def _open(self, event: DataTable.RowSelected) -> None:
        department = str(event.row_key.value or "")
        if department == NOBODY:
            self.console.show_cases(CaseFilter(status="running", problems_only=True))
        elif department:
            self.console.show_department(department)
