"""What a console screen may ask of the app, as a protocol.

Screens (``tui/screens/``) and widgets reach the running app through
:class:`Console` instead of importing ``tui.app``: the app imports every screen,
so a screen importing the app closed a circle through the whole console. The app
(``tui.app.OneChainApp``) satisfies this protocol; a screen casts ``self.app`` to
it. Anything a screen needs from the app is added here, so what the screens depend
on stays one short, readable list.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from sqlalchemy import Engine

from domain.case import CaseState
from domain.roles import Actor
from tui.data import CaseFilter
from tui.desk import DayCounter, Desk
from tui.messages import Catalog


class Console(Protocol):
    """The app's services and navigation, as the screens use them."""

    catalog: Catalog
    engine: Engine
    actor: Actor
    desk: Desk | None
    refresh_seconds: float
    page_size: int
    pending_filter: CaseFilter | None
    connection: str

    @property
    def days(self) -> DayCounter: ...

    def today(self) -> date: ...

    # -- connection and read-model health
    def outage(self, error: BaseException, *, acting: bool = False) -> str | None: ...

    def connection_ok(self) -> None: ...

    def read_model_failed(self, error: Exception) -> None: ...

    def supervision_desk(self) -> Any: ...

    # -- navigation and actions
    def open_case(self, case_no: str) -> None: ...

    def show_cases(self, flt: CaseFilter) -> None: ...

    def show_department(self, department: str) -> None: ...

    def begin_action(self, act: Any, case_no: str, state: CaseState | None = None) -> None: ...

    def begin_bulk(self, act: Any, case_numbers: list[str]) -> None: ...

    def after_bulk(self, request: Any, results: list[Any]) -> None: ...
