"""How fast the console's case list is with many cases (not a timed test).

Fills a fresh SQLite read model with N made-up cases (default 20,000) through
``readmodel.projection``, then runs the real app headless (``App.run_test``) and
reports, each as the median of ``--repeat`` runs:

* open: from pressing ``2`` (the case list) to the first page on screen,
* filter: from pressing ``o`` ("only problems") to the filtered page on screen,
* search: from Enter (after ``/`` and a case number) to the one-row page on screen,
* page: from ``]`` (next page) to that page on screen,
* department filter: the list of cases waiting on one department (subquery),
* open a case: from Enter on a row to the case page with its state (the Query is a
  local stand-in here, so this is the UI's share of it),

plus the read-model queries alone (``tui.data.list_page``) and the overview's and
departments' aggregations, so UI cost and SQL cost can be told apart.

    python bench/bench_tui.py                  # 20,000 cases
    python bench/bench_tui.py --cases 5000 --repeat 3 --keep
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.actions import Action, ActionResult
from domain.case import CaseState
from domain.roles import Actor, Role
from readmodel.database import create_schema, make_engine
from tui.app import OneChainApp
from tui.data import CaseFilter, department_loads, list_page, overview
from tui.demo import case_number, fill, sample_state
from tui.screens.case import CaseScreen
from tui.screens.cases import CasesScreen

TODAY = date(2026, 5, 20)


class LocalDesk:
    async def state(self, case_no: str) -> CaseState:
        return sample_state(case_no, TODAY)

    async def act(self, case_no: str, action: Action) -> ActionResult:
        return ActionResult(seq=0, message="")


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.1f} ms  (min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f})"


async def measure_ui(engine, repeat: int, page_size: int, count: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {
        "open list": [],
        "filter (only problems)": [],
        "search case number": [],
        "next page": [],
        "department filter": [],
        "open a case": [],
        "open a case, CPU of this process": [],
    }
    for _ in range(repeat):
        await one_run(engine, page_size, case_number(min(12_345, count)), results)
    return results


async def one_run(engine, page_size: int, target: str, results: dict[str, list[float]]) -> None:
    actor = Actor(user_id="bench", name="bench", role=Role.COORDINATOR)
    app = OneChainApp(
        engine=engine,
        actor=actor,
        desk=LocalDesk(),
        today=lambda: TODAY,
        refresh_seconds=0,
        ping_seconds=0,
        page_size=page_size,
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()

        async def timed(name: str, action: Callable[[], Awaitable[None]], done) -> None:
            started, cpu = time.perf_counter(), time.process_time()
            await action()
            while True:
                await pilot.pause()
                await app.workers.wait_for_complete()
                if done():
                    break
            results[name].append(time.perf_counter() - started)
            if f"{name}, CPU of this process" in results:  # on a shared machine, wall
                results[f"{name}, CPU of this process"].append(time.process_time() - cpu)

        def screen() -> CasesScreen:
            assert isinstance(app.screen, CasesScreen)
            return app.screen

        def shown(**wanted: object) -> bool:
            page = screen().page
            return page is not None and all(
                getattr(screen().filter, k) == v for k, v in wanted.items()
            )

        await timed(
            "open list",
            lambda: pilot.press("2"),
            lambda: isinstance(app.screen, CasesScreen) and app.screen.page is not None,
        )
        await timed(
            "filter (only problems)",
            lambda: pilot.press("o"),
            lambda: (
                shown(problems_only=True) and all(r.warning != "none" for r in screen().page.rows)
            ),
        )
        screen().set_filter(CaseFilter())
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.press("slash", *target)  # typing is not timed; Enter applies it
        await timed(
            "search case number",
            lambda: pilot.press("enter"),
            lambda: shown(search=target) and len(screen().page.rows) >= 1,
        )
        screen().set_filter(CaseFilter())
        await pilot.pause()
        await app.workers.wait_for_complete()
        await timed(
            "next page",
            lambda: pilot.press("right_square_bracket"),
            lambda: screen().page is not None and screen().page.offset == page_size,
        )

        async def department() -> None:
            screen().set_filter(CaseFilter(department="fire"))

        await timed(
            "department filter",
            department,
            lambda: shown(department="fire") and screen().page.offset == 0,
        )
        screen().query_one("#cases").focus()
        await timed(
            "open a case",
            lambda: pilot.press("enter"),
            lambda: isinstance(app.screen, CaseScreen) and app.screen.state is not None,
        )
        await pilot.press("escape")


def measure_sql(engine, repeat: int, page_size: int) -> dict[str, list[float]]:
    cases = {
        "list_page (urgency, page 1)": lambda: list_page(engine, CaseFilter(), 0, page_size),
        "list_page (only problems)": lambda: list_page(
            engine, CaseFilter(problems_only=True), 0, page_size
        ),
        "list_page (search)": lambda: list_page(engine, CaseFilter(search="阳光"), 0, page_size),
        "list_page (page 100)": lambda: list_page(engine, CaseFilter(), 100 * page_size, page_size),
        "list_page (department)": lambda: list_page(
            engine, CaseFilter(department="fire"), 0, page_size
        ),
        "overview aggregation": lambda: overview(engine, TODAY),
        "departments aggregation": lambda: department_loads(engine),
    }
    results: dict[str, list[float]] = {}
    for name, fn in cases.items():
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
        results[name] = samples
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", "-n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the temp read model")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="onechain-bench-tui-"))
    engine = make_engine(f"sqlite:///{folder / 'readmodel.sqlite3'}")
    create_schema(engine)
    started = time.perf_counter()
    fill(engine, args.cases, TODAY)
    print(f"filled {args.cases:,} cases in {time.perf_counter() - started:.1f} s ({folder})")

    print(f"\nread model alone (median of {args.repeat})")
    for name, samples in measure_sql(engine, args.repeat, args.page_size).items():
        print(f"  {name:32} {median_ms(samples)}")

    print(f"\nthe app, key press to rows on screen (median of {args.repeat})")
    for name, samples in asyncio.run(
        measure_ui(engine, args.repeat, args.page_size, args.cases)
    ).items():
        print(f"  {name:32} {median_ms(samples)}")

    engine.dispose()
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
