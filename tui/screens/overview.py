"""Open cases by chain and stage, warnings, overdue by department, today's flow."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Label, Static

from tui.data import Overview, overview
from tui.screens.base import ConsoleScreen
from tui.widgets.chart import DailyChart
from tui.widgets.safe_table import SafeDataTable
from tui.widgets.status import StatusBar

CHART_DAYS = 14
KPIS = (
    ("open_cases", ""),
    ("case_yellow", "yellow"),
    ("case_red", "red"),
    ("task_yellow", "yellow"),
    ("task_red", "red"),
    ("accepted_today", ""),
    ("concluded_today", ""),
)


class OverviewScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "refresh", "bind.refresh")]

    def compose(self) -> ComposeResult:
        t = self.t
        yield StatusBar("screen.overview", id="status")
        with VerticalScroll(id="overview"):
            with Horizontal(id="kpis"):
                for key, level in KPIS:
                    with Vertical(classes=f"kpi {level}", id=f"kpi-{key}"):
                        yield Static("–", classes="kpi-value")
                        yield Label(t(f"overview.{key}"), classes="kpi-label")
            with Grid(id="overview-grid"):
                with Vertical(classes="panel"):
                    yield Label(t("overview.by_chain"), classes="section")
                    yield SafeDataTable(id="by-chain", cursor_type="row", zebra_stripes=True)
                with Vertical(classes="panel"):
                    yield Label(t("overview.by_department"), classes="section")
                    yield SafeDataTable(id="by-department", cursor_type="row")
                with Vertical(classes="panel chart-panel"):
                    yield Label(t("overview.chart", days=CHART_DAYS), classes="section")
                    yield Static(t("overview.legend"), classes="legend")
                    yield DailyChart(id="chart")
        yield Footer()

    def on_mount(self) -> None:
        by_chain = self.query_one("#by-chain", DataTable)
        # Fixed widths: auto-sized columns re-measure as rows arrive, which made the
        # header padding depend on timing (and the snapshots flaky).
        for key, width in (("chain", 20), ("stage", 16), ("count", 5), ("yellow", 5), ("red", 5)):
            by_chain.add_column(self.t(f"overview.col.{key}"), key=key, width=width)
        by_department = self.query_one("#by-department", DataTable)
        for key, width in (
            ("department", 20),
            ("overdue_tasks", 8),
            ("warning_tasks", 8),
            ("overdue_cases", 8),
        ):
            by_department.add_column(self.t(f"overview.col.{key}"), key=key, width=width)
        self.reload()
        if self.console.refresh_seconds:
            self.set_interval(self.console.refresh_seconds * 2, self.reload)

    def reload(self) -> None:
        self.fetch()

    def action_refresh(self) -> None:
        self.reload()

    @work(exclusive=True, group="overview")
    async def fetch(self) -> None:
        try:
            data = await asyncio.to_thread(
                overview, self.console.engine, self.console.today(), CHART_DAYS
            )
        except SQLAlchemyError as error:
            self.console.read_model_failed(error)
            return
        self.show(data)

    def show(self, data: Overview) -> None:
        c = self.catalog
        for key, _level in KPIS:
            value = getattr(data, key)
            self.query_one(f"#kpi-{key} .kpi-value", Static).update(f"{value:,}")
        by_chain = self.query_one("#by-chain", DataTable)
        by_chain.clear()
        for row in data.by_chain_stage:
            by_chain.add_row(
                c.chain(row.chain),
                row.stage,
                Text(f"{row.count:,}", justify="right"),
                Text(str(row.yellow or ""), style="yellow", justify="right"),
                Text(str(row.red or ""), style="bold red", justify="right"),
                key=f"{row.chain}/{row.stage}",
            )
        by_department = self.query_one("#by-department", DataTable)
        by_department.clear()
        for load in data.overdue_by_department:
            by_department.add_row(
                c.department(load.department),
                Text(str(load.red), style="bold red", justify="right"),
                Text(str(load.yellow), style="yellow", justify="right"),
                Text(str(load.overdue_cases), justify="right"),
                key=load.department,
            )
        if not data.overdue_by_department:
            by_department.add_row(self.t("overview.nothing_overdue"), "", "", "", key="-")
        self.query_one("#chart", DailyChart).set_data(
            data.days, data.accepted_per_day, data.concluded_per_day
        )
