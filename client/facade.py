"""The one way the CLI, the TUI, tests and benchmarks talk to cases.

Neither the CLI nor the TUI calls Temporal on its own: they call :class:`CaseDesk`,
which validates input against the chain, pins the chain version and the calendar
snapshot at start, maps actions to the workflow's Updates and turns Temporal's
errors into three plain exceptions.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import chains  # noqa: F401  (registers the chains the facade validates against)
from domain.actions import (
    Action,
    ActionResult,
    CalendarReload,
    Decide,
    DecideOnBehalf,
    EndSpecialProcedure,
    Extend,
    PinnedLimits,
    Rate,
    Reassign,
    RecordSupplement,
    Rectify,
    ReportApplicantEvent,
    StartCase,
    StartSpecialProcedure,
    SupplyMaterials,
    Urge,
    Withdraw,
    workflow_id_for,
)
from domain.calendar import CalendarData
from domain.calendar_sources import build_calendar
from domain.case import Applicant, CaseOutcome, CaseState, check_applicant_text
from domain.ids import InvalidId, check_applicant_id
from domain.materials import Commitment
from domain.roles import Actor
from runtime.settings import get_settings
from workflows import registry
from workflows.case_workflow import CaseWorkflow
from workflows.chain import Chain

QUERY_TIMEOUT = timedelta(seconds=15)

UPDATE_FOR_ACTION: dict[type[Action], str] = {
    DecideOnBehalf: "decide_on_behalf",
    Decide: "decide",
    Extend: "extend",
    Reassign: "reassign",
    Urge: "urge",
    StartSpecialProcedure: "start_special_procedure",
    EndSpecialProcedure: "end_special_procedure",
    RecordSupplement: "record_supplement",
    ReportApplicantEvent: "report_applicant_event",
    Withdraw: "withdraw",
    SupplyMaterials: "supply_materials",
    Rate: "rate",
    Rectify: "rectify",
}


class CaseError(Exception):
    """Base of the errors callers are expected to show to a user."""


class CaseAlreadyExists(CaseError):
    pass


class CaseNotFound(CaseError):
    pass


class ActionRejected(CaseError):
    """The workflow refused an action; the message is the validator's."""


class InvalidApplication(CaseError):
    """The application does not fit the chain (unknown chain, bad form fields)."""


class CaseRequest(BaseModel):
    """What a window (or an import row) submits to start a case."""

    # Errors name the field and the rule, never the input: it holds personal data.
    model_config = ConfigDict(hide_input_in_errors=True)

    case_no: str
    chain: str
    applicant: Applicant
    form: dict[str, Any]
    materials: list[str] = Field(default_factory=list)
    commitments: list[Commitment] = Field(default_factory=list)
    received_at: datetime | None = None
    accepted_by: Actor

    @field_validator("applicant")
    @classmethod
    def _applicant_is_plain_text(cls, applicant: Applicant) -> Applicant:
        """New applications only (not ``Applicant`` itself: stored histories replay as
        they were): a plausible name, no control characters (domain/text.py)."""
        check_applicant_text(applicant)
        return applicant


class CaseExecution(BaseModel):
    case_no: str
    task_queue: str
    status: str  # running, completed, terminated, ...
    started_at: datetime


