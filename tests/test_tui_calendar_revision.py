"""The console's overview says how many running cases still use an older calendar
revision, only while there are some (issue 23): the real app on a real SQLite read
model, a schedule stored in it as `calendar load` stores it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from textual.widgets import Static

from domain.calendar_sources import load_schedule_file
from readmodel.calendar_revisions import running_behind
from readmodel.calendar_store import calendar_revision, store_schedule
from readmodel.database import create_schema, make_engine
from tests.test_shared_calendar import EXAMPLE_2027
from tests.test_tui_console import app_for, days, screen_text, settle, until
from tests.test_tui_snapshots import TODAY
from tui.demo import fill
from tui.desk import DayCounter

__all__ = ["days"]  # the fixture, used by name


@pytest.fixture
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("tui-calendar") / "readmodel.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    fill(engine, 40, TODAY)  # every case on the database's current revision
    yield engine
    engine.dispose()


async def test_the_overview_counts_cases_on_an_older_calendar_revision(
    engine: Engine, days: DayCounter
) -> None:
    app = app_for(engine, days, start="overview")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        line = app.screen.query_one("#overview-calendar", Static)
        assert not line.display  # every case on the current revision: nothing said
        store_schedule(engine, load_schedule_file(EXAMPLE_2027), by="admin1")
        behind = running_behind(engine, calendar_revision(engine))
        assert behind > 0  # every running case of the sample
        app.screen.reload()  # what the next refresh does
        await settle(pilot)
        await until(pilot, lambda: line.display)
        assert f"{behind} 件在办案件仍按旧版节假日安排计算期限" in screen_text(app)
