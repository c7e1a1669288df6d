"""The console's refresh timers reload only what is on show, less when nobody is there
(issue 26, point 7: twenty idle browser consoles took most of a core, and a list's
refresh ran after its screen was gone, leaving ``NoMatches '#cases'`` tracebacks).

A real console on a real SQLite read model (sample cases from ``tui.demo``), with a
short refresh; the read model's list query is counted.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from pathlib import Path

import pytest

import tui.screens.cases as cases_module
from domain.roles import Actor, Role
from readmodel.database import create_schema, make_engine
from tui.app import OneChainApp
from tui.demo import fill
from tui.screens.cases import CasesScreen

TODAY = date(2026, 5, 20)
REFRESH = 0.2


@pytest.fixture
def counted_lists(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []
    real = cases_module.list_page

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(time.monotonic())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cases_module, "list_page", counting)
    return calls


def _console(tmp_path: Path) -> OneChainApp:
    engine = make_engine(f"sqlite:///{tmp_path / 'readmodel.db'}")
    create_schema(engine)
    fill(engine, 40, TODAY)
    return OneChainApp(
        engine=engine,
        actor=Actor(user_id="poll", name="轮询", role=Role.COORDINATOR),
        today=lambda: TODAY,
        refresh_seconds=REFRESH,
        ping_seconds=0,
        start="cases",
    )


async def _count_over(calls: list[float], seconds: float) -> int:
    before = len(calls)
    await asyncio.sleep(seconds)
    return len(calls) - before


async def test_the_list_reloads_only_while_on_show_and_backs_off_when_idle(
    tmp_path: Path, counted_lists: list[float]
) -> None:
    app = _console(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, CasesScreen)
        assert await _count_over(counted_lists, 1.5) >= 2  # on show: it refreshes

        await pilot.press("1")  # the overview on show; the list stays mounted beneath
        await pilot.pause()
        assert not isinstance(app.screen, CasesScreen)
        assert await _count_over(counted_lists, 1.5) == 0

        await pilot.press("2")
        await pilot.pause()
        assert await _count_over(counted_lists, 1.5) >= 2
        # Nobody has touched the console for ten minutes: it polls at most once a minute.
        app.last_input = time.monotonic() - 600  # type: ignore[attr-defined]
        await asyncio.sleep(REFRESH * 2)  # a tick that may still be under way
        assert await _count_over(counted_lists, 1.5) == 0
        app.last_input = time.monotonic()  # type: ignore[attr-defined]
        assert await _count_over(counted_lists, 1.5) >= 2


async def test_a_refresh_after_the_list_is_taken_down_leaves_no_traceback(
    tmp_path: Path, counted_lists: list[float]
) -> None:
    """When a browser closes, the session's screens lose their widgets while timers,
    workers and the footer's binding checks still run: a list refresh (or asking which
    case is selected) arriving then does nothing (``run_test`` raises whatever a worker
    raised; it used to be ``NoMatches '#cases'``)."""
    app = _console(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        await screen.query_one("#cases").remove()  # as the teardown does, child first
        assert screen.selected_case() is None
        loads = len(counted_lists)
        screen.reload()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if len(counted_lists) > loads:
                break
        assert len(counted_lists) > loads  # it loads (the timer may too), and shows nothing
        await asyncio.sleep(0.3)
        await pilot.pause()
