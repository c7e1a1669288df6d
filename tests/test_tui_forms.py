"""Forms, refusals, dialogs and language (issue 12).

Refusals travel as a code with parameters and are worded by the console's catalog;
forms preselect the most urgent task, show its department and due date, preview
the due date an extension or a stopped clock gives (checked against the date the
workflow then computes), offer a department's officers and re-read the case before
sending; the confirm dialog confirms on the first Enter, the filter dialog opens on
its first field and applies on Enter; the language switches inside the app.

The forms run against a real Temporal server and the production worker (``driver``);
the dialogs only need the read model (the fixed stand-in desk of the snapshot tests).
"""

from __future__ import annotations

import ast
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from textual.widgets import Input, Select, Static

from client.facade import ActionRejected, CaseError
from domain.actions import Extend
from domain.calendar import WorkCalendar
from domain.calendar_sources import build_calendar
from domain.case import Clock, DepartmentPart, Task, TaskKind
from domain.refusal import ENGLISH, ActionRefused, Refusal
from readmodel.database import create_schema, make_engine, ready_engine
from runtime.settings import get_settings
from tests.harness import COORDINATOR, CaseDriver, reviewer
from tests.test_tui import (
    SIZE,
    console,
    error_text,
    form,
    open_case,
    start_cases,
    submit_and_close,
    type_into,
    wait_for,
)
from tests.test_tui_console import app_for, cases_screen, settle, until
from tests.test_tui_snapshots import TODAY
from tui.demo import fill
from tui.desk import DayCounter
from tui.messages import EN, ZH, Catalog
from tui.permissions import KEYS, Act
from tui.screens.case import CaseScreen
from tui.screens.cases import CasesScreen
from tui.screens.dialogs import ConfirmScreen, FilterScreen
from tui.screens.form_help import most_urgent

DOMAIN = Path(__file__).parent.parent / "domain"


@pytest.fixture
def engine() -> Engine:
    """The session's read model (the one the worker projects into)."""
    return ready_engine(get_settings().resolved_database_url)


@pytest.fixture(scope="module")
def console_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A read model of sample cases, for the dialogs (no workflow needed)."""
    path = tmp_path_factory.mktemp("tui-forms") / "readmodel.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    fill(engine, 120, TODAY)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def days() -> DayCounter:
    empty = Path(__file__).parent / "snapshots" / "no-calendars"
    return DayCounter(WorkCalendar(build_calendar(empty, 2025, 2028)))


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


# ------------------------------------------------------------- the catalog
def codes_raised_in_domain() -> set[Refusal]:
    """Every ``Refusal.X`` the domain's modules name (read from their source)."""
    found: set[Refusal] = set()
    for path in DOMAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Refusal"
            ):
                found.add(Refusal[node.attr])
    return found


def test_every_refusal_code_is_worded_in_both_languages() -> None:
    raised = codes_raised_in_domain()
    assert Refusal.TASK_NOT_OPEN in raised and len(raised) > 20  # the scan finds them
    for code in Refusal:
        assert f"refusal.{code.value}" in ZH, code
        assert f"refusal.{code.value}" in EN, code
    # Each wording needs only what the refusal carries (its English template's
    # parameters, plus the task's name): otherwise it would fall back to English.
    for lang in ("zh", "en"):
        catalog = Catalog(lang)
        for code in Refusal:
            names = {
                field for _, field, _, _ in __import__("string").Formatter().parse(ENGLISH[code])
            }
            params: dict[str, Any] = {n: "x" for n in names if n}
            params["task_name"] = "某任务"
            error = CaseError("english fallback", code=code, params=params)
            worded = catalog.refused(error)
            assert worded != "english fallback" or code in (
                Refusal.UNSPECIFIED,
                Refusal.NOT_PERMITTED,
            ), (lang, code)
            assert "{" not in worded, (lang, code, worded)


