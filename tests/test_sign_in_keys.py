"""Keys typed ahead at the sign-in screen never cross fields (issue 26, point 7).

Under load a browser session's keys arrive in bursts: the app forwards each key to
the widget focused *when the app handles it*, and Tab used to move the focus only
when the user-id field got round to handling it, so the first characters of the
password (queued behind the Tab) went into the user-id field, in clear. Here the
whole burst is put on the app's queue at once, before the app runs any of it (as a
loaded console receives it), and the sign-in must get exactly what was typed into
each field.
"""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Input

from tui.login import LoginApp, SignInRefused

USER = "alice-01"
PASSWORD = "s3cret-typed-ahead"


def _key(key: str) -> events.Key:
    """The event a terminal (or the browser's xterm) sends for ``key``."""
    characters = {"tab": "\t", "enter": "\r", "shift+tab": None, "minus": "-"}
    character = characters.get(key, key)
    return events.Key(key, character)


def _keys_for(text: str) -> list[str]:
    return ["minus" if c == "-" else c for c in text]


async def _type_ahead(app: LoginApp, keys: list[str]) -> None:
    """Every key on the app's queue in one go, with no pause between them."""
    for key in keys:
        app.post_message(_key(key))


@pytest.mark.parametrize("rounds", [1, 3])
async def test_a_password_typed_right_behind_tab_never_lands_in_the_user_id(rounds: int) -> None:
    tried: list[tuple[str, str]] = []

    def sign_in(user: str, password: str, new_password: str | None) -> tuple[str, list[str], str]:
        tried.append((user, password))
        raise SignInRefused("refused for the test")

    app = LoginApp(sign_in)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for _ in range(rounds):
            user_box = app.screen.query_one("#user", Input)
            password_box = app.screen.query_one("#password", Input)
            user_box.value = password_box.value = ""
            user_box.focus()
            await pilot.pause()
            await _type_ahead(app, [*_keys_for(USER), "tab", *_keys_for(PASSWORD), "enter"])
            for _ in range(5):
                await pilot.pause()
            assert user_box.value == USER, f"the user-id field got {user_box.value!r}"
            assert password_box.value == PASSWORD
        assert tried == [(USER, PASSWORD)] * rounds


async def test_shift_tab_typed_ahead_goes_back_to_the_user_id_in_order() -> None:
    app = LoginApp(lambda *_: (_ for _ in ()).throw(SignInRefused("no")))
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#user", Input).focus()
        await pilot.pause()
        await _type_ahead(app, ["a", "tab", "p", "w", "shift+tab", "b"])
        await pilot.pause()
        await pilot.pause()
        user = app.screen.query_one("#user", Input).value
        # (focusing a field may select its text, so "b" can replace the "a")
        assert user in ("ab", "b"), user
        assert app.screen.query_one("#password", Input).value == "pw"
