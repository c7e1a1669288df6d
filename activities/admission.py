"""The worker's own word on what a case starts with and who may change its calendar.

Local activities, so their answers land in history and replay never consults the user
directory, the keys, the chain registry's current state or the calendar store again.
The calendar comes from the shared database (``readmodel.calendar_store``), so every
worker on every machine admits and reloads cases with the same schedules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from temporalio import activity

from domain.actions import (
    Admission,
    AdmissionResult,
    AdmitCase,
    ReloadCalendarRequest,
    ReloadCalendarResult,
)
from domain.calendar import SNAPSHOT_YEARS_AFTER, SNAPSHOT_YEARS_BEFORE, CalendarData
from domain.roles import Actor, Role
from domain.timezone import cst_date
from trust.action_proof import ActionBinding
from trust.directory import DirectoryUnavailable
from trust.tokens import InvalidToken
from trust.verifier import IdentityVerifier, NotPermitted
from workflows.admission import InvalidApplication, check_acceptor, checked_start, pinned_limits

logger = logging.getLogger(__name__)


#: ``(first_year, last_year) -> snapshot``: the worker's calendar source.
CalendarSource = Callable[[int, int], CalendarData]
#: ``(first_year, last_year) -> (snapshot, revision)``: the store's calendar source,
#: with the revision read together (``readmodel.calendar_store.RevisedCalendars``).
RevisedSource = Callable[[int, int, str | None], tuple[CalendarData, str]]
#: ``day -> user id``: the 帮办代办 rota's 代办员 on duty that day, or None.
RotaSource = Callable[[date], str | None]


def rota_reader(engine: Callable[[], Any]) -> RotaSource:
    """The rota in the shared database (``readmodel.rota``), read at each admission."""

    def on_duty_that_day(day: date) -> str | None:
        from readmodel.rota import on_duty

        return on_duty(engine(), day)

    return on_duty_that_day


def _without_personal_data(reason: str) -> str:
    """Refusals land in logs and, as the workflow's failure, in clear in history: an id
    check's details (e.g. the birth date in a resident id) must not."""
    for field in ("applicant id_number", "applicant name", "applicant phone"):
        if reason.startswith(field):
            return f"{field}: not valid (checked at the desk: use `onechain` or the console)"
    return reason


@dataclass
class AdmissionActivities:
    """Bound to the worker's identity verifier, calendar source and warning setting."""

    verifier: IdentityVerifier
    calendars: CalendarSource
    warning_fraction: float
    #: When set, calendars come from here with their revision (the production worker);
    #: ``calendars`` alone (tests' own sources) records no revision.
    revised: RevisedSource | None = None

    def _calendar(
        self, first_year: int, last_year: int, wanted: str | None = None
    ) -> tuple[CalendarData, str]:
        if self.revised is not None:
            return self.revised(first_year, last_year, wanted)
        return self.calendars(first_year, last_year), ""

    rota: RotaSource | None = None

    def _agent_on_duty(self, received_at: datetime) -> str | None:
        """首席帮办代办轮流值班: the day's 代办员, if the rota names an enabled person.
        A rota that cannot be read leaves the case without one (the window can still
        assign), never refuses the case."""
        if self.rota is None:
            return None
        try:
            agent = self.rota(cst_date(received_at))
            if agent is None:
                return None
            entry = self.verifier.directory.snapshot().users.get(agent)
        except Exception as error:
            logger.warning("rota not read, no agent named: %s", type(error).__name__)
            return None
        if entry is None or not entry.enabled:
            logger.warning("rota names user %s, who is unknown or disabled: no agent", agent)
            return None
        return agent

    def _sender(self, request: AdmitCase | ReloadCalendarRequest, action: str) -> Actor:
        """Who sent this case's start or signal: the token, and the proof bound to this
        workflow, ``action`` and the digest of what arrived, checked at workflow time."""
        workflow_id = activity.info().workflow_id or ""
        binding = ActionBinding(workflow_id, action, workflow_id, request.digest or "")
        actor, _ = self.verifier.verify_action(
            request.token, request.grant, request.proof, binding, request.at or datetime.now(UTC)
        )
        return actor

    @activity.defn(name="admit_case")
    def admit_case(self, request: AdmitCase) -> AdmissionResult:
        """Verify the acceptor's session, re-check the application against this worker's
        chain registry, and pin version, limits and calendar from the worker's side."""
        try:
            acceptor = self._sender(request, f"start:{activity.info().workflow_type}")
            check_acceptor(acceptor)
            chain, start = checked_start(request.start)
        except (InvalidToken, NotPermitted, DirectoryUnavailable, InvalidApplication) as refused:
            reason = _without_personal_data(str(refused))
            logger.info("case start refused case_no=%s: %s", request.start.case_no, reason)
            return AdmissionResult(refusal=reason)
        year = start.received_at.year
        calendar, revision = self._calendar(
            year - SNAPSHOT_YEARS_BEFORE, year + SNAPSHOT_YEARS_AFTER
        )
        return AdmissionResult(
            admission=Admission(
                accepted_by=acceptor,
                applicant=start.applicant,
                chain_version=chain.version,
                limits=pinned_limits(chain, start.form),
                warning_fraction=self.warning_fraction,
                calendar=calendar,
                form=start.form,
                calendar_revision=revision,
                agent=self._agent_on_duty(start.received_at),
            )
        )

    @activity.defn(name="reload_calendar_from_store")
    def reload_calendar_from_store(self, request: ReloadCalendarRequest) -> ReloadCalendarResult:
        """The loaded schedules, if the sender is a signed-in administrator."""
        try:
            actor = self._sender(request, "signal:reload_calendar")
            if actor.role is not Role.ADMINISTRATOR:
                raise NotPermitted(f"只有系统管理员可以重载日历（not {actor.role.value}）")
        except (InvalidToken, NotPermitted, DirectoryUnavailable) as refused:
            logger.warning("calendar reload refused: %s", refused)
            return ReloadCalendarResult(refusal=str(refused))
        calendar, revision = self._calendar(request.first_year, request.last_year, request.revision)
        return ReloadCalendarResult(calendar=calendar, revision=revision)
