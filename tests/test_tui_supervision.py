"""The console's 监察 screen (issue 22) against a real Temporal server and read model.

A supervisor sees findings counted by department × rule, opens one with its evidence,
sends it with a reason; the department's reviewer sees it in their list and answers;
another department's reviewer never sees it; the supervisor closes it. Steps the
engine refuses show the item workflow's own words, including a step the screen does
not offer the role (the screen only hides keys; the engine decides).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import col, select
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from domain.roles import Actor, Role
from readmodel.audit import AuditRecord
from readmodel.database import read_session, ready_engine, write_session
from readmodel.supervision import FindingRecord, SupervisionItemRecord
from runtime.settings import get_settings
from supervision.registry import all_rules
from tests.harness import COORDINATOR, SUPERVISOR, CaseDriver, reviewer
from tests.test_tui import KINDERGARTEN, console, wait_for
from tui.screens.case import CaseScreen
from tui.screens.finding import FindingScreen
from tui.screens.supervision import SupervisionScreen
from tui.screens.supervision_dialogs import StepDialog
from tui.supervision_data import NO_DEPARTMENT
from workflows import registry

SIZE = (140, 40)
ADMINISTRATOR = Actor(user_id="admin-tui", name="管理员", role=Role.ADMINISTRATOR)


@pytest.fixture
def engine() -> Any:
    return ready_engine(get_settings().resolved_database_url)


def departments() -> tuple[str, str]:
    """Two departments of the registered chains (whichever they are)."""
    codes = sorted({d for chain in registry.all_chains() for d in chain.departments})
    assert len(codes) >= 2
    return codes[0], codes[1]


def rules() -> tuple[str, str]:
    codes = [r.code for r in all_rules()]
    assert len(codes) >= 2
    return codes[0], codes[1]


def add_finding(
    engine: Any,
    department: str | None,
    rule: str,
    case_no: str | None,
    evidence: dict[str, list[int]] | None = None,
) -> int:
    """A finding as `supervise run` stores it."""
    with write_session(engine) as session:
        row = FindingRecord(
            key=f"tui-test:{uuid.uuid4().hex}",
            rule=rule,
            case_no=case_no,
            department=department,
            severity="medium",
            sentence=f"案件 {case_no or '—'} 的测试发现（{rule}）。",
            evidence=evidence or {"events": [], "audit": []},
            found_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def item_status(engine: Any, finding_id: int) -> str:
    with read_session(engine) as session:
        item = session.get(SupervisionItemRecord, finding_id)
    return item.status if item is not None else "open"


def summary_counts(screen: SupervisionScreen, department: str, rule: str) -> dict[str, str]:
    table = screen.query_one("#sup-summary", DataTable)
    key = f"{department}|{rule}"
    if key not in {k.value for k in table.rows}:
        return {}
    return {
        status: str(table.get_cell(key, status))
        for status in ("open", "sent", "responded", "escalated")
    }


def listed(screen: SupervisionScreen) -> set[int]:
    return {int(str(k.value)) for k in screen.query_one("#sup-findings", DataTable).rows}


async def supervision(pilot: Pilot) -> SupervisionScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SupervisionScreen))
    screen = pilot.app.screen
    assert isinstance(screen, SupervisionScreen)
    await wait_for(pilot, lambda: bool(screen.rows) or screen.is_mounted)
    await pilot.app.workers.wait_for_complete()
    return screen


async def open_finding(pilot: Pilot, screen: SupervisionScreen, finding_id: int) -> FindingScreen:
    """Enter on the finding's row: its detail, once read."""
    await wait_for(pilot, lambda: finding_id in listed(screen))
    table = screen.query_one("#sup-findings", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(str(finding_id)), animate=False)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FindingScreen))
    detail = pilot.app.screen
    assert isinstance(detail, FindingScreen)
    await wait_for(pilot, lambda: detail.detail is not None)
    return detail


async def step(pilot: Pilot, key: str, reason: str) -> StepDialog:
    """Press the step's key, give the reason, submit; returns the dialog (closed when
    the engine accepted the step, still open with its words when it refused)."""
    if key:
        await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, StepDialog))
    dialog = pilot.app.screen
    assert isinstance(dialog, StepDialog)
    await pilot.pause()
    await pilot.press(*reason, "enter")
    await wait_for(
        pilot, lambda: pilot.app.screen is not dialog or "-shown" in error_of(dialog).classes
    )
    return dialog


