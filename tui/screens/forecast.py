"""预测: the next working days' red cards, for the whole office and per department, with
the what-if switches (arrivals, capacity, holiday) beside the baseline.

The numbers come from ``tui.forecast_data`` (the CLI's forecast, fewer futures); this
screen only lays them out: a chart of red cards per day (the expected count, the 80 %
interval's top, and the what-if's expected count), a table per department, and the
switches. The chart shows the whole office, or the department under the cursor.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import DataTable, Input, Label, Static
from textual_plotext import PlotextPlot

from forecast.history import MIN_HISTORY
from tui.forecast_data import ForecastView, Series, Switches, forecast_view
from tui.screens.base import ConsoleScreen
from tui.widgets.footer import FittingFooter
from tui.widgets.safe_table import SafeDataTable
from tui.widgets.status import StatusBar

ALL = "__all__"
COLUMNS = ("department", "open", "history", "red", "what_if")


class ForecastChart(PlotextPlot):
    """Red cards per day. Labels stay ASCII (plotext measures single-width cells)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.series: list[tuple[Series, str]] = []

    def show(self, base: Series, what_if: Series | None) -> None:
        self.series = [(base, "base")] + ([(what_if, "what-if")] if what_if else [])
        plt = self.plt
        plt.clear_figure()
        xs = list(range(len(base.days)))
        if xs:
            plt.plot(xs, base.mean, marker="hd", color="red", label="expected")
            plt.plot(xs, base.high, marker="dot", color="orange", label="80% top")
            if what_if is not None:
                plt.plot(xs, what_if.mean, marker="hd", color="cyan", label="what-if")
            plt.xticks(xs, [d.strftime("%m-%d") for d in base.days])
            top = max([*base.high, *(what_if.high if what_if else []), 1])
            plt.ylim(0, top)
        self.refresh()


class ForecastScreen(ConsoleScreen):
    HELP_EXTRA = (("enter", "fc.apply"),)
    #: The table, not a what-if field, has the keys when the screen opens: a coordinator's
    #: `q` or `1` must leave the screen, not be typed into 新收件变化.
    AUTO_FOCUS = "#fc-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "refresh", "bind.refresh", show=False),
        Binding("escape", "leave_switch", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.view: ForecastView | None = None
        self.switches = Switches()
        self.department: str | None = None

    def compose(self) -> ComposeResult:
        t = self.t
        yield StatusBar("screen.forecast", id="status")
        yield Static(t("fc.hint"), classes="dim", id="fc-hint")
        with Horizontal(id="fc-switches"):
            for key in ("arrivals", "capacity", "holiday"):
                with Vertical(classes="fc-switch"):
                    yield Label(t(f"fc.switch.{key}"))
                    yield Input(placeholder=t(f"fc.example.{key}"), id=f"fc-{key}")
        yield Static("", id="fc-said")
        yield Label(t("fc.chart_all"), id="fc-chart-title")
        yield ForecastChart(id="fc-chart")
        yield SafeDataTable(id="fc-table", cursor_type="row", zebra_stripes=True)
        yield Static("", classes="dim", id="fc-assumed")
        yield FittingFooter()

    def on_mount(self) -> None:
        table = self.query_one("#fc-table", DataTable)
        for key in COLUMNS:
            table.add_column(self.t(f"fc.col.{key}"), key=key, width=18 if key != "open" else 8)
        self.reload()

    def action_refresh(self) -> None:
        self.reload()

    def action_leave_switch(self) -> None:
        """Escape in a what-if field gives the keys back to the table (and the screen)."""
        self.query_one("#fc-table", DataTable).focus()

    def reload(self) -> None:
        self.query_one("#fc-said", Static).update(self.t("fc.computing"))
        self.fetch(self.switches)

    @on(Input.Submitted)
    def _apply(self, _event: Input.Submitted) -> None:
        self.switches = Switches(
            arrivals=self.query_one("#fc-arrivals", Input).value,
            capacity=self.query_one("#fc-capacity", Input).value,
            holiday=self.query_one("#fc-holiday", Input).value,
        )
        self.reload()

    @work(exclusive=True, group="forecast")
    async def fetch(self, switches: Switches) -> None:
        engine, today = self.console.engine, self.console.today()
        try:
            view = await asyncio.to_thread(forecast_view, engine, today, switches)
        except SQLAlchemyError as error:
            self.console.read_model_failed(error)
            return
        try:
            self.show(view)
        except NoMatches:  # the screen went away while the forecast ran
            return

    def show(self, view: ForecastView) -> None:
        self.view = view
        said = self.query_one("#fc-said", Static)
        if view.error:
            said.update(Text(self.t("fc.error", error=view.error), style="bold red"))
        elif view.what_if is not None:
            items = "；".join(f"{k} {v}" for k, v in view.said.items())
            said.update(self.t("fc.what_if", said=items))
        else:
            said.update(self.t("fc.baseline", futures=view.baseline.futures))
        table = self.query_one("#fc-table", DataTable)
        table.clear()
        other = {d.department: d for d in view.what_if.departments} if view.what_if else {}
        table.add_row(self.t("fc.all"), "", "", self._total(view, False),
                      self._total(view, True), key=ALL)  # fmt: skip
        for d in sorted(view.baseline.departments, key=lambda d: -d.red_total):
            w = other.get(d.department)
            history = self.t("fc.assumed") if d.assumed else self.t("fc.measured", n=d.measured)
            table.add_row(
                self.catalog.department(d.department),
                Text(f"{d.open_tasks:,}", justify="right"),
                Text(history, style="yellow" if d.assumed else ""),
                Text(f"{d.red_total:.1f} [{d.red_total_low}–{d.red_total_high}]", style="red"),
                f"{w.red_total:.1f} [{w.red_total_low}–{w.red_total_high}]" if w else "",
                key=d.department,
            )
        self.query_one("#fc-assumed", Static).update(self._assumptions(view))
        self._chart()

    def _assumptions(self, view: ForecastView) -> str:
        """The forecast's assumptions in the console's language: departments with too little
        history in one line, by name (the engine says them one per line, by code)."""
        assumed = {d.department for d in view.baseline.departments if d.assumed}
        others: list[str] = []
        for line in view.baseline.assumptions:
            code = line.split(":", 1)[0]
            if code in assumed or self.catalog.department(code) != code:
                assumed.add(code)
            else:
                others.append(self.t("fc.assumption", line=line))
        names = "、".join(sorted(self.catalog.department(code) for code in assumed))
        head = [self.t("fc.assumed_departments", n=MIN_HISTORY, names=names)] if assumed else []
        return "\n".join(head + others)

    def _total(self, view: ForecastView, what_if: bool) -> str:
        forecast = view.what_if if what_if else view.baseline
        if forecast is None:
            return ""
        return f"{sum(d.red_total for d in forecast.departments):.1f}"

    def _chart(self) -> None:
        view = self.view
        if view is None:
            return
        department = self.department
        title = (
            self.t("fc.chart_department", department=self.catalog.department(department))
            if department
            else self.t("fc.chart_all")
        )
        self.query_one("#fc-chart-title", Label).update(title)
        base = view.series(view.baseline, department)
        what_if = view.series(view.what_if, department) if view.what_if else None
        self.query_one("#fc-chart", ForecastChart).show(base, what_if)

    @on(DataTable.RowHighlighted, "#fc-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = str(event.row_key.value or ALL)
        self.department = None if key == ALL else key
        self._chart()
