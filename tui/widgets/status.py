"""The top line of every screen: where you are, who you act as, and whether
Temporal answers."""

from __future__ import annotations

from typing import cast

from rich.text import Text
from textual.widgets import Static

from domain.text import visible
from tui.console import Console


class StatusBar(Static):
    """Title · screen · acting as · connection."""

    def __init__(self, screen_key: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.screen_key = screen_key

    @property
    def console(self) -> Console:
        return cast(Console, self.app)

    def on_mount(self) -> None:
        self.watch(self.console, "connection", self._show, init=True)

    def _show(self, _value: object = None) -> None:
        app = self.console
        t = app.catalog.t
        actor = app.actor
        department = f" · {app.catalog.department(actor.department)}" if actor.department else ""
        acting = t(
            "app.acting_as",
            name=actor.name,
            role=app.catalog.role(actor.role),
            department=department,
        )
        text = Text()
        text.append(f" {t('app.title')} ", style="bold")
        text.append(f"│ {t(self.screen_key)} ", style="bold")
        text.append(f"│ {visible(acting)} ")
        state = app.connection
        if state == "ok":
            text.append(f"│ ● {t('conn.ok')}", style="green")
        elif state == "connecting":
            text.append(f"│ ◌ {t('conn.connecting')}", style="yellow")
        elif state == "stalled":
            text.append(f"│ ✖ {t('conn.stalled')}", style="bold red")
        else:
            text.append(f"│ ✖ {t('conn.lost_short')}", style="bold red")
        self.set_class(state != "ok", "-problem")
        self.update(text)