def error_of(dialog: StepDialog) -> Static:
    return dialog.query_one("#form-error", Static)


def error_text(dialog: StepDialog) -> str:
    return str(error_of(dialog).render())


def header(screen: FindingScreen) -> str:
    found = screen.query("#finding-header")  # empty until the screen is composed
    return str(found.first(Static).render()) if found else ""


async def test_a_finding_from_the_supervisor_to_the_department_and_back(
    driver: CaseDriver, engine: Any
) -> None:
    home, other = departments()
    rule, other_rule = rules()
    case_no = f"TUISUP-{uuid.uuid4().hex[:6].upper()}"
    await driver.start("kindergarten", KINDERGARTEN, case_no=case_no)
    await driver.wait_for_tasks(case_no)
    await driver.projected(case_no)
    with read_session(engine) as session:
        first = session.exec(
            select(AuditRecord)
            .where(AuditRecord.case_no == case_no)
            .where(col(AuditRecord.seq).is_not(None))
            .order_by(col(AuditRecord.id))
        ).first()
    assert first is not None and first.id is not None and first.seq is not None
    ours = add_finding(engine, home, rule, case_no, {"events": [first.seq], "audit": [first.id]})
    theirs = add_finding(engine, other, other_rule, None)

    # The supervisor: counts by department × rule, Enter narrows, Enter opens.
    app = console(driver, engine, SUPERVISOR, start="supervision")
    async with app.run_test(size=SIZE) as pilot:
        screen = await supervision(pilot)
        await wait_for(pilot, lambda: ours in listed(screen) and theirs in listed(screen))
        before = summary_counts(screen, home, rule)
        assert before and int(before["open"]) >= 1
        summary = screen.query_one("#sup-summary", DataTable)
        summary.focus()
        summary.move_cursor(row=summary.get_row_index(f"{home}|{rule}"), animate=False)
        await pilot.press("enter")
        await wait_for(pilot, lambda: ours in listed(screen) and theirs not in listed(screen))
        assert screen.filter.department == home and screen.filter.rule == rule

        detail = await open_finding(pilot, screen, ours)
        assert "测试发现" in header(detail) and case_no in header(detail)
        evidence = detail.query_one("#evidence", DataTable)
        assert str(first.id) in {str(evidence.get_row_at(i)[0]) for i in range(evidence.row_count)}
        await pilot.press("o")  # the case it is about, in the case screen
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CaseScreen))
        case_screen = pilot.app.screen
        assert isinstance(case_screen, CaseScreen) and case_screen.case_no == case_no
        await wait_for(pilot, lambda: case_screen.state is not None)
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is detail)
        # Keys the supervisor has: send, escalate, close; never the department's answer.
        assert detail.check_action("step", ("send",)) is True
        assert detail.check_action("step", ("respond",)) is False

        dialog = await step(pilot, "s", "explain-the-two-corrections")
        assert pilot.app.screen is detail, error_text(dialog)
        assert item_status(engine, ours) == "sent"
        steps = detail.query_one("#steps", DataTable)
        await wait_for(pilot, lambda: steps.row_count == 1)
        assert "explain-the-two-corrections" in str(steps.get_row_at(0)[4])

        # Sent twice: the engine refuses, the dialog says so in its words.
        dialog = await step(pilot, "s", "again")
        assert pilot.app.screen is dialog
        assert "已交办" in error_text(dialog) and "流程拒绝" in error_text(dialog)
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is detail)

        # Back on the list: one fewer not sent, one more sent at that department × rule.
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        await wait_for(pilot, lambda: summary_counts(screen, home, rule) != before)
        after = summary_counts(screen, home, rule)
        assert int(after["open"] or 0) == int(before["open"] or 0) - 1
        assert int(after["sent"] or 0) == int(before["sent"] or 0) + 1

    # The department's reviewer sees it, answers; a step only a supervisor takes is
    # not offered, and when asked for anyway the engine refuses it.
    app = console(driver, engine, reviewer(home), start="supervision")
    async with app.run_test(size=SIZE) as pilot:
        screen = await supervision(pilot)
        assert ours in listed(screen) and theirs not in listed(screen)
        detail = await open_finding(pilot, screen, ours)
        assert detail.check_action("step", ("close",)) is False
        detail.action_step("close")
        dialog = await step(pilot, "", "closing-it-myself")
        assert "只有督办人员" in error_text(dialog)
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is detail)
        assert item_status(engine, ours) == "sent"

        await step(pilot, "r", "staff-retrained-one-time-notice")
        await wait_for(pilot, lambda: pilot.app.screen is detail)
        assert item_status(engine, ours) == "responded"
        await wait_for(pilot, lambda: "staff-retrained" in header(detail))
        await pilot.press("escape")
        await wait_for(pilot, lambda: ours not in listed(screen))  # answered: off their list

    # Another department's reviewer never sees it, nor can open it.
    app = console(driver, engine, reviewer(other), start="supervision")
    async with app.run_test(size=SIZE) as pilot:
        screen = await supervision(pilot)
        await pilot.app.workers.wait_for_complete()
        assert ours not in listed(screen)
        pilot.app.push_screen(FindingScreen(ours))
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FindingScreen))
        outsider = pilot.app.screen
        assert isinstance(outsider, FindingScreen)
        await wait_for(pilot, lambda: "不在你的查看范围内" in header(outsider))

    # The supervisor closes it.
    app = console(driver, engine, SUPERVISOR, start="supervision")
    async with app.run_test(size=SIZE) as pilot:
        screen = await supervision(pilot)
        detail = await open_finding(pilot, screen, ours)
        assert "已反馈" in header(detail)
        await step(pilot, "c", "rectified")
        await wait_for(pilot, lambda: pilot.app.screen is detail)
        assert item_status(engine, ours) == "closed"
        steps = detail.query_one("#steps", DataTable)
        await wait_for(pilot, lambda: steps.row_count == 3)
        assert [str(steps.get_row_at(i)[1]) for i in range(3)] == ["交办", "反馈", "办结"]
        # ... and the case's own timeline shows the 督办 steps where they happened.
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CaseScreen))
        case_screen = pilot.app.screen
        assert isinstance(case_screen, CaseScreen)
        timeline = case_screen.query_one("#timeline", DataTable)
        await wait_for(
            pilot,
            lambda: (
                [str(timeline.get_row_at(i)[0]) for i in range(timeline.row_count)].count("督办")
                == 3
            ),
        )


