"""Sign-in for the console (登录): shown when there is no valid session.

A screen (:class:`LoginScreen`) that asks for the user id and password (and a new
password at a first sign-in, and the role when the person holds several), signs in
through the callback it is given (``trust.accounts.login`` behind ``cli.tui``) and
hands its caller the session to keep. Nothing here decides who may sign in.

In a terminal it runs as a small app of its own before the console (:class:`LoginApp`);
in a browser session (``onechain web``) the console shows it as its own first screen
(``tui.sign_in_first``), since a served process may run only one app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static

from tui.messages import Catalog


@dataclass(frozen=True)
class SignedIn:
    """What the console continues with: the token, the role chosen, and the session's
    private key (opaque text: the console only hands it back to make credentials)."""

    token: str
    grant: str
    grants: tuple[str, ...]
    key: str


class SignInRefused(Exception):
    """The sign-in failed; the message is shown as it is. ``needs_new_password`` asks
    for a new password (a one-time password was used)."""

    def __init__(self, message: str, needs_new_password: bool = False) -> None:
        super().__init__(message)
        self.needs_new_password = needs_new_password


#: (user id, password, new password or None) → (token, grants held, session key)
SignIn = Callable[[str, str, str | None], tuple[str, list[str], str]]


#: What happens with the result: the session, or None when cancelled.
Done = Callable[["SignedIn | None"], None]


class LoginScreen(Screen[None]):
    """登录 — the sign-in form; hands the session (None when cancelled) to ``done``."""

    DEFAULT_CSS = """
    LoginScreen { align: center middle; }
    #login { width: 60; height: auto; border: round $accent; padding: 1 2; }
    #login Input, #login Select { margin-bottom: 1; }
    #error { color: $error; height: auto; }
    .hidden { display: none; }
    """
    #: Tab and Shift+Tab are *priority* bindings: the app runs them itself, in the order
    #: keys arrive, so the focus has moved before it forwards the next key. As ordinary
    #: bindings they ran only when the field got round to its Tab, and under load the
    #: password's first characters, queued behind the Tab, went into the user id in
    #: clear (issue 26).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "quit_login", "login.cancel"),
        Binding("tab", "app.focus_next", "", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "", show=False, priority=True),
    ]

    def __init__(self, sign_in: SignIn, catalog: Catalog, done: Done, *, user_id: str = "") -> None:
        super().__init__()
        self.catalog = catalog
        self._sign_in = sign_in
        self._done = done
        self._user_id = user_id
        self._session: tuple[str, list[str]] | None = None

    def compose(self) -> ComposeResult:
        t = self.catalog.t
        with Vertical(id="login"):
            yield Label(t("login.title"), classes="dialog-title")
            yield Input(value=self._user_id, placeholder=t("login.user"), id="user")
            yield Input(placeholder=t("login.password"), password=True, id="password")
            yield Input(
                placeholder=t("login.new_password"),
                password=True,
                id="new-password",
                classes="hidden",
            )
            yield Select[str]([], prompt=t("login.role"), id="role", classes="hidden")
            yield Static("", id="error")
            yield Button(t("login.submit"), variant="primary", id="submit")

    def on_mount(self) -> None:
        # A steady cursor: a blinking one repaints twice a second for as long as the
        # form is open, which a browser session sends over the network each time.
        for box in self.query(Input):
            box.cursor_blink = False
        target = "#password" if self._user_id else "#user"
        self.query_one(target, Input).focus()

    def _error(self, text: str) -> None:
        self.query_one("#error", Static).update(Text(text))

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def submit(self) -> None:
        if self._session is not None:
            self._finish_with_role()
            return
        user = self.query_one("#user", Input).value.strip()
        password = self.query_one("#password", Input).value
        new_box = self.query_one("#new-password", Input)
        new_password = new_box.value if not new_box.has_class("hidden") else None
        if not user or not password:
            self._error(self.catalog.t("login.missing"))
            return
        try:
            token, grants, key = self._sign_in(user, password, new_password)
        except SignInRefused as refused:
            self._error(str(refused))
            if refused.needs_new_password:
                new_box.remove_class("hidden")
                new_box.focus()
            return
        if len(grants) == 1:
            self._done(SignedIn(token=token, grant=grants[0], grants=tuple(grants), key=key))
            return
        self._session = (token, grants, key)
        roles = self.query_one("#role", Select)
        roles.set_options([(g, g) for g in grants])
        roles.remove_class("hidden")
        roles.focus()
        self._error(self.catalog.t("login.choose_role"))

    def _finish_with_role(self) -> None:
        assert self._session is not None
        token, grants, key = self._session
        choice = self.query_one("#role", Select).value
        if not isinstance(choice, str):
            self._error(self.catalog.t("login.choose_role"))
            return
        self._done(SignedIn(token=token, grant=choice, grants=tuple(grants), key=key))

    @on(Select.Changed, "#role")
    def _role_chosen(self) -> None:
        if self._session is not None and isinstance(self.query_one("#role", Select).value, str):
            self._finish_with_role()

    def action_quit_login(self) -> None:
        self._done(None)


class LoginApp(App[SignedIn | None]):
    """登录 before the console in a terminal: the sign-in screen as an app of its own."""

    def __init__(self, sign_in: SignIn, *, lang: str = "zh", user_id: str = "") -> None:
        super().__init__()
        self.catalog = Catalog(lang)
        self._sign_in = sign_in
        self._user_id = user_id
        self.title = self.catalog.t("login.title")

    def get_default_screen(self) -> Screen[None]:
        return LoginScreen(self._sign_in, self.catalog, self.exit, user_id=self._user_id)
