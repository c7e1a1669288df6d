"""The console's view of the facade, and the small things it needs around it.

The app talks to Temporal only through :class:`client.facade.CaseDesk`; this
module names the part of it the app uses (a protocol, so tests can pass the real
desk or a stand-in), tells connection failures from refusals, and counts working
days left for lists.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from domain.actions import Action, ActionResult
from domain.calendar import WorkCalendar
from domain.case import CaseState, Clock
from domain.deadlines import days_left

if TYPE_CHECKING:
    from sqlalchemy import Engine


@runtime_checkable
class Desk(Protocol):
    """What the console needs from ``client.facade.CaseDesk``."""

    async def act(self, case_no: str, action: Action) -> ActionResult: ...

    async def state(self, case_no: str) -> CaseState: ...


#: How long a health check may take before Temporal counts as not answering: a
#: frozen server (stopped process, full disk) accepts the connection and never
#: answers, and the header kept saying 已连接 through such a freeze.
PING_TIMEOUT = 5.0


async def ping(desk: Desk, timeout: float = PING_TIMEOUT) -> None:
    """Raise if Temporal cannot be reached or does not answer within ``timeout``
    (``TimeoutError``, a connection error).

    Uses the desk's own health check (``CaseDesk.ping``) when it has one, else the
    desk's client's service health, the cheapest call there is.
    """
    probe = getattr(desk, "ping", None)
    if probe is not None:
        await asyncio.wait_for(probe(), timeout)
        return
    client = getattr(desk, "client", None)
    if client is None:
        return
    await asyncio.wait_for(
        client.service_client.check_health(timeout=timedelta(seconds=timeout)), timeout
    )


def is_connection_error(error: BaseException) -> bool:
    """True for a lost or refused connection (retry later), False for anything a
    person caused (a refused action, an unknown case)."""
    if isinstance(error, ConnectionError | TimeoutError | OSError):
        return True
    try:
        from temporalio.service import RPCError, RPCStatusCode
    except ImportError:  # pragma: no cover
        return False
    if isinstance(error, RPCError):
        return error.status in (
            RPCStatusCode.UNAVAILABLE,
            RPCStatusCode.DEADLINE_EXCEEDED,
            RPCStatusCode.CANCELLED,
        )
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("connect" in text or "transport" in text)


class DayCounter:
    """Working days left to a due date, with the project's calendar."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar

    @classmethod
    def for_today(cls, today: date, engine: Engine) -> DayCounter:
        """With the office's schedules from the shared database (as the workers)."""
        from readmodel.calendar_store import calendar_from_store

        return cls(WorkCalendar(calendar_from_store(engine, today.year - 1, today.year + 3)))

    def left(self, today: date, due: date, *, started_on: date | None = None) -> int:
        """Days left to a due date from a list row (no clock at hand): counted from the
        later of today and the day after ``started_on`` (the acceptance day)."""
        return self.calendar.days_left(today, due, started_on=started_on)

    def of(self, today: date, clock: Clock | None) -> int | None:
        """Days left on a clock: the one rule (:func:`domain.deadlines.days_left`)."""
        return days_left(self.calendar, clock, today)
