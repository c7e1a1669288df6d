"""The console on a busy morning (issue 12): nothing writes over the screen, every card
is attributed to whoever holds the case, the cursor says where it is, ``q`` in ``up``
asks first, and ``onechain server`` stopped with SIGTERM stops its ``temporal``.

These run the real app (``App.run_test``) on a real SQLite read model written through
``readmodel.projection``; the case Query is the fixed stand-in of the snapshot tests,
since none of this needs a workflow's answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from temporalio.client import Client
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from domain.calendar import WorkCalendar
from domain.calendar_sources import build_calendar
from readmodel.database import create_schema, make_engine, read_session, write_session
from readmodel.projection import apply_batch
from readmodel.tables import CaseRecord
from runtime.console_logging import file_runtime, logs_to_file
from tests.test_tui_snapshots import COORDINATOR, TODAY, FixedDesk
from tui.app import OneChainApp
from tui.data import NOBODY, CaseFilter, department_loads
from tui.demo import fill, sample_batches
from tui.desk import DayCounter
from tui.screens.cases import CasesScreen
from tui.screens.dialogs import ConfirmScreen
from tui.screens.overview import OverviewScreen

PAGE = 50


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("tui-console") / "readmodel.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    fill(engine, 300, TODAY)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def days() -> DayCounter:
    empty = Path(__file__).parent / "snapshots" / "no-calendars"
    return DayCounter(WorkCalendar(build_calendar(empty, 2025, 2028)))


def app_for(engine: Engine, days: DayCounter, start: str = "cases", **kw: Any) -> OneChainApp:
    return OneChainApp(
        engine=engine,
        actor=COORDINATOR,
        desk=FixedDesk(),
        today=lambda: TODAY,
        refresh_seconds=0,
        ping_seconds=0,
        start=start,
        days=days,
        page_size=PAGE,
        **kw,
    )


async def settle(pilot: Pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()


async def until(pilot: Pilot, predicate: Any, timeout: float = 20.0) -> None:
    """Wait (not a timed assertion: the timeout only bounds a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out on {pilot.app.screen!r}"
        await pilot.pause(0.05)


def screen_text(app: OneChainApp) -> str:
    """What the terminal shows, as plain text."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def cases_screen(app: OneChainApp) -> CasesScreen:
    assert isinstance(app.screen, CasesScreen)
    return app.screen


# ------------------------------------------------------------------ logs
@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, temporal = logging.getLogger(), logging.getLogger("temporalio")
    saved = (list(root.handlers), root.level, list(temporal.handlers), temporal.level)
    saved_propagate = temporal.propagate
    yield
    for logger in (root, temporal):
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    for handler in saved[2]:
        temporal.addHandler(handler)
    temporal.setLevel(saved[3])
    temporal.propagate = saved_propagate
    logging.captureWarnings(False)


async def test_sdk_and_python_logs_go_to_the_file_not_over_the_screen(
    engine: Engine,
    days: DayCounter,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    log = tmp_path / "console.log"
    logs_to_file(log)
    logging.getLogger("temporalio").setLevel(logging.DEBUG)
    app = app_for(engine, days, start="overview")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        capfd.readouterr()
        # The SDK core (Rust) logs while it tries a server that is not there …
        runtime = file_runtime(core_level="DEBUG")
        with pytest.raises(RuntimeError):
            await Client.connect("127.0.0.1:1", runtime=runtime)
        # … and Python code warns, the way a retrying gRPC call or a library would.
        logging.getLogger("temporalio.client").warning("gRPC call query_workflow failed")
        logging.getLogger("somewhere").warning("a library complains")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a deprecation", DeprecationWarning, stacklevel=1)
        await until(pilot, lambda: "temporalio.core" in log.read_text(encoding="utf-8"))
        await pilot.press("ctrl+l")
        await settle(pilot)
        written = capfd.readouterr()
        assert written.out == "" and written.err == "", written
        text = log.read_text(encoding="utf-8")
        for line in ("gRPC call query_workflow failed", "a library complains", "a deprecation"):
            assert line in text
        assert isinstance(app.screen, OverviewScreen)
        assert app.screen.query_one("#status").region.y == 0  # the title bar is in place
        assert str(app.screen.query_one("#kpi-open_cases .kpi-value", Static).render()) != "–"


# ------------------------------------------------------------ attribution
def test_every_card_is_attributed_to_whoever_holds_the_case(tmp_path: Path) -> None:
    """Case-level cards count at the departments the case waits on (and at "no
    department" when it waits on none), on top of their steps' own cards."""
    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    create_schema(engine)
    batches = [b for b in sample_batches(200, TODAY) if b.case.status == "running"]
    case_red = next(b for b in batches if len(b.case.open_departments) >= 2)
    case_red.case.case_warning, case_red.case.warning = "red", "red"
    for task in case_red.tasks:
        task.warning = "none"
    unheld = next(b for b in batches if b is not case_red)
    unheld.case.case_warning, unheld.case.warning = "yellow", "yellow"
    unheld.case.open_departments = []
    unheld.tasks = []
    with write_session(engine) as session:
        for batch in (case_red, unheld):
            apply_batch(session, batch)
    loads = {d.department: d for d in department_loads(engine)}
    for department in case_red.case.open_departments:
        assert loads[department].red == 1 and loads[department].task_red == 0
        assert loads[department].overdue_cases == 1
    assert loads[NOBODY].yellow == 1
    engine.dispose()


def test_department_totals_add_up_to_the_cards(engine: Engine) -> None:
    with read_session(engine) as session:
        running = session.exec(
            select(CaseRecord.case_warning, CaseRecord.open_departments).where(
                CaseRecord.status == "running"
            )
        ).all()
    expected_case_red = sum(max(1, len(set(d))) for w, d in running if w == "red")
    loads = department_loads(engine)
    assert sum(d.red - d.task_red for d in loads) == expected_case_red


async def test_enter_on_an_overview_row_or_card_opens_the_cases_it_counts(
    engine: Engine, days: DayCounter
) -> None:
    app = app_for(engine, days, start="overview")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#by-department", DataTable)
        department = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CasesScreen))
        screen = cases_screen(app)
        await until(pilot, lambda: screen.page is not None and screen.filter.department)
        assert screen.filter == CaseFilter(department=department, problems_only=True)
        assert screen.page is not None and screen.page.total > 0
        assert all(r.warning in ("red", "yellow") for r in screen.page.rows)

        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen))
        app.screen.query_one("#kpi-case_red").focus()
        await pilot.press("enter")
        await until(pilot, lambda: cases_screen(app).filter.card == "case_red")
        screen = cases_screen(app)
        await until(pilot, lambda: screen.page is not None and screen.page.offset == 0)
        await settle(pilot)
        assert screen.page is not None
        with read_session(engine) as session:
            reds = session.exec(
                select(CaseRecord.case_no).where(
                    CaseRecord.case_warning == "red", CaseRecord.status == "running"
                )
            ).all()
        assert screen.page.total == len(reds)


