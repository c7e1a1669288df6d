"""The console's sign-in, driven with Pilot against a real read model and keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static

from cli.tui import sign_in_with_password
from readmodel.database import create_read_model, ready_engine, reset_engines
from runtime.keys import init_keys, keys_dir, load_signing_keys
from runtime.settings import get_settings
from trust.accounts import add_user
from trust.tokens import verify_token
from tui.login import LoginApp


@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    init_keys(keys_dir(get_settings()))
    create_read_model(get_settings().resolved_database_url)  # as `onechain db upgrade`
    yield tmp_path
    reset_engines()
    get_settings.cache_clear()


async def _type(pilot: object, app: LoginApp, selector: str, text: str) -> None:
    box = app.query_one(selector, Input)
    box.focus()
    box.value = text
    await pilot.pause()  # type: ignore[attr-defined]


async def test_first_sign_in_sets_a_password_and_picks_a_role(office: Path) -> None:
    engine = ready_engine(get_settings().resolved_database_url)
    one_time = add_user(
        engine,
        user_id="li.coord",
        name="李协调",
        grants=["coordinator", "supervisor"],
        by="test",
    )
    app = LoginApp(sign_in_with_password, lang="zh")
    async with app.run_test(size=(100, 30)) as pilot:
        await _type(pilot, app, "#user", "li.coord")
        await _type(pilot, app, "#password", "not-the-password")
        await pilot.press("enter")
        await pilot.pause()
        assert "用户名或密码错误" in str(app.query_one("#error", Static).render())

        await _type(pilot, app, "#password", one_time)
        await pilot.press("enter")
        await pilot.pause()
        new_password = app.query_one("#new-password", Input)
        assert not new_password.has_class("hidden")  # a one-time password must be replaced

        await _type(pilot, app, "#new-password", "coord-secret-2026")
        await pilot.press("enter")
        await pilot.pause()
        roles = app.query_one("#role", Select)
        assert not roles.has_class("hidden")
        roles.value = "supervisor"
        await pilot.pause()
    signed_in = app.return_value
    assert signed_in is not None and signed_in.grant == "supervisor"
    from datetime import UTC, datetime

    claims = verify_token(
        signed_in.token,
        load_signing_keys(keys_dir(get_settings())).public_keys,
        now=datetime.now(UTC),
    )
    assert claims.sub == "li.coord" and claims.grants == ["coordinator", "supervisor"]


async def test_escape_cancels(office: Path) -> None:
    app = LoginApp(sign_in_with_password, lang="en")
    async with app.run_test() as pilot:
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_value is None
