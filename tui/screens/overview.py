"""Open cases by chain and stage, warnings, overdue by department, today's flow."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, ClassVar

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import DataTable, Label, Static

from tui.data import NOBODY, CaseFilter, Overview, overview
from tui.polling import polled
from tui.screens.base import ConsoleScreen
from tui.widgets.chart import DailyChart
from tui.widgets.footer import FittingFooter
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


#: What each card opens: the Cases list filtered to exactly the cases it counts.
def card_filter(key: str, today: date) -> CaseFilter:
    if key == "open_cases":
        return CaseFilter(status="running")
    if key == "accepted_today":
        return CaseFilter(accepted_on=today)
    if key == "concluded_today":
        return CaseFilter(concluded_on=today)
    return CaseFilter(card=key)


class KpiCard(Vertical):
    """A count on the Overview; Enter (or a click) opens the cases it counts."""

    can_focus = True
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open", "bind.open", show=False)]

    class Opened(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    def action_open(self) -> None:
        self.post_message(self.Opened(self.key))

    def on_click(self) -> None:
        self.action_open()


class OverviewScreen(ConsoleScreen):
    HELP_EXTRA = (("enter", "bind.open"),)
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "refresh", "bind.refresh")]

    def compose(self) -> ComposeResult:
        t = self.t
        yield StatusBar("screen.overview", id="status")
        with VerticalScroll(id="overview"):
            # What the cards count: a case's own limit and a step's are different cards
            # (环节红牌 0 beside thousands of case reds read as a wrong count).
            yield Static(
                t("overview.hint") + " · " + t("overview.counts"), classes="dim", id="overview-hint"
            )
            # Shown only while some case was changed around onechain (readmodel.outside).
            altered = Static("", id="overview-altered")
            altered.display = False
            yield altered
            # Shown only while a calendar load has not reached every running case.
            behind = Static("", id="overview-calendar")
            behind.display = False
            yield behind
            with Horizontal(id="kpis"):
                for key, level in KPIS:
                    with KpiCard(key, classes=f"kpi {level}", id=f"kpi-{key}"):
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
        yield FittingFooter()

    def on_mount(self) -> None:
        by_chain = self.query_one("#by-chain", DataTable)
        # Fixed widths: auto-sized columns re-measure as rows arrive, which made the
        # header padding depend on timing (and the snapshots flaky).
        for key, width in (("chain", 12), ("stage", 16), ("count", 6), ("yellow", 6), ("red", 6)):
            by_chain.add_column(self.t(f"overview.col.{key}"), key=key, width=width)
        by_department = self.query_one("#by-department", DataTable)
        # Narrow enough for the wide layout's right-hand panel (no scrollbar hiding
        # the last column); numbers up to 999,999 fit.
        for key, width in (
            ("department", 14),
            ("red", 7),
            ("yellow", 7),
            ("overdue_cases", 8),
        ):
            by_department.add_column(self.t(f"overview.col.{key}"), key=key, width=width)
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

    @work(exclusive=True, group="overview")
    async def fetch(self) -> None:
        try:
            data = await asyncio.to_thread(
                overview, self.console.engine, self.console.today(), CHART_DAYS
            )
        except SQLAlchemyError as error:
            self.console.read_model_failed(error)
            return
        try:
            self.show(data)
        except NoMatches:  # the screen went away (app closing) while the query ran
            return

    def show(self, data: Overview) -> None:
        c = self.catalog
        altered = self.query_one("#overview-altered", Static)
        altered.display = data.altered > 0
        if data.altered:
            altered.update(Text(self.t("overview.altered", count=data.altered), style="bold red"))
        behind = self.query_one("#overview-calendar", Static)
        behind.display = data.calendar_behind > 0
        if data.calendar_behind:
            text = self.t("overview.calendar_behind", count=data.calendar_behind)
            behind.update(Text(text, style="bold yellow"))
        for key, _level in KPIS:
            value = getattr(data, key)
            self.query_one(f"#kpi-{key} .kpi-value", Static).update(f"{value:,}")
        by_chain = self.query_one("#by-chain", DataTable)
        by_chain.clear()
        for row in data.by_chain_stage:
            by_chain.add_row(
                c.chain_short(row.chain),
                c.step(row.chain, row.stage),
                Text(f"{row.count:,}", justify="right"),
                Text(str(row.yellow or ""), style="yellow", justify="right"),
                Text(str(row.red or ""), style="bold red", justify="right"),
                key=f"{row.chain}/{row.stage}",
            )
        by_department = self.query_one("#by-department", DataTable)
        by_department.clear()
        for load in data.overdue_by_department:
            name = (
                self.t("dept.nobody")
                if load.department == NOBODY
                else c.department(load.department)
            )
            by_department.add_row(
                name,
                Text(f"{load.red:,}", style="bold red", justify="right"),
                Text(f"{load.yellow:,}", style="yellow", justify="right"),
                Text(f"{load.overdue_cases:,}", justify="right"),
                key=load.department,
            )
        if not data.overdue_by_department:
            by_department.add_row(self.t("overview.nothing_overdue"), "", "", "", key="")
        self.query_one("#chart", DailyChart).set_data(
            data.days, data.accepted_per_day, data.concluded_per_day
        )

    # ------------------------------------------------------------ drill down
    def _open(self, flt: CaseFilter) -> None:
        self.console.show_cases(flt)

    @on(KpiCard.Opened)
    def _card(self, event: KpiCard.Opened) -> None:
        self._open(card_filter(event.key, self.console.today()))

    @on(DataTable.RowSelected, "#by-chain")
    def _chain_stage(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value or "")
        chain, _, stage = key.partition("/")
        if chain:
            self._open(CaseFilter(chain=chain, stage=stage or None, status="running"))

    @on(DataTable.RowSelected, "#by-department")
    def _department(self, event: DataTable.RowSelected) -> None:
        department = str(event.row_key.value or "")
        if department == NOBODY:
            self._open(CaseFilter(status="running", problems_only=True))
        elif department:
            self._open(CaseFilter(department=department, problems_only=True))
