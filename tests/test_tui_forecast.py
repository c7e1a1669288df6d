"""The console's forecast screen (预测, key 5): the recorded autumn's forecast per
department, the chart following the department under the cursor, a what-if switch
beside the baseline, a wrong switch named, and the screen kept from reviewers.

The real app on a real SQLite read model (tests/fixtures/forecast_month.json)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Label, Static

from domain.roles import Actor, Role
from readmodel.database import create_schema, make_engine
from tests.forecast_month import load_month
from tests.test_tui_misleading import app_for, days, settle, until  # noqa: F401 (fixture)
from tui.desk import DayCounter
from tui.screens.forecast import ForecastChart, ForecastScreen


@pytest.fixture
def month(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'readmodel.sqlite3'}")
    create_schema(engine)
    return engine, load_month(engine)


def _cells(table: DataTable, column: str) -> dict[str, str]:
    return {str(row.value): str(table.get_cell(row, column)) for row in table.rows}


async def test_the_forecast_screen_with_a_what_if(month, days: DayCounter) -> None:  # noqa: F811
    engine, today = month
    app = app_for(engine, days, None, today, start="overview")
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: isinstance(app.screen, ForecastScreen))
        screen = app.screen
        table = screen.query_one("#fc-table", DataTable)
        await until(pilot, lambda: table.row_count > 1)
        red = _cells(table, "red")
        assert set(red) - {"__all__"} == {d.department for d in screen.view.baseline.departments}
        busiest = max(screen.view.baseline.departments, key=lambda d: d.red_total)
        assert red[busiest.department].startswith(f"{busiest.red_total:.1f} [")
        assert _cells(table, "what_if")[busiest.department] == ""

        # The chart is the whole office's, then the department under the cursor.
        chart = screen.query_one("#fc-chart", ForecastChart)
        total = sum(d.days[0].red for d in screen.view.baseline.departments)
        assert chart.series[0][0].mean[0] == pytest.approx(total)
        table.focus()
        table.move_cursor(row=table.get_row_index(busiest.department))
        await settle(pilot)
        assert chart.series[0][0].mean == [c.red for c in busiest.days]
        title = str(screen.query_one("#fc-chart-title", Label).render())
        assert app.catalog.department(busiest.department) in title

        # A what-if: arrivals up by half, beside the baseline, same dice.
        screen.query_one("#fc-arrivals", Input).value = "+50%"
        screen.query_one("#fc-arrivals", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen.view is not None and screen.view.what_if is not None)
        await settle(pilot)
        after = sum(d.red_total for d in screen.view.what_if.departments)
        before = sum(d.red_total for d in screen.view.baseline.departments)
        assert after > before
        assert _cells(table, "what_if")[busiest.department] != ""
        assert len(chart.series) == 2

        # A wrong switch is named; the baseline stays.
        screen.query_one("#fc-capacity", Input).value = "nowhere=-1"
        screen.query_one("#fc-capacity", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen.view is not None and screen.view.error != "")
        said = str(screen.query_one("#fc-said", Static).render())
        assert "nowhere" in said and screen.view.what_if is None


async def test_reviewers_get_no_forecast_screen(month, days: DayCounter) -> None:  # noqa: F811
    engine, today = month
    reviewer = Actor(user_id="rev1", name="审查王五", role=Role.REVIEWER, department="fire")
    app = app_for(engine, days, None, today, start="overview", actor=reviewer)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        assert not isinstance(app.screen, ForecastScreen)


async def test_keys_on_the_opened_screen_go_to_the_console_not_a_what_if_field(
    month,
    days: DayCounter,  # noqa: F811
) -> None:
    """The screen opens with the table focused: `1` leaves for the overview (it was typed
    into 新收件变化); Escape in a what-if field gives the keys back."""
    engine, today = month
    app = app_for(engine, days, None, today, start="overview")
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: isinstance(app.screen, ForecastScreen))
        screen = app.screen
        await settle(pilot)
        assert isinstance(app.focused, DataTable)
        arrivals = screen.query_one("#fc-arrivals", Input)
        arrivals.focus()
        await pilot.press("2", "escape")
        assert arrivals.value == "2" and isinstance(app.focused, DataTable)
        await pilot.press("1")
        await until(pilot, lambda: not isinstance(app.screen, ForecastScreen))
        assert arrivals.value == "2"