def test_a_refusal_keeps_its_english_message_and_carries_code_and_parameters() -> None:
    refused = ActionRefused(
        Refusal.TASK_NOT_OPEN, task="T3", task_name="消防审查", status="approved"
    )
    assert str(refused) == "task T3 is already approved"
    assert refused.details() == {
        "code": "task_not_open",
        "params": {"task": "T3", "task_name": "消防审查", "status": "approved"},
    }
    error = ActionRejected(str(refused), code=refused.code, params=refused.params)
    zh = Catalog("zh").refused(error, doing="决定")
    assert zh == f"T3（消防审查）已办结（{ZH['task.approved']}），不能再决定"
    en = Catalog("en").refused(error)
    assert en.startswith("T3 (消防审查) is already concluded")
    # An unknown code (a newer worker) shows the English message.
    newer = ActionRejected("something new", code="from_the_future", params={})  # type: ignore[arg-type]
    assert Catalog("zh").refused(newer) == "something new"
    # "case X not found" names the case in Chinese, and departments by their names.
    assert Catalog("zh").refused(CaseError.refused(Refusal.CASE_NOT_FOUND, case_no="X-1")) == (
        "找不到案件 X-1"
    )
    other = CaseError.refused(
        Refusal.OTHER_DEPARTMENT, actor_department="fire", department="health"
    )
    catalog = Catalog("zh")
    worded = catalog.refused(other)
    assert catalog.department("fire") in worded and catalog.department("health") in worded
    assert "fire" not in worded


# --------------------------------------------------------------- the forms
async def test_a_refused_action_is_worded_in_the_consoles_language(
    driver: CaseDriver, engine: Any
) -> None:
    """Reassigning a task to the department already holding it: the workflow
    refuses with a code; the form words it with the department's and task's names."""
    (case_no,) = await start_cases(driver)
    state = await driver.state(case_no)
    task = state.open_tasks[0]
    holder = task.departments[0]
    for lang in ("zh", "en"):
        app = console(driver, engine, COORDINATOR, lang=lang)
        async with app.run_test(size=SIZE) as pilot:
            await open_case(pilot, case_no)
            reassign = await form(pilot, KEYS[Act.REASSIGN])
            reassign.query_one("#task", Select).value = task.id
            await pilot.pause()
            reassign.query_one("#to-department", Select).value = holder
            await type_into(pilot, "#reason", "again")
            await pilot.press("ctrl+s")
            name = app.catalog.department(holder)
            label = app.catalog.step(state.chain, task.name)
            expected = (
                f"{name}已参与{task.id}（{label}），不能转办给它"
                if lang == "zh"
                else f"{name} already has a part in {task.id} ({label})"
            )
            await wait_for(pilot, lambda r=reassign, e=expected: e in error_text(r))
            assert pilot.app.screen is reassign
            assert "department_already_in_task" not in error_text(reassign)


async def test_forms_preselect_the_most_urgent_task_and_preview_the_new_due_date(
    driver: CaseDriver, engine: Any
) -> None:
    (case_no,) = await start_cases(driver)
    tasks = [t for t in (await driver.state(case_no)).open_tasks if t.clock is not None]
    assert len(tasks) >= 2, "the chain opens several timed tasks at once"
    # Give every task but the last more time: the last one is now the most urgent.
    for task in tasks[:-1]:
        await driver.desk.act(
            case_no, Extend(actor=COORDINATOR, task_id=task.id, days=3, reason="复杂")
        )
    urgent = (await driver.state(case_no)).task(tasks[-1].id)
    assert urgent is not None and urgent.clock is not None
    app = console(driver, engine, COORDINATOR)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case_no)
        urge = await form(pilot, KEYS[Act.URGE])
        assert urge.query_one("#task", Select).value == urgent.id
        info = text_of(urge, "#task-info")
        assert app.catalog.department(urgent.departments[0]) in info
        assert urgent.clock.due_on.isoformat() in info
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen)

        extend = await form(pilot, KEYS[Act.EXTEND])
        assert extend.query_one("#task", Select).value == urgent.id
        await type_into(pilot, "#days", "4")
        await pilot.pause()
        preview = text_of(extend, "#preview")
        assert preview.startswith("新的到期日：") and preview.endswith("（预览）")
        previewed = preview.removeprefix("新的到期日：").removesuffix("（预览）")
        await type_into(pilot, "#reason", "more time")
        await submit_and_close(pilot, extend)
    after = (await driver.state(case_no)).task(urgent.id)
    assert after is not None and after.clock is not None
    assert after.clock.due_on.isoformat() == previewed  # the workflow's own date


