"""What the forms' help and the language switch cost (not a timed test).

Fills a fresh SQLite read model with N made-up cases (default 20,000), runs the real
app headless and reports, each as the median of ``--repeat`` runs:

* form: from ``e`` on a case page to the extension form on screen with its task
  preselected, its due date and the new due date's preview,
* preview: from typing a number of days to the preview showing the new date,
* switch language: from ``F2`` on the case list to the list on screen again, in
  the other language (the screens are built again),
* wording: one refusal worded from its code (``Catalog.refused``), in µs.

The case Query is a local stand-in, so these are the console's own shares.

    python bench/bench_forms.py
    python bench/bench_forms.py --cases 5000 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_tui import TODAY, LocalDesk
from client.facade import CaseError
from domain.refusal import Refusal
from domain.roles import Actor, Role
from readmodel.database import create_schema, make_engine
from tui.app import OneChainApp
from tui.demo import fill
from tui.messages import Catalog
from tui.screens.action_form import ActionForm
from tui.screens.case import CaseScreen
from tui.screens.cases import CasesScreen

COORDINATOR = Actor(user_id="bench", name="基准", role=Role.COORDINATOR)


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.1f} ms  (min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f})"


async def until(pilot: object, done: Callable[[], bool]) -> None:
    while not done():
        await pilot.pause(0.005)  # type: ignore[attr-defined]


async def measure(cases: int, repeat: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-forms-"))
    engine = make_engine(f"sqlite:///{folder / 'readmodel.sqlite3'}")
    create_schema(engine)
    started = time.perf_counter()
    fill(engine, cases, TODAY)
    print(f"filled {cases} cases in {time.perf_counter() - started:.1f}s")
    app = OneChainApp(
        engine=engine,
        actor=COORDINATOR,
        desk=LocalDesk(),
        today=lambda: TODAY,
        refresh_seconds=0,
        ping_seconds=0,
        start="cases",
    )
    forms: list[float] = []
    previews: list[float] = []
    switches: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CasesScreen) and app.screen.page)
        for _ in range(repeat):
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, CaseScreen) and app.screen.state)
            began = time.perf_counter()
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, ActionForm))
            form = app.screen
            await until(
                pilot,
                lambda form=form: (
                    bool(form.query("#preview"))
                    and "（预览）" in str(form.query_one("#preview").render())
                ),
            )
            forms.append(time.perf_counter() - began)
            before = str(form.query_one("#preview").render())
            form.query_one("#days").focus()
            began = time.perf_counter()
            await pilot.press("backspace", "3")
            await until(pilot, lambda f=form, b=before: str(f.query_one("#preview").render()) != b)
            previews.append(time.perf_counter() - began)
            await pilot.press("escape")
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, CasesScreen))
        for _ in range(repeat):
            lang = app.catalog.lang
            began = time.perf_counter()
            await pilot.press("f2")
            await until(
                pilot,
                lambda lang=lang: (
                    app.catalog.lang != lang
                    and isinstance(app.screen, CasesScreen)
                    and app.screen.page is not None
                ),
            )
            switches.append(time.perf_counter() - began)
    catalog = Catalog("zh")
    error = CaseError.refused(
        Refusal.ALREADY_DECIDED,
        department="fire",
        task="T3",
        task_name="消防审查",
        verdict="approve",
    )
    began = time.perf_counter()
    for _ in range(10_000):
        catalog.refused(error, doing="决定")
    wording = (time.perf_counter() - began) / 10_000
    print(f"form (open, preselect, preview): {median_ms(forms)}")
    print(f"preview after typing days:       {median_ms(previews)}")
    print(f"switch language (case list):     {median_ms(switches)}")
    print(f"word one refusal:                {wording * 1e6:8.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.cases, args.repeat))


if __name__ == "__main__":
    main()