async def test_an_administrator_answers_a_finding_with_no_department(
    driver: CaseDriver, engine: Any
) -> None:
    rule, _ = rules()
    finding_id = add_finding(engine, None, rule, None)
    app = console(driver, engine, SUPERVISOR, start="supervision")
    async with app.run_test(size=SIZE) as pilot:
        screen = await supervision(pilot)
        await wait_for(pilot, lambda: summary_counts(screen, NO_DEPARTMENT, rule) != {})
        detail = await open_finding(pilot, screen, finding_id)
        assert detail.check_action("open_case", ()) is None  # about no case
        dialog = await step(pilot, "s", "explain-this-change")
        assert pilot.app.screen is detail, error_text(dialog)

    app = console(driver, engine, ADMINISTRATOR, start="supervision")
    async with app.run_test(size=SIZE) as pilot:
        screen = await supervision(pilot)
        detail = await open_finding(pilot, screen, finding_id)
        assert detail.check_action("step", ("send",)) is False
        assert detail.check_action("step", ("respond",)) is True
        await step(pilot, "r", "operator-error-restored")
        await wait_for(pilot, lambda: pilot.app.screen is detail)
    assert item_status(engine, finding_id) == "responded"


async def test_the_screen_is_not_offered_to_other_roles(driver: CaseDriver, engine: Any) -> None:
    app = console(driver, engine, COORDINATOR, start="cases")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.app.workers.wait_for_complete()
        assert app.check_action("switch_mode", ("supervision",)) is False
        await pilot.press("4")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, SupervisionScreen)
    app = console(driver, engine, SUPERVISOR, start="cases")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await supervision(pilot)
        await pilot.press("f2")  # the language switch keeps the screen
        await wait_for(pilot, lambda: app.catalog.lang == "en")
        screen = await supervision(pilot)
        await wait_for(pilot, lambda: "Supervision" in str(screen.query_one("#status").render()))