async def test_a_stopped_clock_previews_its_due_date(driver: CaseDriver, engine: Any) -> None:
    (case_no,) = await start_cases(driver)
    app = console(driver, engine, COORDINATOR)
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case_no)
        special = await form(pilot, KEYS[Act.SPECIAL_START])
        task_id = special.query_one("#task", Select).value
        preview = text_of(special, "#preview")
        assert preview.startswith("新的到期日：")
        previewed = preview.removeprefix("新的到期日：").split("（", 1)[0]
        kind = str(special.query_one("#kind", Select).value)
        await type_into(pilot, "#reason", "expert review")
        await submit_and_close(pilot, special)
        # The timeline words the procedure's kind, not its code.
        screen = pilot.app.screen
        worded = f"（{app.catalog.enum('suspension', kind)}）"
        await wait_for(pilot, lambda: worded in _all_text(screen))
        assert f"（{kind}）" not in _all_text(screen)
    task = (await driver.state(case_no)).task(str(task_id))
    assert task is not None and task.clock is not None
    assert task.clock.due_on.isoformat() == previewed


async def test_a_task_decided_meanwhile_is_refused_before_sending(
    driver: CaseDriver, engine: Any
) -> None:
    (case_no,) = await start_cases(driver)
    state = await driver.state(case_no)
    task = state.open_tasks[0]
    department = task.departments[0]
    app = console(driver, engine, reviewer(department))
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case_no)
        decide = await form(pilot, KEYS[Act.DECIDE])
        assert decide.query_one("#task", Select).value == task.id
        # Someone else (the same department, another desk) decides it meanwhile.
        await driver.decide(case_no, task.id, department)
        await pilot.press("ctrl+s")
        label = app.catalog.step(state.chain, task.name)
        await wait_for(pilot, lambda: f"{task.id}（{label}）刚刚已被处理" in error_text(decide))
        assert pilot.app.screen is decide
    events = [e for e in (await driver.state(case_no)).events if e.task_id == task.id]
    assert sum(1 for e in events if e.kind == "decided") == 1  # nothing else was sent


async def test_reassign_offers_the_departments_officers(driver: CaseDriver, engine: Any) -> None:
    from trust.accounts import add_user

    (case_no,) = await start_cases(driver)
    state = await driver.state(case_no)
    task = state.open_tasks[0]
    others = [d for d in state.open_tasks[-1].departments if d not in task.departments]
    target = others[0] if others else "window"
    officer = f"off{uuid.uuid4().hex[:8]}"
    add_user(engine, user_id=officer, name="经办赵六", grants=[f"reviewer:{target}"], by="test")
    app = console(driver, engine, COORDINATOR)
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case_no)
        reassign = await form(pilot, KEYS[Act.REASSIGN])
        reassign.query_one("#task", Select).value = task.id
        reassign.query_one("#to-department", Select).value = target
        await pilot.pause()
        officers = reassign.query_one("#officer", Select)
        await wait_for(pilot, lambda: any("经办赵六" in str(p) for p, _ in officers._options))
        officers.value = "经办赵六"
        await pilot.pause()
        assert reassign.query_one("#to-assignee", Input).value == "经办赵六"
        await type_into(pilot, "#reason", "wrong desk")
        await submit_and_close(pilot, reassign)
    part = (await driver.state(case_no)).task(task.id).parts[0]  # type: ignore[union-attr]
    assert (part.department, part.assignee) == (target, "经办赵六")


