"""「我代办的」 in the console (Pilot): ``g`` narrows the case list to the cases the
signed-in person is the 代办员 of, and the case page shows the 代办员 beside who holds
the case."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, update
from sqlmodel import select

from domain.actions import Action, ActionResult
from domain.case import CaseState
from readmodel.database import create_schema, make_engine, read_session, write_session
from readmodel.tables import CaseRecord
from tests.test_tui_console import app_for, screen_text, settle, until
from tests.test_tui_snapshots import COORDINATOR, TODAY
from tui.demo import fill, sample_state
from tui.screens.case import CaseScreen
from tui.screens.cases import CasesScreen

__all__ = ["days"]
from tests.test_tui_console import days

OTHER_AGENT = "someone-else"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Demo cases; a random few followed by the coordinator, a few by someone else."""
    path = tmp_path_factory.mktemp("tui-daiban") / "readmodel.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    fill(engine, 120, TODAY)
    with read_session(engine) as session:
        numbers = sorted(session.exec(select(CaseRecord.case_no)).all())
    picked = random.Random(26).sample(numbers, 30)
    with write_session(engine) as session:
        for number in picked[:17]:
            session.exec(
                update(CaseRecord)
                .where(CaseRecord.case_no == number)
                .values(agent=COORDINATOR.user_id)
            )
        for number in picked[17:]:
            session.exec(
                update(CaseRecord).where(CaseRecord.case_no == number).values(agent=OTHER_AGENT)
            )
    yield engine
    engine.dispose()


def agents(engine: Engine) -> dict[str, str | None]:
    with read_session(engine) as session:
        return dict(session.exec(select(CaseRecord.case_no, CaseRecord.agent)).all())


class AgentDesk:
    """The Query's answer for any case, with the coordinator as its 代办员."""

    async def state(self, case_no: str) -> CaseState:
        return sample_state(case_no, TODAY).model_copy(update={"agent": COORDINATOR.user_id})

    async def act(self, case_no: str, action: Action) -> ActionResult:
        return ActionResult(seq=0, message="")


async def test_mine_lists_exactly_my_agent_cases(engine: Engine, days) -> None:
    by_case = agents(engine)
    mine = {n for n, a in by_case.items() if a == COORDINATOR.user_id}
    app = app_for(engine, days)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CasesScreen) and app.screen.page)
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        assert screen.page.total == len(by_case)

        await pilot.press("g")
        await until(pilot, lambda: screen.filter.agent and screen.page.total == len(mine))
        await settle(pilot)
        assert {r.case_no for r in screen.page.rows} == mine
        assert "我代办的" in screen_text(app)
        assert "代办 " + COORDINATOR.user_id in screen_text(app)  # beside who holds it

        await pilot.press("g")  # again: every case
        await until(
            pilot, lambda: screen.filter.agent is None and screen.page.total == len(by_case)
        )


async def test_case_page_names_the_agent_beside_the_holders(engine: Engine, days) -> None:
    app = app_for(engine, days)
    app.desk = AgentDesk()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CasesScreen) and app.screen.page)
        app.open_case("TDB-1")
        await until(pilot, lambda: isinstance(app.screen, CaseScreen) and app.screen.state)
        await settle(pilot)
        text = screen_text(app)
        holders = next(line for line in text.splitlines() if "在办：" in line)
        assert f"代办员：{COORDINATOR.user_id}" in holders