# ----------------------------------------------------------------- cursor
async def test_cursor_starts_at_the_top_pages_on_and_keeps_its_case(
    engine: Engine, days: DayCounter
) -> None:
    app = app_for(engine, days)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = cases_screen(app)
        table = screen.query_one("#cases", DataTable)
        await pilot.press(*["down"] * 7)
        assert table.cursor_row == 7
        # A refresh keeps the cursor on its case, by key.
        chosen = screen.selected_case()
        screen.reload()
        await settle(pilot)
        assert screen.selected_case() == chosen
        # A filter starts at the top: Enter opens the most urgent problem, not row 8.
        await pilot.press("o")
        await until(pilot, lambda: screen.filter.problems_only and screen.page is not None)
        await settle(pilot)
        assert table.cursor_row == 0
        assert screen.page is not None
        assert screen.selected_case() == screen.page.rows[0].case_no
        await pilot.press("o")
        await settle(pilot)
        # ↓ past the last row goes on to the next page, ↑ back again.
        await pilot.press("end")
        await settle(pilot)
        total = screen.page.total
        assert screen.page.offset == (total - 1) // PAGE * PAGE
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        await settle(pilot)
        assert screen.page.offset == 0 and table.cursor_row == 0
        await pilot.press(*["down"] * (PAGE - 1))
        await pilot.press("down")
        await settle(pilot)
        assert screen.page.offset == PAGE and table.cursor_row == 0
        await pilot.press("up")
        await settle(pilot)
        assert screen.page.offset == 0 and table.cursor_row == PAGE - 1
        await pilot.press("pagedown")
        await settle(pilot)
        assert screen.page.offset == PAGE


