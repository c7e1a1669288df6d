"""Snapshots of the console's four screens (pytest-textual-snapshot).

A snapshot needs fixed content, so these tests (only these) use a separate SQLite
read model filled with fixed rows through ``readmodel.projection`` and a desk
stand-in whose Query returns a fixed case; the behaviour tests in ``test_tui.py``
use the real server. Snapshots live in ``tests/snapshots/``; after a deliberate
change of the UI, review the report and run ``pytest tests/test_tui_snapshots.py
--snapshot-update``. The versions that draw them are pinned in pyproject.toml.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot
from sqlalchemy import Engine
from textual.pilot import Pilot

from domain.actions import Action, ActionResult
from domain.calendar import WorkCalendar
from domain.calendar_sources import build_calendar
from domain.case import CaseState
from domain.roles import Actor, Role
from readmodel.database import create_schema, make_engine
from tui.app import OneChainApp
from tui.demo import fill, sample_state
from tui.desk import DayCounter

TODAY = date(2026, 5, 20)
SNAPSHOTS = Path(__file__).parent / "snapshots"
COORDINATOR = Actor(user_id="coord1", name="协调李四", role=Role.COORDINATOR)


@pytest.fixture(autouse=True)
def _snapshots_in_tests_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the SVGs in tests/snapshots/<test file>/ rather than __snapshots__."""

    def dirname(cls: type, *, test_location: Any) -> str:
        return str(SNAPSHOTS / test_location.basename)

    monkeypatch.setattr(pytest_textual_snapshot.SVGImageExtension, "dirname", classmethod(dirname))


class FixedDesk:
    """Answers the Query with one fixed case; acting is not part of a snapshot."""

    async def state(self, case_no: str) -> CaseState:
        return sample_state(case_no, TODAY)

    async def act(self, case_no: str, action: Action) -> ActionResult:
        return ActionResult(seq=0, message="")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("tui-snapshots") / "readmodel.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    fill(engine, 400, TODAY)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def days() -> DayCounter:
    empty = Path(__file__).parent / "snapshots" / "no-calendars"
    return DayCounter(WorkCalendar(build_calendar(empty, 2025, 2028)))


def app_for(engine: Engine, days: DayCounter, start: str, lang: str = "zh") -> OneChainApp:
    return OneChainApp(
        engine=engine,
        actor=COORDINATOR,
        desk=FixedDesk(),
        today=lambda: TODAY,
        refresh_seconds=0,
        ping_seconds=0,
        start=start,
        lang=lang,
        days=days,
    )


async def settle(pilot: Pilot) -> None:
    """Let workers finish and the screen re-render until it is quiet (a loaded CI
    machine needs a few more refresh cycles than a laptop)."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    for _ in range(3):
        await pilot.pause(0.05)


def test_overview(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    assert snap_compare(app_for(engine, days, "overview"), run_before=settle)


def test_overview_large_terminal(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    assert snap_compare(
        app_for(engine, days, "overview"), run_before=settle, terminal_size=(160, 48)
    )


def test_cases(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    assert snap_compare(app_for(engine, days, "cases"), run_before=settle)


def test_cases_filtered_english(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("o", "space")
        await settle(pilot)

    assert snap_compare(
        app_for(engine, days, "cases", lang="en"), run_before=run_before, terminal_size=(140, 30)
    )


def test_case(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app_for(engine, days, "cases"), run_before=run_before)


def test_case_timeline_large(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        pilot.app.screen.query_one("#case-tabs").active = "tab-timeline"
        await settle(pilot)

    assert snap_compare(
        app_for(engine, days, "cases"), run_before=run_before, terminal_size=(140, 36)
    )


def test_departments(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    assert snap_compare(app_for(engine, days, "departments"), run_before=settle)


# 120×40, the other size a coordinator's terminal usually has (the ones above are 80×24).
WIDE = (120, 40)


def test_overview_120x40(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    assert snap_compare(app_for(engine, days, "overview"), run_before=settle, terminal_size=WIDE)


def test_cases_120x40(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    assert snap_compare(app_for(engine, days, "cases"), run_before=settle, terminal_size=WIDE)


def test_case_120x40(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app_for(engine, days, "cases"), run_before=run_before, terminal_size=WIDE)


def test_departments_120x40(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    assert snap_compare(app_for(engine, days, "departments"), run_before=settle, terminal_size=WIDE)


def test_extend_form(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    """The extension form at 80×24: the most urgent task preselected with its
    department and due date, and the new due date previewed."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)

    assert snap_compare(app_for(engine, days, "cases"), run_before=run_before)


def test_filter_dialog(snap_compare: Any, engine: Engine, days: DayCounter) -> None:
    """The filter dialog at 80×24: the first field focused, the keys said."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)

    assert snap_compare(app_for(engine, days, "cases"), run_before=run_before)
