"""The coordinators' console against a real Temporal server and the real read model.

Every test drives the app from the keyboard with ``App.run_test()`` and ``Pilot``;
the workflow's answers (and refusals) are the real ones: ``driver`` runs the
production worker on a fresh task queue and the read model is the session's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, SelectionList, Static

from domain.case import CaseStatus, TaskStatus
from domain.roles import Actor
from readmodel.database import ready_engine
from runtime.settings import get_settings
from tests.harness import CLERK, COORDINATOR, SUPERVISOR, CaseDriver, reviewer
from tui.app import OneChainApp
from tui.data import CaseFilter, list_page
from tui.messages import CATALOGS, EN, ZH
from tui.permissions import Act, may
from tui.screens.action_form import ActionForm
from tui.screens.bulk import BulkForm, BulkResultScreen
from tui.screens.case import CaseScreen
from tui.screens.cases import CasesScreen
from tui.screens.dialogs import ConfirmScreen, NoticeScreen

KINDERGARTEN = {
    "school_name": "阳光幼儿园",
    "address": "济宁市任城区",
    "floor_area_m2": 1800,
    "planned_classes": 9,
    "planned_children": 270,
}
SIZE = (120, 36)


@pytest.fixture
def engine():
    return ready_engine(get_settings().resolved_database_url)


def console(driver: CaseDriver, engine: Any, actor: Actor, **kwargs: Any) -> OneChainApp:
    options: dict[str, Any] = {"refresh_seconds": 0, "ping_seconds": 0, "start": "cases"}
    options.update(kwargs)
    return OneChainApp(engine=engine, actor=actor, desk=driver.desk, **options)


async def wait_for(pilot: Pilot, predicate: Callable[[], Any], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            screen = pilot.app.screen
            shown = error_text(screen) if isinstance(screen, ActionForm) else ""
            raise AssertionError(f"timed out on {screen!r} {shown}")
        await pilot.pause(0.05)


async def start_cases(driver: CaseDriver, count: int = 1, prefix: str | None = None) -> list[str]:
    prefix = prefix or f"TUI{uuid.uuid4().hex[:6].upper()}"
    numbers = [f"{prefix}-{i}" for i in range(1, count + 1)]
    for case_no in numbers:
        await driver.start("kindergarten", KINDERGARTEN, case_no=case_no)
    for case_no in numbers:
        await driver.wait_for_tasks(case_no)
    return numbers


async def open_case(pilot: Pilot, case_no: str) -> CaseScreen:
    """``:`` then the case number: the case screen, once its Query has answered."""
    await pilot.press("colon", *case_no, "enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CaseScreen))
    screen = pilot.app.screen
    assert isinstance(screen, CaseScreen)
    await wait_for(pilot, lambda: screen.state is not None)
    return screen


async def type_into(pilot: Pilot, selector: str, text: str) -> None:
    """Focus a field, erase it and type ``text`` (ASCII: Pilot types key by key)."""
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    await pilot.pause()
    await pilot.press("end", *["backspace"] * len(widget.value), *text)


async def form(pilot: Pilot, key: str) -> ActionForm:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionForm))
    screen = pilot.app.screen
    assert isinstance(screen, ActionForm)
    await pilot.pause()
    return screen


def error_text(screen: ActionForm) -> str:
    return str(screen.query_one("#form-error", Static).render())


async def submit_and_close(pilot: Pilot, screen: ActionForm) -> None:
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: pilot.app.screen is not screen)


# ------------------------------------------------------------------ actions
async def test_extend_from_the_case_screen_and_refused_extension(driver, engine) -> None:
    (case_no,) = await start_cases(driver)
    app = console(driver, engine, COORDINATOR)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case_no)
        # No reason: the workflow's validator refuses, the form stays open and says why.
        extend = await form(pilot, "e")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "请填写理由" in error_text(extend))
        assert pilot.app.screen is extend
        # Too many days for one authority: refused with the validator's message.
        await type_into(pilot, "#days", "30")
        await type_into(pilot, "#reason", "site survey delayed")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "最多延长 10 个工作日，申请了 30 个" in error_text(extend))
        assert "流程拒绝" in error_text(extend)
        # Within the limit: accepted, and the case screen shows it at once.
        await type_into(pilot, "#days", "3")
        await submit_and_close(pilot, extend)
        assert pilot.app.screen is screen
        await wait_for(pilot, lambda: screen.query_one("#extensions", DataTable).row_count == 1)
    state = await driver.state(case_no)
    assert [(e.target, e.days, e.reason) for e in state.extensions] == [
        ("T1", 3, "site survey delayed")
    ]


async def test_reviewer_decides_and_requests_supplement_clerk_records_it(driver, engine) -> None:
    (case_no,) = await start_cases(driver)
    app = console(driver, engine, reviewer("education"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case_no)
        # Request supplement (退回补正): pick the items, give a reason; the notice follows.
        ret = await form(pilot, "b")
        items = ret.query_one("#items", SelectionList)
        wanted: list[str] = []
        if items.option_count:  # materials still missing at intake, if any
            items.focus()
            await pilot.press("space")
            wanted.append(str(items.get_option_at_index(0).value))
        await type_into(pilot, "#items-extra", "site plan;staff list")
        wanted += ["site plan", "staff list"]
        await type_into(pilot, "#reason", "incomplete")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, NoticeScreen))
        notice = str(pilot.app.screen.query_one("#notice-text", Static).render())
        assert all(item in notice for item in wanted)
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        await wait_for(
            pilot,
            lambda: (
                screen.state is not None and screen.state.task("T1").status is TaskStatus.RETURNED
            ),
        )
        # Returned: nothing left for this reviewer to decide, so "d" is not offered.
        assert screen.check_action("act", ("decide",)) is None
    state = await driver.state(case_no)
    assert state.task("T1").missing_items == wanted

    clerk_app = console(driver, engine, CLERK)
    async with clerk_app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case_no)
        supplement = await form(pilot, "m")
        assert list(supplement.query_one("#items", SelectionList).selected) == wanted
        await submit_and_close(pilot, supplement)
        await wait_for(
            pilot,
            lambda: screen.state is not None and screen.state.task("T1").status is TaskStatus.OPEN,
        )

    app = console(driver, engine, reviewer("education"))
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case_no)
        decide = await form(pilot, "d")
        assert decide.query_one("#verdict", Select).value == "approve"
        await submit_and_close(pilot, decide)
    state = await driver.state(case_no)
    assert state.task("T1").parts[0].verdict is not None


async def test_special_procedure_start_and_end(driver, engine) -> None:
    (case_no,) = await start_cases(driver)
    app = console(driver, engine, COORDINATOR)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case_no)
        start = await form(pilot, "t")
        await type_into(pilot, "#reason", "expert review")
        await submit_and_close(pilot, start)
        await wait_for(pilot, lambda: screen.query_one("#suspensions", DataTable).row_count == 1)
        end = await form(pilot, "T")
        assert end.query_one("#suspension", Select).value == "S1"
        await submit_and_close(pilot, end)
        await wait_for(
            pilot, lambda: screen.state is not None and screen.state.suspensions[0].end is not None
        )


async def test_supervisor_decides_on_behalf_after_confirming(driver, engine) -> None:
    (case_no,) = await start_cases(driver)
    app = console(driver, engine, SUPERVISOR)
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case_no)
        on_behalf = await form(pilot, "a")
        assert on_behalf.query_one("#department", Select).value == "education"
        await type_into(pilot, "#reason", "department absent")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CaseScreen))
    state = await driver.state(case_no)
    part = state.task("T1").parts[0]
    assert part.on_behalf and part.decided_by == SUPERVISOR


async def test_clerk_withdraws_and_coordinator_reassigns(driver, engine) -> None:
    first, second = await start_cases(driver, 2)
    app = console(driver, engine, COORDINATOR)
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, first)
        reassign = await form(pilot, "r")
        reassign.query_one("#to-department", Select).value = "civil_affairs"
        await type_into(pilot, "#to-assignee", "wang")
        await type_into(pilot, "#reason", "wrong desk")
        await submit_and_close(pilot, reassign)
    state = await driver.state(first)
    assert state.task("T1").parts[0].department == "civil_affairs"

    clerk_app = console(driver, engine, CLERK)
    async with clerk_app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, second)
        withdraw = await form(pilot, "w")
        await type_into(pilot, "#reason", "applicant asked")
        await submit_and_close(pilot, withdraw)
        await wait_for(
            pilot, lambda: screen.state is not None and screen.state.status is CaseStatus.WITHDRAWN
        )


# ------------------------------------------------------ list, filters, bulk
async def wait_in_read_model(engine: Any, search: str, count: int) -> None:
    for _ in range(200):
        if list_page(engine, CaseFilter(search=search)).total >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{search} not projected")


async def test_search_filters_urge_from_the_list_and_bulk_urge(driver, engine) -> None:
    prefix = f"TUB{uuid.uuid4().hex[:6].upper()}"
    numbers = await start_cases(driver, 3, prefix)
    await wait_in_read_model(engine, prefix, 3)
    app = console(driver, engine, COORDINATOR)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        await pilot.press("slash", *prefix, "enter")
        table = screen.query_one("#cases", DataTable)
        await wait_for(pilot, lambda: screen.page is not None and screen.page.total == 3)
        assert sorted(str(k.value) for k in table.rows) == numbers
        # Only problems: fresh cases have no card yet.
        await pilot.press("o")
        await wait_for(pilot, lambda: screen.page is not None and screen.page.total == 0)
        await pilot.press("o")
        await wait_for(pilot, lambda: screen.page is not None and screen.page.total == 3)
        # A refresh keeps the filter and the cursor on the same case.
        await pilot.press("down")
        selected = screen.selected_case()
        await pilot.press("ctrl+r")
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        assert screen.selected_case() == selected and screen.filter.search == prefix
        # Urge the selected case from the list.
        urge = await form(pilot, "u")
        await submit_and_close(pilot, urge)
        state = await driver.state(selected)
        assert state.task("T1").urge_count == 1
        # Mark two cases and urge them together: one result per case.
        await pilot.press("home", "space", "space")
        assert len(screen.marked) == 2
        marked = list(screen.marked)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, BulkForm))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, BulkResultScreen))
        results = pilot.app.screen
        assert isinstance(results, BulkResultScreen)
        await wait_for(pilot, lambda: len(results.results) == 2)
        assert all(r.ok for r in results.results)
        await pilot.press("escape")
        assert not screen.marked
    for case_no in {*marked, selected}:
        urged = [e for e in (await driver.state(case_no)).events if e.kind == "urged"]
        assert urged, case_no


async def test_bulk_reassign_reports_each_case(driver, engine) -> None:
    prefix = f"TUR{uuid.uuid4().hex[:6].upper()}"
    numbers = await start_cases(driver, 2, prefix)
    await driver.desk.act(
        numbers[1],
        __import__("domain.actions", fromlist=["Withdraw"]).Withdraw(actor=CLERK, reason="gone"),
    )
    await wait_in_read_model(engine, prefix, 2)
    app = console(driver, engine, COORDINATOR)
    app.NOTIFICATION_TIMEOUT = 3600  # a loaded machine must not expire the notice first
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        await pilot.press("slash", *prefix, "enter")
        await wait_for(pilot, lambda: screen.page is not None and screen.page.total == 2)
        await pilot.press("space", "space", "r")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, BulkForm))
        bulk = pilot.app.screen
        bulk.query_one("#from-department", Select).value = "fire"
        bulk.query_one("#to-department", Select).value = "urban"
        await type_into(pilot, "#reason", "moved")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, BulkResultScreen))
        results = pilot.app.screen
        assert isinstance(results, BulkResultScreen)
        await wait_for(pilot, lambda: len(results.results) == 1)
        by_case = {r.case_no: r for r in results.results}
        assert by_case[numbers[0]].ok
        # Withdrawn: left out before sending, and the coordinator is told so.
        assert numbers[1] not in by_case
        assert any(numbers[1] in str(n.message) for n in pilot.app._notifications), [
            str(n.message) for n in pilot.app._notifications
        ]
    assert (await driver.state(numbers[0])).task("T2").parts[0].department == "urban"


# ------------------------------------------------------------------- roles
def footer_actions(screen: Any) -> set[str]:
    return {
        active.binding.action
        for active in screen.active_bindings.values()
        if active.binding.action.startswith("act(")
    }


async def test_actions_a_role_may_not_take_are_not_offered(driver, engine) -> None:
    (case_no,) = await start_cases(driver)
    expected = {
        "reviewer": (reviewer("education"), {Act.DECIDE, Act.RETURN, Act.SPECIAL_START}),
        "clerk": (CLERK, {Act.WITHDRAW}),
        "coordinator": (
            COORDINATOR,
            {Act.EXTEND, Act.REASSIGN, Act.URGE, Act.SPECIAL_START, Act.WITHDRAW},
        ),
        "supervisor": (
            SUPERVISOR,
            {
                Act.EXTEND,
                Act.REASSIGN,
                Act.URGE,
                Act.SPECIAL_START,
                Act.APPROVE_ON_BEHALF,
                Act.REJECT_ON_BEHALF,
            },
        ),
    }
    for actor, offered_now in expected.values():
        app = console(driver, engine, actor)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, case_no)
            await pilot.pause()
            shown = {act for act in Act if screen.check_action("act", (act.value,)) is True}
            assert shown == offered_now, actor.role
            hidden = {act for act in Act if not may(actor, act)}
            keys = footer_actions(screen)
            for act in hidden:
                assert f"act('{act.value}')" not in keys
            titles = [c.title for c in app.get_system_commands(screen)]
            for act in offered_now:  # the command palette lists every action offered
                label = app.catalog.t(f"act.{act.value}")
                assert f"{label}：{case_no}" in titles
            for act in hidden:
                label = app.catalog.t(f"act.{act.value}")
                assert not any(title.startswith(label + "：") for title in titles)
            # A hidden key does nothing: no form opens.
            for act in hidden:
                from tui.permissions import KEYS

                await pilot.press(KEYS[act])
                await pilot.pause()
                assert isinstance(pilot.app.screen, CaseScreen)


async def test_lost_connection_shows_in_the_header(driver, engine) -> None:
    class Unreachable:
        async def state(self, case_no: str) -> Any:
            raise ConnectionError("connection refused")

        async def act(self, case_no: str, action: Any) -> Any:
            raise ConnectionError("connection refused")

        async def ping(self) -> None:
            raise ConnectionError("connection refused")

    app = OneChainApp(
        engine=engine,
        actor=COORDINATOR,
        desk=Unreachable(),
        refresh_seconds=0,
        ping_seconds=1,
        retry_seconds=1,
        start="cases",
        lang="en",
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.connection == "lost", timeout=5)
        header = str(app.screen.query_one("#status", Static).render())
        assert "Temporal connection lost" in header
        app.desk = driver.desk  # the server is back: the next probe says so
        await wait_for(pilot, lambda: app.connection == "ok", timeout=5)


def test_catalog_has_every_key_in_both_languages() -> None:
    assert set(ZH) == set(EN)
    assert set(CATALOGS) == {"zh", "en"}


async def test_command_palette_opens_an_action_form(driver, engine) -> None:
    (case_no,) = await start_cases(driver)
    app = console(driver, engine, COORDINATOR, lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case_no)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Urge")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionForm))
        assert pilot.app.screen.act is Act.URGE
        await submit_and_close(pilot, pilot.app.screen)
    assert (await driver.state(case_no)).task("T1").urge_count == 1