async def test_list_rows_say_who_holds_the_case_and_why_it_is_late(
    engine: Engine, days: DayCounter
) -> None:
    app = app_for(engine, days)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = cases_screen(app)
        row = screen.selected_row()
        assert row is not None and row.warning == "red" and row.holders
        detail = str(screen.query_one("#case-detail", Static).render())
        first = row.holders[0]
        assert first.task_id in detail and first.name in detail
        assert app.catalog.department(first.departments[0]) in detail
        assert app.catalog.t("cases.why", why="").rstrip() in detail


async def test_bulk_urge_leaves_out_concluded_cases_and_says_so(
    engine: Engine, days: DayCounter
) -> None:
    with read_session(engine) as session:
        concluded = session.exec(
            select(CaseRecord.case_no).where(CaseRecord.status != "running").limit(2)
        ).all()
        running = session.exec(
            select(CaseRecord.case_no).where(CaseRecord.status == "running").limit(1)
        ).all()
    from tui.permissions import Act
    from tui.screens.bulk import BulkForm

    app = app_for(engine, days)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.begin_bulk(Act.URGE, [*concluded, *running])
        await until(pilot, lambda: isinstance(app.screen, BulkForm))
        form = app.screen
        assert isinstance(form, BulkForm)
        assert list(form.case_numbers) == list(running)
        assert any(concluded[0] in str(n.message) for n in app._notifications)


# ------------------------------------------------------------- processes
async def test_q_asks_before_stopping_everything(engine: Engine, days: DayCounter) -> None:
    app = app_for(engine, days, confirm_quit="stop everything?")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, CasesScreen))
        assert app.is_running
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)