class CaseDesk:
    """Start cases, act on them, read them."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str | None = None,
        calendars_dir: Path | None = None,
        warning_fraction: float | None = None,
    ) -> None:
        settings = get_settings()
        self.client = client
        self.task_queue = task_queue or settings.task_queue
        self.calendars_dir = calendars_dir or settings.calendars_dir
        self.warning_fraction = warning_fraction or settings.warning_fraction
        self._calendars: dict[int, CalendarData] = {}

    # ---------------------------------------------------------------- start
    def calendar_for(self, year: int) -> CalendarData:
        """The snapshot a case accepted in ``year`` computes its deadlines with."""
        if year not in self._calendars:
            self._calendars[year] = build_calendar(self.calendars_dir, year - 1, year + 3)
        return self._calendars[year]

    def prepare(self, request: CaseRequest) -> StartCase:
        """Validate the request against its chain and pin version and calendar."""
        try:
            chain = registry.get_chain(request.chain)
        except LookupError as unknown:
            raise InvalidApplication(str(unknown)) from None
        if chain.applicant_kind not in ("either", request.applicant.kind):
            raise InvalidApplication(
                f"chain {chain.code} takes applicants of kind {chain.applicant_kind}, "
                f"not {request.applicant.kind}"
            )
        try:
            id_number = check_applicant_id(request.applicant.kind, request.applicant.id_number)
        except InvalidId as invalid:
            raise InvalidApplication(f"applicant id_number: {invalid}") from None
        applicant = request.applicant.model_copy(update={"id_number": id_number})
        try:
            form = chain.validate_form(request.form)
        except ValidationError as invalid:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'form'}: {err['msg']}"
                for err in invalid.errors()
            )
            raise InvalidApplication(f"form for chain {chain.code}: {problems}") from None
        self._check_materials(chain, request)
        received_at = request.received_at or datetime.now(UTC)
        if received_at.tzinfo is None:
            raise InvalidApplication("received_at must include a time zone")
        try:
            return StartCase(
                case_no=request.case_no,
                chain=chain.code,
                chain_version=chain.version,
                limits=PinnedLimits(
                    chain_name=chain.name_zh,
                    promised_days=chain.promised_days,
                    statutory_days=chain.statutory_days,
                    department_count=len(chain.departments),
                    materials=chain.material_specs(),
                    allow_incomplete=chain.allow_incomplete,
                    supplement_days=chain.supplement_days,
                    on_supplement_missed=chain.on_supplement_missed,
                    verification_days=chain.verification_days,
                    rating_window_days=chain.rating_window_days,
                ),
                applicant=applicant,
                form=form.model_dump(mode="json"),
                materials=request.materials,
                commitments=request.commitments,
                received_at=received_at,
                accepted_by=request.accepted_by,
                warning_fraction=self.warning_fraction,
                calendar=self.calendar_for(received_at.year),
            )
        except ValidationError as invalid:
            raise InvalidApplication(invalid.errors()[0]["msg"]) from None

    @staticmethod
    def _check_materials(chain: Chain, request: CaseRequest) -> None:
        known = {m.code: m for m in chain.materials}
        unknown = [code for code in request.materials if code not in known]
        if unknown:
            raise InvalidApplication(
                f"materials not in chain {chain.code}: {', '.join(unknown)} "
                f"(known: {', '.join(known)})"
            )
        for commitment in request.commitments:
            material = known.get(commitment.material)
            if material is None or not material.commitment:
                allowed = ", ".join(code for code, m in known.items() if m.commitment) or "none"
                raise InvalidApplication(
                    f"commitment for {commitment.material!r}: chain {chain.code} accepts "
                    f"commitments only for: {allowed}"
                )

    async def start_case(self, request: CaseRequest) -> WorkflowHandle[Any, CaseOutcome]:
        start = self.prepare(request)
        try:
            return await self.client.start_workflow(
                CaseWorkflow.run,
                start,
                id=workflow_id_for(start.case_no),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                result_type=CaseOutcome,
            )
        except WorkflowAlreadyStartedError:
            raise CaseAlreadyExists(f"case {start.case_no} already exists") from None

    # --------------------------------------------------------------- actions
    def handle(self, case_no: str) -> WorkflowHandle[Any, CaseOutcome]:
        return self.client.get_workflow_handle(workflow_id_for(case_no), result_type=CaseOutcome)

    async def act(self, case_no: str, action: Action) -> ActionResult:
        """Send one action. The request id makes a retried call apply only once."""
        update = next(name for kind, name in UPDATE_FOR_ACTION.items() if isinstance(action, kind))
        request_id = action.request_id or uuid.uuid4().hex
        action = action.model_copy(update={"request_id": request_id})
        try:
            return await self.handle(case_no).execute_update(
                update, action, id=request_id, result_type=ActionResult
            )
        except WorkflowUpdateFailedError as failed:
            cause = failed.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            raise ActionRejected(message) from None
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND and await self._exists(case_no):
                raise ActionRejected(f"case {case_no} is closed; no more actions") from None
            raise self._rpc_error(case_no, error) from None

    async def _exists(self, case_no: str) -> bool:
        try:
            await self.handle(case_no).describe()
        except RPCError:
            return False
        return True

    async def state(self, case_no: str) -> CaseState:
        """The case's authoritative state (a Query; needs a running worker)."""
        try:
            return await self.handle(case_no).query(CaseWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as error:
            if error.status is RPCStatusCode.DEADLINE_EXCEEDED:
                raise CaseError(
                    f"case {case_no}: no worker answered within {QUERY_TIMEOUT.seconds}s "
                    "(is `onechain worker` or `onechain up` running?)"
                ) from None
            raise self._rpc_error(case_no, error) from None

    async def outcome(self, case_no: str, *, timeout: float = 60.0) -> CaseOutcome:
        """Wait until the case is concluded (approved, not approved, withdrawn).

        The workflow itself runs on after the conclusion (publication, verification,
        the rating window), so this watches the case's state, not the workflow's end.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = await self.state(case_no)
            if state.concluded:
                return CaseOutcome(
                    case_no=state.case_no,
                    status=state.status,
                    reason=state.outcome_reason,
                    licences=state.licences,
                )
            if loop.time() > deadline:
                raise CaseError(f"case {case_no} did not conclude within {timeout:.0f}s")
            await asyncio.sleep(0.1)

    @staticmethod
    def _rpc_error(case_no: str, error: RPCError) -> Exception:
        if error.status is RPCStatusCode.NOT_FOUND:
            return CaseNotFound(f"case {case_no} not found")
        if error.status is RPCStatusCode.FAILED_PRECONDITION:
            return ActionRejected(f"case {case_no} is closed: {error.message}")
        return error

    async def ping(self) -> None:
        """Raise if Temporal does not answer (the TUI shows a lost connection)."""
        await self.client.service_client.check_health()

    # -------------------------------------------------------------- calendar
    async def running_case_numbers(self) -> list[str]:
        query = "WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'"
        return [
            execution.id.removeprefix("case-")
            async for execution in self.client.list_workflows(query)
        ]

    async def case_executions(self) -> list[CaseExecution]:
        """Every case workflow Temporal knows (latest run per case number), for
        reconciling the read model."""
        latest: dict[str, CaseExecution] = {}
        async for execution in self.client.list_workflows("WorkflowType = 'CaseWorkflow'"):
            case_no = execution.id.removeprefix("case-")
            started = execution.start_time or datetime.min.replace(tzinfo=UTC)
            status = execution.status.name.lower() if execution.status else "unknown"
            known = latest.get(case_no)
            if known is None or known.started_at <= started:
                latest[case_no] = CaseExecution(
                    case_no=case_no,
                    task_queue=execution.task_queue,
                    status=status,
                    started_at=started,
                )
        return [latest[k] for k in sorted(latest)]

    async def broadcast_calendar_reload(self, calendar: CalendarData) -> int:
        """Tell every running case to take the schedules in ``calendar`` and recompute
        its deadlines. A signal, not a query: it reaches cases even while no worker runs."""
        count = 0
        for case_no in await self.running_case_numbers():
            await self.handle(case_no).signal(
                CaseWorkflow.reload_calendar, CalendarReload(calendar=calendar)
            )
            count += 1
        return count


async def broadcast_calendar_reload(calendar: CalendarData) -> int:
    """Used by ``onechain calendar load``: connect with the standard settings and signal."""
    from runtime.connect import connect

    desk = CaseDesk(await connect())
    return await desk.broadcast_calendar_reload(calendar)
