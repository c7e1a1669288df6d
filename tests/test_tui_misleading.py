"""What misled a coordinator in the console (issue 26): a step due today that looked
late, reasons nobody could read, an outage worded as a refusal, English mode
leftovers, and a 'why late' that named no cause.

These run the real app (``App.run_test``) on a real SQLite read model written through
``readmodel.projection`` (``domain.casefile.CaseFile``, as the worker writes it); the
case Query is a stand-in answering with the state under test, except where a real
Temporal server is the point (the outage).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from sqlalchemy import Engine
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from domain.actions import Action, ActionResult
from domain.calendar import WorkCalendar
from domain.calendar_sources import build_calendar
from domain.case import CaseState, Clock
from domain.casefile import CaseFile
from readmodel.database import create_schema, make_engine, write_session
from readmodel.projection import apply_batch
from tests.test_tui_snapshots import COORDINATOR, TODAY
from tui.app import OneChainApp
from tui.demo import sample_state
from tui.desk import DayCounter
from tui.screens.case import CaseScreen
from tui.screens.cases import CasesScreen


@pytest.fixture(scope="module")
def days() -> DayCounter:
    empty = Path(__file__).parent / "snapshots" / "no-calendars"
    return DayCounter(WorkCalendar(build_calendar(empty, 2025, 2028)))


class StateDesk:
    """Answers the Query with one given case state."""

    def __init__(self, state: CaseState) -> None:
        self.fixed = state

    async def state(self, case_no: str) -> CaseState:
        return self.fixed

    async def act(self, case_no: str, action: Action) -> ActionResult:
        return ActionResult(seq=0, message="")


def projected(tmp_path: Path, state: CaseState, days: DayCounter) -> Engine:
    """A read model holding ``state`` as the worker's projection writes it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'readmodel.sqlite3'}")
    create_schema(engine)
    with write_session(engine) as session:
        apply_batch(
            session, CaseFile(state, days.calendar.data, 0.2).projection(0, datetime.now(UTC))
        )
    return engine


def app_for(engine: Engine, days: DayCounter, desk: Any, today: date, **kw: Any) -> OneChainApp:
    options: dict[str, Any] = {
        "engine": engine,
        "actor": COORDINATOR,
        "desk": desk,
        "today": lambda: today,
        "refresh_seconds": 0,
        "ping_seconds": 0,
        "start": "cases",
        "days": days,
    }
    options.update(kw)
    return OneChainApp(**options)


