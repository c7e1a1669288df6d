"""The console shows a case changed around onechain (reset, terminated, deleted ...;
``readmodel.outside``) distinctly: red 「外部改动」 in the list, never a running card, and
a count on the overview for the supervisors and coordinators who see it.

The real app (``App.run_test``) on a real SQLite read model; the case Query is the
snapshot tests' fixed stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from textual.widgets import Static

from readmodel.database import create_schema, make_engine, read_session, write_session
from readmodel.outside import ALTERED, mark_altered
from readmodel.tables import CaseRecord
from tests.test_tui_console import app_for, cases_screen, days, screen_text, settle, until
from tests.test_tui_snapshots import TODAY
from tui.data import CaseFilter
from tui.demo import fill
from tui.desk import DayCounter
from tui.screens.cases import CasesScreen

__all__ = ["days"]  # the fixture, used by name


@pytest.fixture
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("tui-outside") / "readmodel.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    fill(engine, 40, TODAY)
    yield engine
    engine.dispose()


def mark_one(engine: Engine) -> str:
    with read_session(engine) as session:
        case_no = session.exec(
            select(CaseRecord.case_no).where(CaseRecord.status == "running")
        ).first()
    assert case_no is not None
    with write_session(engine) as session:
        mark_altered(session, [case_no])
    return case_no


async def test_the_overview_counts_cases_changed_outside_only_when_there_are_some(
    engine: Engine, days: DayCounter
) -> None:
    app = app_for(engine, days, start="overview")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        banner = app.screen.query_one("#overview-altered", Static)
        assert not banner.display  # nothing changed outside: nothing said
        mark_one(engine)
        app.screen.reload()  # what the next refresh does
        await settle(pilot)
        await until(pilot, lambda: banner.display)
        assert "1 件案件被外部改动" in screen_text(app)


async def test_a_case_changed_outside_is_red_in_the_list_and_not_running(
    engine: Engine, days: DayCounter
) -> None:
    case_no = mark_one(engine)
    app = app_for(engine, days)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.show_cases(CaseFilter(status=ALTERED))
        await until(pilot, lambda: isinstance(app.screen, CasesScreen))
        screen = cases_screen(app)
        await until(pilot, lambda: screen.page is not None and screen.filter.status == ALTERED)
        await settle(pilot)
        assert screen.page is not None
        assert [r.case_no for r in screen.page.rows] == [case_no]
        level = screen._cells(screen.page.rows[0], TODAY)[2]
        assert level.plain == "外部改动" and "red" in str(level.style)
        assert "外部改动" in screen_text(app)
