"""The console that signs its person in on its own first screen (``onechain web``).

A browser session served by ``textual-serve`` is one process running one app: when an
app exits, the page is closed. So the terminal's order (a sign-in app, then the
console) cannot work there. This console starts with :class:`tui.login.LoginScreen`
and becomes the ordinary console once someone has signed in; the session lives only in
this process's memory, never in a session file on the serving machine.

Until then it offers nothing of the console: the app's own keys (jump, help, modes,
the command palette) are refused and asking who acts is an error. ``q`` asks before
it ends the session (a browser tab closes with it), as ``q`` in ``onechain up`` does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from textual import events

from domain.roles import Actor
from tui.app import OneChainApp
from tui.desk import Desk
from tui.login import LoginScreen, SignedIn, SignIn

#: Turns a sign-in into who acts and how to reach the desk as them (``cli.tui``).
OpenSession = Callable[[SignedIn], tuple[Actor, Callable[[], Awaitable[Desk]]]]


class SignInFirstApp(OneChainApp):
    """一链办理 协调台, behind its own sign-in screen."""

    #: App actions that do nothing with cases: moving between fields, quitting.
    BEFORE_SIGN_IN: ClassVar[frozenset[str]] = frozenset(
        {"focus_next", "focus_previous", "quit", "help_quit", "redraw", "bell"}
    )

    def __init__(self, *, sign_in: SignIn, open_session: OpenSession, **options: Any) -> None:
        self._actor: Actor | None = None
        options.setdefault("confirm_quit", "quit.confirm_web")
        super().__init__(actor=None, **options)  # type: ignore[arg-type]
        self._sign_in = sign_in
        self._open_session = open_session
        #: When the person last pressed a key, clicked or pasted (``tui.polling``).
        self.last_input = time.monotonic()

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise RuntimeError("nobody has signed in to this console yet")
        return self._actor

    @actor.setter
    def actor(self, actor: Actor | None) -> None:
        self._actor = actor

    async def on_event(self, event: events.Event) -> None:
        """Note when the person last did something: an idle browser console polls less
        (``tui.polling``)."""
        if isinstance(event, events.Key | events.MouseDown | events.Paste):
            self.last_input = time.monotonic()
        await super().on_event(event)

    @property
    def signed_in(self) -> bool:
        return self._actor is not None

    def on_mount(self, event: events.Mount) -> None:
        event.prevent_default()  # the console's own start waits for the sign-in
        self.title = self.catalog.t("login.title")
        self.push_screen(LoginScreen(self._sign_in, self.catalog, self._signed_in))

    def _signed_in(self, signed: SignedIn | None) -> None:
        if signed is None:
            self.exit()
            return
        self.actor, self._connect = self._open_session(signed)
        self.title = self.catalog.t("app.title")
        self.pop_screen()
        OneChainApp.on_mount(self)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.signed_in and action not in self.BEFORE_SIGN_IN:
            return False
        return super().check_action(action, parameters)