async def test_screenshot_goes_to_the_data_folder_and_says_where(
    engine: Engine, days: DayCounter, tmp_path: Path
) -> None:
    app = app_for(engine, days, screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        saved = app.deliver_screenshot()
        await settle(pilot)
        assert saved is not None and Path(saved).parent == tmp_path / "shots"
        assert Path(saved).read_text(encoding="utf-8").startswith("<svg")
        assert any(saved in str(n.message) for n in app._notifications)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_server_stopped_with_sigterm_stops_its_temporal_child(tmp_path: Path) -> None:
    env = {**os.environ, "ONECHAIN_DATA_DIR": str(tmp_path / "data")}
    env.pop("ONECHAIN_DATABASE_URL", None)
    onechain = [str(Path(sys.executable).parent / "onechain")]
    subprocess.run([*onechain, "db", "upgrade"], env=env, check=True, capture_output=True)
    port, ui = _free_port(), _free_port()
    server = subprocess.Popen(
        [*onechain, "server", "--port", str(port), "--ui-port", str(ui), "--headless"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        lines: list[str] = []
        while len(lines) < 5 and not any("Temporal dev server on" in line for line in lines):
            lines.append(server.stderr.readline())  # "created keys ...", then the server
        assert "Temporal dev server on" in lines[-1], lines
        children = _children(server.pid)
        assert children, "no temporal child"
        server.send_signal(signal.SIGTERM)
        _, rest = server.communicate(timeout=60)
        assert "stopped" in rest, rest
        for child in children:
            assert not _alive(child), f"temporal child {child} still running"
    finally:
        if server.poll() is None:
            server.kill()


def test_the_demo_simulator_leaves_some_late_cases_alone() -> None:
    """``up --demo``: the simulator works through the demo, but not through every
    late case: a newcomer ten minutes later still finds cases to chase."""
    from datetime import UTC, datetime

    from simulator.demo import cases_left_late, demo_rows
    from simulator.engine import OpenTask, Simulator
    from simulator.policy import Policy

    left = cases_left_late()
    _, rows = demo_rows()
    numbers = {row["案件编号"] for row in rows}
    assert left and left < numbers  # some, not all
    simulator = Simulator(
        None,  # type: ignore[arg-type]  (a left-alone case never reaches the desk)
        Policy(),
        rate_per_min=0,
        engine=object(),
        leave_alone=left.__contains__,
    )
    now = datetime.now(UTC)
    task = OpenTask(
        case_no=sorted(left)[0],
        chain="",
        task_id="T1",
        kind="review",
        name="",
        status="open",
        open_departments=("fire",),
        started_at=now,
        warning="red",
    )
    assert asyncio.run(simulator._handle(task, now, asyncio.Event())) == 0
    assert simulator.stats.as_dict() == type(simulator.stats)().as_dict()


async def test_a_dead_dev_server_is_restarted_and_said_so(tmp_path: Path) -> None:
    """``up``'s watchdog: the ``temporal`` child is killed; it is started again on
    the same port and file, and each step is reported."""
    from runtime.devserver import start_dev_server, stop_dev_server, wait_until_serving
    from runtime.watchdog import DevServerWatch

    port = _free_port()

    def start() -> subprocess.Popen[bytes]:
        return start_dev_server(tmp_path / "temporal.sqlite3", port=port, headless=True)

    address = f"127.0.0.1:{port}"
    watch = DevServerWatch(start(), start, address)
    events: list[str] = []
    stop = asyncio.Event()
    try:
        await wait_until_serving(address, watch.process)
        first = watch.process
        runner = asyncio.create_task(
            watch.run(stop, lambda event, values: events.append(event), poll=0.2)
        )
        first.kill()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while "server.restarted" not in events and "server.gone" not in events:
            assert loop.time() < deadline, events
            await asyncio.sleep(0.1)
        assert events == ["server.died", "server.restarted"]
        assert watch.process is not first and watch.process.poll() is None
        client = await wait_until_serving(address, watch.process)
        assert await client.service_client.check_health()
        stop.set()
        await runner
    finally:
        stop.set()
        stop_dev_server(watch.process)


# ------------------------------------------------------------------ clock
async def test_list_and_case_page_agree_and_days_left_never_exceed_the_limit(
    tmp_path: Path, days: DayCounter
) -> None:
    """The case the projection writes (a late step, a stopped step) shows the same
    超 N in its list row as on its page, and no 剩余 above the step's limit."""
    from datetime import UTC, datetime

    from domain.casefile import CaseFile
    from tui.clocks import capped_left, nearest
    from tui.demo import sample_state
    from tui.screens.case import CaseScreen

    state = sample_state("JN-2026-99999", TODAY)
    casefile = CaseFile(state, days.calendar.data, 0.2)
    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    create_schema(engine)
    with write_session(engine) as session:
        apply_batch(session, casefile.projection(0, datetime.now(UTC)))
    app = app_for(engine, days)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = cases_screen(app)
        table = screen.query_one("#cases", DataTable)
        listed = str(table.get_cell(state.case_no, "left"))
        clock = nearest([state.promised, *(t.clock for t in state.open_tasks)])
        left = capped_left(days, TODAY, clock)
        assert left is not None
        assert listed.startswith(app.catalog.t("left.late", days=-left) if left <= 0 else str(left))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CaseScreen))
        page = app.screen
        assert isinstance(page, CaseScreen)
        await until(pilot, lambda: page.state is not None)
        await settle(pilot)
        header = screen_text(app)
        assert app.catalog.t("case.next_due") in header
        assert listed.split("·")[0].strip() in header
        for task in state.open_tasks:
            if task.clock is not None and task.clock.running:
                shown = capped_left(days, TODAY, task.clock)
                assert shown is None or shown <= task.clock.limit_days + task.clock.extension_days
        stopped = [
            t for t in state.open_tasks if t.clock and any(p.end is None for p in t.clock.pauses)
        ]
        tasks = page.query_one("#tasks", DataTable)
        for task in stopped:
            assert app.catalog.t("stopped.mark") in str(tasks.get_cell(task.id, "left"))
    engine.dispose()


# ------------------------------------------------------------- 80 columns
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_footer_fits_and_overdue_by_department_is_not_clipped(
    engine: Engine, days: DayCounter, size: tuple[int, int]
) -> None:
    """At both sizes: ``:``, ``?`` and ``q`` are in every main screen's footer and no
    key runs past the edge; the overdue-by-department table needs no sideways scroll
    (its last column was hidden behind a scrollbar at 120 columns)."""
    from textual.widgets._footer import FooterKey

    from tui.screens.case import CaseScreen
    from tui.screens.departments import DepartmentsScreen

    app = app_for(engine, days, start="overview")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#by-department", DataTable)
        assert table.row_count > 1
        assert table.max_scroll_x == 0, (table.virtual_size, table.size)
        for key, screen_type in (("2", CasesScreen), ("enter", CaseScreen), ("escape", None)):
            await pilot.press(key)
            await settle(pilot)
            if screen_type is not None:
                await until(pilot, lambda t=screen_type: isinstance(app.screen, t))
                await settle(pilot)
            keys = list(app.screen.query(FooterKey))
            shown = {k.key for k in keys}
            assert {"colon", "question_mark", "q"} <= shown, shown
            assert all(k.region.right <= size[0] for k in keys if k.region.width)
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, DepartmentsScreen))
        await settle(pilot)
        departments = app.screen.query_one("#departments", DataTable)
        assert departments.max_scroll_x == 0