async def settle(pilot: Pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()


async def until(pilot: Pilot, predicate: Any, timeout: float = 20.0) -> None:
    """Wait (the timeout only bounds a hang; it is not what is asserted)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, (
            f"timed out on {pilot.app.screen!r}: {screen_text(pilot.app)}"
        )
        await pilot.pause(0.05)


def screen_text(app: OneChainApp) -> str:
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


async def open_case(pilot: Pilot) -> CaseScreen:
    app = pilot.app
    await settle(pilot)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, CaseScreen))
    page = app.screen
    assert isinstance(page, CaseScreen)
    await until(pilot, lambda: page.state is not None)
    await settle(pilot)
    return page


# -------------------------------------------------------------- due today
def due_today_state(case_no: str, limit: int) -> CaseState:
    """The sample case with its only counting step due on TODAY: a 即办 step (limit 0,
    started today) or a step whose ``limit`` working days end today; its overdue
    and stopped steps are gone, so nothing else on the row is late."""
    state = sample_state(case_no, TODAY)
    started = TODAY if limit == 0 else TODAY - timedelta(days=7)
    clock = Clock(
        started_on=started,
        limit_days=limit,
        warn_at_days_left=1,
        max_extension_days=0,
        due_on=TODAY,
        warned=True,
    )
    keep = [t for t in state.tasks if t.id in ("T1", "T4")]
    keep[1] = keep[1].model_copy(update={"clock": clock, "name": "即办审查"})
    promised = state.promised.model_copy(update={"overdue": False})
    return state.model_copy(update={"tasks": keep, "promised": promised, "suspensions": []})


@pytest.mark.parametrize("limit", [0, 5])
async def test_a_step_due_today_is_due_today_not_late_until_the_day_ends(
    tmp_path: Path, days: DayCounter, limit: int
) -> None:
    """On its due day a step says 今日到期 (yellow, in the list, the header and the
    task table), never 超 0 in red with a full red bar, and the case has no 超期原因;
    the next working day the same step is late (超 1)."""
    state = due_today_state("JN-2026-90001", limit)
    engine = projected(tmp_path, state, days)
    app = app_for(engine, days, StateDesk(state), TODAY)
    c = app.catalog
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        listed = screen.query_one("#cases", DataTable).get_cell(state.case_no, "left")
        assert isinstance(listed, Text)
        assert listed.plain.startswith(c.t("left.today")), listed.plain
        assert "red" not in str(listed.style)
        page = await open_case(pilot)
        tasks = page.query_one("#tasks", DataTable)
        left = tasks.get_cell("T4", "left")
        bar = tasks.get_cell("T4", "bar")
        assert left.plain == c.t("left.today")
        assert "red" not in str(left.style)
        assert all("red" not in str(span.style) for span in bar.spans)
        assert c.t("left.today_bar") in bar.plain
        shown = screen_text(app)
        assert c.t("case.late") not in shown
        assert c.t("left.late", days=0) not in shown
    engine.dispose()

    # The day after the due day (a working day): late by one, in red.
    after = TODAY + timedelta(days=1)
    late = app_for(make_engine(f"sqlite:///{tmp_path / 'readmodel.sqlite3'}"), days,
                   StateDesk(state), after)  # fmt: skip
    async with late.run_test(size=(120, 40)) as pilot:
        page = await open_case(pilot)
        left = page.query_one("#tasks", DataTable).get_cell("T4", "left")
        assert left.plain == late.catalog.t("left.late", days=1)
        assert "red" in str(left.style)
        assert late.catalog.t("case.late") in screen_text(late)


# ---------------------------------------------------------------- reasons
LONG_REASON = (
    "申请人现场踏勘时提出消防通道改造方案需要重新论证，经协调会议决定延后十个工作日并通知相关部门"
)


def long_reason_state(case_no: str) -> CaseState:
    """The sample case whose urge (seq 6) carries a long reason, as people write them."""
    state = sample_state(case_no, TODAY)
    events = [
        e.model_copy(update={"reason": LONG_REASON}) if e.seq == 6 else e for e in state.events
    ]
    return state.model_copy(update={"events": events})


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_timeline_shows_the_highlighted_rows_reason_in_full(
    tmp_path: Path, days: DayCounter, size: tuple[int, int]
) -> None:
    """At 80 and 120 columns the 理由 of the highlighted timeline row is on screen in
    full (the column itself showed 3 characters at 120, none at 80); moving the
    cursor to a row without a reason shows none."""
    state = long_reason_state("JN-2026-90002")
    engine = projected(tmp_path, state, days)
    app = app_for(engine, days, StateDesk(state), TODAY)
    async with app.run_test(size=size) as pilot:
        page = await open_case(pilot)
        page.query_one("#case-tabs").active = "tab-timeline"
        await settle(pilot)
        table = page.query_one("#timeline", DataTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("6"))
        await settle(pilot)
        flat = "".join(screen_text(app).split())
        assert LONG_REASON in flat
        table.move_cursor(row=table.get_row_index("4"))  # task_opened: no reason
        await settle(pilot)
        detail = str(page.query_one("#timeline-detail", Static).render())
        assert "T2 消防安全检查（消防救援支队）" in detail
        assert app.catalog.t("case.col.reason") not in detail
    engine.dispose()


# ----------------------------------------------------------------- outage
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_text(app: OneChainApp) -> str:
    return str(app.screen.query_one("#status").render())


async def test_an_outage_is_said_as_one_and_a_frozen_server_is_not_connected(
    tmp_path: Path, days: DayCounter
) -> None:
    """On a real Temporal dev server: a case no worker serves reads as 「没有应答」 in
    the console's words (not 「流程拒绝」, no English command-line advice) and the
    header says Temporal is not answering; then the server is frozen (SIGSTOP) and
    the header stops saying 已连接 until it is thawed (SIGCONT)."""
    import os
    import signal
    import uuid

    from client.facade import CaseDesk, workflow_id_for
    from runtime.devserver import start_dev_server, stop_dev_server, wait_until_serving

    port = _free_port()
    address = f"127.0.0.1:{port}"
    process = start_dev_server(tmp_path / "temporal.sqlite3", port=port, headless=True)
    engine = make_engine(f"sqlite:///{tmp_path / 'readmodel.sqlite3'}")
    create_schema(engine)
    try:
        client = await wait_until_serving(address, process)
        queue = f"nobody-polls-{uuid.uuid4().hex[:8]}"
        await client.start_workflow("CaseWorkflow", id=workflow_id_for("OUT-1"), task_queue=queue)
        desk = CaseDesk(client, task_queue=queue)
        app = app_for(engine, days, desk, TODAY, start="overview", ping_seconds=1.0,
                      retry_seconds=1.0)  # fmt: skip
        c = app.catalog
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: c.t("conn.ok") in status_text(app))
            await pilot.press("colon", *"OUT-1", "enter")
            await until(pilot, lambda: isinstance(app.screen, CaseScreen))
            said = "".join(c.t("outage.no_answer").split())
            await until(pilot, lambda: said[:20] in "".join(screen_text(app).split()), 40)
            shown = screen_text(app)
            assert c.t("form.rejected", message="")[:4] not in shown
            assert "onechain" not in shown and "no worker" not in shown
            assert c.t("conn.stalled") in status_text(app)
            assert c.t("conn.ok") not in status_text(app)

            await pilot.press("escape")  # the server itself answers: connected again
            await until(pilot, lambda: c.t("conn.ok") in status_text(app))
            os.kill(process.pid, signal.SIGSTOP)
            try:
                await until(pilot, lambda: c.t("conn.ok") not in status_text(app), 20)
                assert c.t("conn.lost_short") in status_text(app)
            finally:
                os.kill(process.pid, signal.SIGCONT)
            await until(pilot, lambda: c.t("conn.ok") in status_text(app), 30)
    finally:
        os.kill(process.pid, signal.SIGCONT)
        stop_dev_server(process)
        engine.dispose()


# ---------------------------------------------------------- small things
@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tui.demo import fill

    path = tmp_path_factory.mktemp("tui-misleading") / "readmodel.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    fill(engine, 200, TODAY)
    yield engine
    engine.dispose()


def summary_text(app: OneChainApp) -> str:
    return str(app.screen.query_one("#cases-summary", Static).render())


@pytest.mark.parametrize("card", ["case_red", "task_red", "accepted_today"])
async def test_a_list_opened_from_a_card_says_which_card_not_all_cases(
    demo_engine: Engine, days: DayCounter, card: str
) -> None:
    """Drilling from an Overview card, the list's line names what it shows (it said
    全部案件 over a narrowed list); the Overview says what each kind of card counts."""
    from tui.screens.overview import OverviewScreen

    app = app_for(demo_engine, days, StateDesk(sample_state("X", TODAY)), TODAY,
                  start="overview")  # fmt: skip
    c = app.catalog
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert "".join(c.t("overview.counts").split()) in "".join(screen_text(app).split())
        app.screen.query_one(f"#kpi-{card}").focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CasesScreen))
        await settle(pilot)
        said = summary_text(app)
        assert c.t("cases.no_filters") not in said
        expected = (
            f"{c.t('filter.accepted_on')}={TODAY.isoformat()}"
            if card == "accepted_today"
            else c.t(f"overview.{card}")
        )
        assert expected in said
        await pilot.press("c")  # cleared: all cases again, and it says so
        await settle(pilot)
        assert c.t("cases.no_filters") in summary_text(app)


async def test_a_confirmation_shows_its_lines_not_escaped_line_breaks(
    demo_engine: Engine, days: DayCounter
) -> None:
    """The on-behalf confirmation has three lines: they are lines on screen, not a
    literal \\x0a; a control character inside case data is still written out."""
    from tui.screens.dialogs import ConfirmScreen

    app = app_for(demo_engine, days, StateDesk(sample_state("X", TODAY)), TODAY)
    c = app.catalog
    text = c.t(
        "confirm.on_behalf",
        action=c.t("act.approve"),
        case_no="JN-1",
        task="T2",
        department="消防",
        reason="逾期\x1b[31m未办",
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.push_screen(ConfirmScreen(text))
        await settle(pilot)
        shown = screen_text(app)
        assert "\\x0a" not in shown
        lines = [line for line in shown.splitlines() if "JN-1" in line or "逾期" in line]
        assert len(lines) == 2, shown
        assert "\\x1b" in shown  # outside text stays inert


async def test_a_special_procedures_code_is_worded_in_toasts_and_the_timeline() -> None:
    """「特别程序开始（expert_review）」 as the engine writes it reads 专家评审 / Expert
    review; text without a code is left as it is."""
    from tui.messages import Catalog

    raw = "T2 特别程序开始（expert_review），计时暂停"
    assert Catalog("zh").codes(raw) == "T2 特别程序开始（专家评审），计时暂停"
    assert "expert_review" not in Catalog("en").codes(raw)
    assert Catalog("en").t("suspension.expert_review") in Catalog("en").codes(raw)
    assert Catalog("zh").codes("T2 催办（第 1 次）") == "T2 催办（第 1 次）"


async def test_the_done_toast_words_the_code(demo_engine: Engine, days: DayCounter) -> None:
    from tui.permissions import Act
    from tui.screens.action_form import ActionOutcome

    app = app_for(demo_engine, days, StateDesk(sample_state("X", TODAY)), TODAY)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.after_action(
            ActionOutcome(Act.SPECIAL_START, "JN-1", "T2 特别程序开始（expert_review），计时暂停")
        )
        await settle(pilot)
        said = [n.message for n in app._notifications]
        assert any("专家评审" in m for m in said) and not any("expert_review" in m for m in said)


async def test_english_lists_show_chain_names_not_codes(
    demo_engine: Engine, days: DayCounter
) -> None:
    """In English the chain column holds a capitalised short name that fits its
    column (8 cells cut 'kindergarten' to 'kinderga', read as a code), and the stage
    column holds English words (并联审批 stayed Chinese where a chain named no English)."""
    import chains  # noqa: F401
    from workflows import registry

    codes = {chain.code for chain in registry.all_chains()}
    app = app_for(demo_engine, days, StateDesk(sample_state("X", TODAY)), TODAY, lang="en")
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CasesScreen) and screen.page is not None
        table = screen.query_one("#cases", DataTable)
        width = next(col.width for key, col in table.columns.items() if key.value == "chain")
        seen = set()
        for row in screen.page.rows:
            cell = str(table.get_cell(row.case_no, "chain"))
            assert cell and cell[0].isupper(), cell
            assert cell not in codes
            assert len(cell) <= width, (cell, width)
            seen.add(cell)
            stage = str(table.get_cell(row.case_no, "stage"))
            assert not any("\u4e00" <= ch <= "\u9fff" for ch in stage), stage
        assert len(seen) > 1


# --------------------------------------------------------------- why late
def late_state(case_no: str, *, statutory_due: date, promised_due: date) -> CaseState:
    """The sample case over its promised limit with no open step late: T1 concluded
    four working days over its 3-day limit (done 05-15 instead of 05-11), T2 gone."""
    state = sample_state(case_no, TODAY)
    tasks = []
    for task in state.tasks:
        if task.id == "T2":
            continue
        if task.id == "T1":
            concluded = datetime(2026, 5, 15, 8, tzinfo=UTC)
            task = task.model_copy(update={"concluded_at": concluded})
        tasks.append(task)
    promised = state.promised.model_copy(
        update={"due_on": promised_due, "overdue": promised_due < TODAY, "extension_days": 0}
    )
    statutory = state.statutory.model_copy(update={"due_on": statutory_due})
    return state.model_copy(update={"tasks": tasks, "promised": promised, "statutory": statutory})


def header_text(page: CaseScreen) -> str:
    """The case header as shown, without its spaces and line breaks (it wraps)."""
    return "".join(screen_text(page.app).split())  # type: ignore[arg-type]


def flat(text: str) -> str:
    return "".join(text.split())


async def test_why_late_names_the_steps_that_used_the_days_and_a_passed_statutory_limit(
    tmp_path: Path, days: DayCounter
) -> None:
    """Over its promised limit, the case page names the step (and department) that
    used the days — a concluded one included — and, the statutory due day being
    over, says the statutory limit is passed; on the statutory due day itself, and
    for a case within its limit, neither is said."""
    state = late_state("JN-2026-90003", statutory_due=TODAY - timedelta(days=1),
                       promised_due=date(2026, 5, 15))  # fmt: skip
    engine = projected(tmp_path, state, days)
    app = app_for(engine, days, StateDesk(state), TODAY)
    c = app.catalog
    async with app.run_test(size=(120, 40)) as pilot:
        page = await open_case(pilot)
        shown = header_text(page)
        education = c.departments([state.tasks[0].parts[0].department])
        # counted on the office calendar: 2026-05-09 (a Saturday) is a make-up working day
        used = days.calendar.working_days_between(date(2026, 5, 6), date(2026, 5, 15))
        assert used > 3
        step = c.t("cause.step", task="T1 办学许可预审", departments=education, used=used,
                   limit=3, over=c.t("cause.over", days=used - 3))  # fmt: skip
        assert flat(c.t("case.late")) in shown
        assert flat(c.t("cause.line", steps=step)) in shown, shown
        due = (TODAY - timedelta(days=1)).isoformat()
        assert flat(c.t("cause.statutory", days=1, due=due)) in shown
    engine.dispose()

    within = late_state(
        "JN-2026-90004", statutory_due=TODAY, promised_due=TODAY + timedelta(days=5)
    )
    app = app_for(make_engine(f"sqlite:///{tmp_path / 'readmodel.sqlite3'}"), days,
                  StateDesk(within), TODAY)  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_case(within.case_no)
        await until(pilot, lambda: isinstance(app.screen, CaseScreen))
        page = app.screen
        await until(pilot, lambda: page.state is not None)
        await settle(pilot)
        shown = header_text(page)
        assert flat(c.t("cause.line", steps="")) not in shown
        assert flat(c.t("cause.statutory_day", due=TODAY.isoformat())) not in shown
        assert "已超过法定时限" not in shown


# -------------------------------------------------------------- bulk urge
class RecordingDesk(StateDesk):
    """Answers with the given state and records every action sent."""

    def __init__(self, state: CaseState) -> None:
        super().__init__(state)
        self.sent: list[Action] = []

    async def state(self, case_no: str, events: bool = True) -> CaseState:
        return self.fixed

    async def act(self, case_no: str, action: Action) -> ActionResult:
        self.sent.append(action)
        return ActionResult(seq=len(self.sent), message=f"{action.task_id} 催办")  # type: ignore[attr-defined]


@pytest.mark.parametrize("only_returned", [False, True])
async def test_bulk_urge_leaves_out_steps_waiting_for_the_applicant(
    tmp_path: Path, days: DayCounter, only_returned: bool
) -> None:
    """A step returned for supplement waits for the applicant's materials: bulk urge
    urges the departments' open steps and not that one; a case waiting only on the
    applicant is not urged and says why."""
    from tui.permissions import Act
    from tui.screens.bulk import BulkRequest, BulkResultScreen

    state = sample_state("JN-2026-90005", TODAY)
    if only_returned:
        state = state.model_copy(update={"tasks": [t for t in state.tasks if t.id in ("T1", "T3")]})
    desk = RecordingDesk(state)
    engine = projected(tmp_path, state, days)
    app = app_for(engine, days, desk, TODAY)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = BulkResultScreen(BulkRequest(Act.URGE, [state.case_no], reason="请加快"))
        app.push_screen(screen)
        await until(pilot, lambda: len(screen.results) == 1)
        urged = [a.task_id for a in desk.sent]  # type: ignore[attr-defined]
        assert "T3" not in urged
        (result,) = screen.results
        if only_returned:
            assert urged == [] and not result.ok
            assert result.message == app.catalog.t("bulk.applicant")
        else:
            assert urged == ["T2", "T4"] and result.ok
    engine.dispose()
