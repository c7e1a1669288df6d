"""Names that look like markup or terminal control, on a real dev server: shown as
text by ``cases list``/``cases show`` and in the console; refused at the desk when
new (control characters, implausible names, control characters in a form).

The escape-code name is started past the desk (as a case accepted before the desk
refused such names would be), to prove the screens are safe for what is already
stored.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from textual.widgets import DataTable

from client.facade import InvalidApplication
from domain.case import Applicant, CaseStatus
from tests.harness import COORDINATOR, DEFAULT_APPLICANT, CaseDriver
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_cli_cases import cli, ok  # noqa: F401  (the fixture, with the CLI pointed)

CLOSING_TAG = "[/bold]阳光教育"
LINK = "[link=http://evil.example/]阳光教育[/link]"
ESCAPES = "阳光\x1b]0;pwned\x07\x1b[2J教育"  # set the window title, clear the screen
SHOWN_ESCAPES = "阳光\\x1b]0;pwned\\x07\\x1b[2J教育"


async def start_named(driver: CaseDriver, case_no: str, name: str) -> None:
    applicant = DEFAULT_APPLICANT.model_copy(update={"name": name})
    await driver.start("kindergarten", KINDERGARTEN_FORM, case_no=case_no, applicant=applicant)


async def start_past_the_desk(driver: CaseDriver, case_no: str, name: str) -> None:
    """A case whose stored name carries escape codes, as if accepted before the desk and
    the worker refused them: both checks are switched off while it is admitted."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("client.facade.check_applicant_text", lambda _applicant: None)
        patch.setattr("workflows.admission.check_applicant_text", lambda _applicant: None)
        await start_named(driver, case_no, name)
        await driver.wait_for_tasks(case_no)


@pytest.fixture
async def hostile(cli: CaseDriver) -> tuple[CaseDriver, str, dict[str, str]]:  # noqa: F811
    prefix = f"HT{uuid.uuid4().hex[:6].upper()}"
    names = {f"{prefix}-1": CLOSING_TAG, f"{prefix}-2": LINK, f"{prefix}-3": ESCAPES}
    await start_named(cli, f"{prefix}-1", CLOSING_TAG)
    await start_named(cli, f"{prefix}-2", LINK)
    await start_past_the_desk(cli, f"{prefix}-3", ESCAPES)
    for case_no in names:
        await cli.wait_for_tasks(case_no)
        await cli.projected(case_no)  # the list and the console read the read model
    return cli, prefix, names


async def test_cases_list_and_show_print_names_as_text(
    hostile: tuple[CaseDriver, str, dict[str, str]],
) -> None:
    from tests.test_cli_cases import listed

    _, prefix, names = hostile
    await listed("--search", prefix, expect=3)
    result = await ok("cases", "list", "--search", prefix)
    out = result.stdout
    assert CLOSING_TAG in out and LINK in out and SHOWN_ESCAPES in out
    assert "\x1b" not in result.output and "\x07" not in result.output
    for case_no, name in names.items():
        shown = (await ok("cases", "show", case_no)).stdout
        assert (SHOWN_ESCAPES if name is ESCAPES else name) in shown
        assert "\x1b" not in shown
    # JSON keeps the stored text exactly, with the control characters escaped.
    data = await listed("--search", prefix, expect=3)
    assert {c["applicant_name"] for c in data["cases"]} == set(names.values())


async def test_console_shows_names_as_text(
    hostile: tuple[CaseDriver, str, dict[str, str]],
) -> None:
    from readmodel.database import ready_engine
    from runtime.settings import get_settings
    from tests.test_tui import console, open_case, wait_for
    from tui.data import CaseFilter
    from tui.screens.cases import CasesScreen

    driver, prefix, names = hostile
    engine = ready_engine(get_settings().resolved_database_url)
    app = console(driver, engine, COORDINATOR)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CasesScreen))
        screen = pilot.app.screen
        assert isinstance(screen, CasesScreen)
        screen.set_filter(CaseFilter(search=prefix))
        table = screen.query_one("#cases", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.pause()
        shown = {str(key.value): [_plain(c) for c in table.get_row(key)] for key in table.rows}
        for case_no, name in names.items():
            expected = SHOWN_ESCAPES if name is ESCAPES else name
            assert expected in shown[case_no], shown[case_no]
        for case_no in names:
            case_screen = await open_case(pilot, case_no)
            assert case_screen.state is not None
            assert case_screen.state.status is CaseStatus.RUNNING
            await pilot.press("escape")
        assert app.return_code is None  # nothing crashed


def _plain(cell: Any) -> str:
    return getattr(cell, "plain", str(cell))


@pytest.mark.parametrize(
    "name",
    ["阳光\x1b[2J教育", "阳光\u202e育教", '=HYPERLINK("http://evil.example","点我")', "……"],
)
async def test_the_desk_refuses_unsafe_or_implausible_names(driver: CaseDriver, name: str) -> None:
    with pytest.raises(ValidationError, match="applicant name"):
        await start_named(driver, f"HD{uuid.uuid4().hex[:6].upper()}", name)


async def test_the_desk_refuses_control_characters_in_form_fields(driver: CaseDriver) -> None:
    form = {**KINDERGARTEN_FORM, "address": "济宁市\x1b]8;;http://evil.example\x07任城区"}
    with pytest.raises(InvalidApplication, match=r"address: .*control character"):
        await driver.start("kindergarten", form)
    phone = Applicant(**{**DEFAULT_APPLICANT.model_dump(), "phone": "138\x0800138000"})
    with pytest.raises(ValidationError, match="applicant phone"):
        await driver.start("kindergarten", KINDERGARTEN_FORM, applicant=phone)