def test_the_late_task_comes_first(days: DayCounter) -> None:
    from datetime import date

    def task(task_id: str, due: date) -> Task:
        clock = Clock(
            started_on=date(2026, 11, 2),
            limit_days=5,
            warn_at_days_left=1,
            max_extension_days=10,
            due_on=due,
        )
        return Task(
            id=task_id,
            kind=TaskKind.REVIEW,
            name=task_id,
            stage="s",
            parts=[DepartmentPart(department="fire")],
            clock=clock,
            started_at=__import__("datetime").datetime(2026, 11, 2),
        )

    today = date(2026, 11, 20)
    tasks = [task("T1", date(2026, 11, 25)), task("T2", date(2026, 11, 17)), task("T3", today)]
    assert most_urgent(tasks, days, today).id == "T2"  # type: ignore[union-attr]
    assert most_urgent([], days, today) is None


# ------------------------------------------------------------- the dialogs
async def test_the_first_enter_confirms_and_escape_cancels(
    console_engine: Any,
    days: DayCounter,
) -> None:
    app = app_for(console_engine, days)
    answers: list[bool | None] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("enter", "escape"):
            app.push_screen(ConfirmScreen("?"), answers.append)
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press(key)
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
    assert answers == [True, False]


async def test_the_filter_dialog_opens_on_its_first_field_and_enter_applies(
    console_engine: Any,
    days: DayCounter,
) -> None:
    app = app_for(console_engine, days)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = cases_screen(app)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, FilterScreen))
        dialog = app.screen
        assert app.focused is dialog.query_one("#filter-chain", Select)
        # Space opens the list, ↓ and Enter pick the first chain, Enter applies.
        await pilot.press("space")
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        chosen = dialog.query_one("#filter-chain", Select).value
        assert chosen is not Select.NULL
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen)
        assert screen.filter.chain == chosen


# -------------------------------------------------------------- language
async def test_the_language_switches_inside_the_app(driver: CaseDriver, engine: Any) -> None:
    (case_no,) = await start_cases(driver)
    state = await driver.state(case_no)
    app = console(driver, engine, COORDINATOR)
    async with app.run_test(size=SIZE) as pilot:
        assert app.title == ZH["app.title"]
        await open_case(pilot, case_no)
        await pilot.press("f2")
        await wait_for(pilot, lambda: app.catalog.lang == "en")
        assert app.title == EN["app.title"]
        # The open case is shown again, in English, with the chain's English names.
        await wait_for(pilot, lambda: isinstance(app.screen, CaseScreen))
        screen = app.screen
        assert isinstance(screen, CaseScreen)
        await wait_for(pilot, lambda: screen.state is not None)
        task = state.open_tasks[0]
        english = app.catalog.step(state.chain, task.name)
        await wait_for(pilot, lambda: english in _all_text(screen))
        # And back, from the command palette.
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Switch language")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.catalog.lang == "zh")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseScreen | CasesScreen))
    assert english != task.name or not _declares_english(state.chain)


def _declares_english(chain: str) -> bool:
    import chains  # noqa: F401
    from workflows import registry

    return bool(registry.get_chain(chain).names_en)


def _all_text(screen: Any) -> str:
    """Every cell and label on the screen (tables included)."""
    from textual.widgets import DataTable

    parts = [str(w.render()) for w in screen.query(Static)]
    for table in screen.query(DataTable):
        for row in range(table.row_count):
            parts.extend(str(c) for c in table.get_row_at(row))
    return "\n".join(parts)


@pytest.mark.parametrize("command", ["up", "tui"])
def test_lang_option_refuses_an_unknown_language(command: str) -> None:
    from typer.testing import CliRunner

    from cli.app import app

    result = CliRunner().invoke(app, [command, "--lang", "fr"])
    assert result.exit_code == 2
    assert "--lang 'fr'" in result.output
