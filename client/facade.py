"""The one way the CLI, the TUI, tests and benchmarks talk to cases.

Neither the CLI nor the TUI calls Temporal on its own: they call :class:`CaseDesk`,
which validates input against the chain, pins the chain version and the calendar
snapshot at start, maps actions to the workflow's Updates and turns Temporal's
errors into three plain exceptions.
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import chains  # noqa: F401  (registers the chains the facade validates against)
from domain.action_catalog import ACTIONS, spec_for
from domain.actions import (
    Action,
    ActionResult,
    CalendarReload,
    StartCase,
    workflow_id_for,
)
from domain.case import Applicant, CaseOutcome, CaseState, check_applicant_text
from domain.materials import Commitment
from domain.projection import DerivedRecords, Reconciliation
from domain.refusal import Refusal, render
from domain.roles import Actor
from runtime.settings import get_settings
from trust.client_interceptor import CredentialsInterceptor
from trust.credentials import TOKEN_HEADER, Credentials, ProofClock, acting_as
from workflows import admission
from workflows.case_workflow import CaseWorkflow
from workflows.projection_memo import holds_projection, reconciliation_from_memo

#: The error type of the worker's trust check (``trust.workflow_interceptor``, not
#: imported: it brings the read model's audit table with it).
UNAUTHENTICATED = "Unauthenticated"
QUERY_TIMEOUT = timedelta(seconds=15)
#: How long one try of a Query waits before it is asked again (see ``CaseDesk._ask``).
QUERY_TRY_WAIT = timedelta(seconds=5)
#: How long an action waits for a worker to take it before saying none answered (a
#: loaded worker takes seconds; none at all never answers, and the RPC would end in a
#: bare "Timeout expired").
ACTION_TIMEOUT = timedelta(seconds=60)
#: Calendar reload signals in flight at once (``CaseDesk.broadcast_calendar_reload``).
BROADCAST_AT_ONCE = 64
#: How long ``state`` waits for a just-started case to be admitted by a worker.
STARTING_WAIT = timedelta(seconds=30)
#: The workflow's answer to a Query before admission (``CaseWorkflow.file``).
STILL_STARTING = "case is still starting"

#: The workflow Update each action is sent as (declared in ``domain.action_catalog``).
UPDATE_FOR_ACTION: dict[type[Action], str] = {spec.model: spec.update for spec in ACTIONS}


def refusal_text(cause: BaseException | None) -> str:
    """The workflow's reason, with the reasons under it: a payload the worker could not
    decode says "Failed decoding arguments" and, beneath, which field broke which rule."""
    messages: list[str] = []
    while cause is not None:
        text = cause.message if isinstance(cause, FailureError) else str(cause)
        if text and text not in messages:
            messages.append(text)
        cause = cause.cause if isinstance(cause, FailureError) else None
    return ": ".join(messages) or "refused"


class CaseError(Exception):
    """Base of the errors callers are expected to show to a user.

    ``str()`` is the English message (logs, ``--json``); ``code`` and ``params`` say
    the same for an interface to word in its language (``tui/refusals.py``); a
    ``None`` code means there is nothing to word but the message.
    """

    def __init__(
        self, message: str, *, code: Refusal | None = None, params: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.params: dict[str, Any] = dict(params or {})

    @classmethod
    def refused(cls, code: Refusal, **params: Any) -> CaseError:
        """An error worded from a refusal code (its English template as message)."""
        return cls(render(code, params), code=code, params=params)


def refusal_of(cause: BaseException | None) -> tuple[Refusal, dict[str, Any]] | None:
    """The code and parameters the workflow (or the worker's trust check) sent with a
    refusal, or None when it sent none (an older worker, a payload that did not
    decode): the caller then shows the message alone."""
    while isinstance(cause, FailureError):
        if isinstance(cause, ApplicationError):
            if cause.type == UNAUTHENTICATED:
                return Refusal.NOT_PERMITTED, {"message": cause.message}
            if cause.type == "ActionRefused" and cause.details:
                details = cause.details[0]
                if isinstance(details, dict):
                    try:
                        code = Refusal(str(details.get("code")))
                    except ValueError:
                        return None
                    params = details.get("params")
                    return code, dict(params) if isinstance(params, dict) else {}
        cause = cause.cause
    return None


class CaseAlreadyExists(CaseError):
    pass


class CaseConflict(CaseError):
    """The case number is taken, but not by this application as onechain started it:
    by a start no worker admitted (made around onechain, or refused), by a case ended
    around onechain, or by another applicant's case. Importing must not call that
    "already existing": the applicant's case would silently never start."""


class CaseNotFound(CaseError):
    pass


class ActionRejected(CaseError):
    """The workflow refused an action; the message is the validator's."""


class WorkerUnavailable(CaseError):
    """No worker answered, or none is polling the case's task queue right now: the case
    is open and the same request may be sent again later (it applies at most once).
    Tools that retry (the department simulator) retry this, never a refusal."""


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
    accepted_by: Actor | None = Field(
        default=None,
        description="only picks credentials when the desk acts for several people (tests, "
        "the simulator); the worker records the acceptor from the verified token",
    )

    @field_validator("applicant")
    @classmethod
    def _applicant_is_plain_text(cls, applicant: Applicant) -> Applicant:
        """New applications only (not ``Applicant`` itself: stored histories replay as
        they were): a plausible name, no control characters (domain/text.py)."""
        check_applicant_text(applicant)
        return applicant


class CaseExecution(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    case_no: str
    task_queue: str
    status: str  # running, completed, terminated, ...
    started_at: datetime
    run_id: str = ""
    #: How many runs of this case number Temporal lists: onechain starts one; a reset
    #: or a start after a termination (``client.outside``) makes more.
    runs: int = 1
    #: The case's memo as listed (sealed payloads; see ``workflows.projection_memo``).
    memo: dict[str, Payload] = Field(default_factory=dict, exclude=True, repr=False)


#: Who acts for a call: one signed-in person's credentials, or (tests, the simulator)
#: a function choosing credentials for the actor an action names.
CredentialSource = Credentials | Callable[[Actor | None], Credentials]


class NotSignedIn(CaseError):
    """The desk has no credentials to act with."""


def _with_credentials_interceptor(client: Client) -> Client:
    """``client``, or a client on the same connection that sends credentials headers."""
    config = client.config()
    if any(isinstance(i, CredentialsInterceptor) for i in config["interceptors"]):
        return client
    config["interceptors"] = [*config["interceptors"], CredentialsInterceptor()]
    return Client(**config)


def _same_id(first: str, second: str) -> bool:
    """Whether two applicant ids are the same however they were typed (spaces, case;
    ``readmodel.holders`` normalises the same way), compared in constant time."""

    def normalised(id_number: str) -> bytes:
        return "".join(id_number.split()).upper().encode("utf-8")

    return hmac.compare_digest(normalised(first), normalised(second))


def prepare_start(request: CaseRequest) -> StartCase:
    """Check the request against its chain (the worker checks again) and build the
    start input. Nothing the worker decides (version, limits, calendar, acceptor)
    is sent."""
    try:
        start = StartCase(
            case_no=request.case_no,
            chain=request.chain,
            applicant=request.applicant,
            form=request.form,
            materials=request.materials,
            commitments=request.commitments,
            received_at=request.received_at or datetime.now(UTC),
        )
    except ValidationError as invalid:
        raise InvalidApplication(invalid.errors()[0]["msg"]) from None
    try:
        return admission.checked_start(start)[1]
    except admission.InvalidApplication as invalid:
        raise InvalidApplication(str(invalid)) from None


#: Pauses before asking again when no worker took an action or Query (its task failed,
#: it went unprocessed, or no worker polls yet after a restart), in seconds.
TASK_FAILURE_RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)


def _timed_out(error: RPCError) -> bool:
    """No answer in time: DEADLINE_EXCEEDED from the server, or the SDK's own timeout,
    which it reports as CANCELLED "Timeout expired"."""
    return error.status is RPCStatusCode.DEADLINE_EXCEEDED or (
        error.status is RPCStatusCode.CANCELLED and "Timeout expired" in error.message
    )


def _cut_off(error: BaseException) -> str | None:
    """What broke, when an Update's call ended because Temporal stopped answering (the
    server stopped or was killed mid-call); None when the call merely waited out its
    time for a worker. A broken connection comes as UNAVAILABLE once the SDK's own
    retries give up, or as ``WorkflowUpdateRPCTimeoutOrCancelledError`` caused by
    CANCELLED without the SDK's "Timeout expired"."""
    if isinstance(error, RPCError):
        return error.message if error.status is RPCStatusCode.UNAVAILABLE else None
    if not isinstance(error, WorkflowUpdateRPCTimeoutOrCancelledError):
        return None
    cause = error.__cause__
    if not isinstance(cause, RPCError) or _timed_out(cause):
        return None
    return cause.message or cause.status.name


def _not_delivered(error: RPCError | WorkflowUpdateFailedError) -> bool:
    """An Update no worker processed: its workflow task failed, or Temporal rejected it
    unprocessed ("UnprocessedUpdate", after a restart mid-delivery). Nothing applied."""
    if isinstance(error, RPCError):
        return _task_failed(error) or _no_poller(error)
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == "UnprocessedUpdate"


def _no_poller(error: RPCError) -> bool:
    """Right after a restart of the server, before a worker polls again: the case is
    open and its worker on its way back."""
    return error.status is RPCStatusCode.FAILED_PRECONDITION and "no poller seen" in error.message


def _task_failed(error: RPCError) -> bool:
    """Temporal's answer when the workflow task that would carry an Update or a Query
    failed or is being retried: transient, not a closed case."""
    return error.status is RPCStatusCode.FAILED_PRECONDITION and (
        "Workflow Task in failed state" in error.message
        or "unexpected workflow task failure" in error.message
    )


class CaseDesk:
    """Start cases, act on them, read them — as the signed-in person the credentials
    prove; the worker checks them again and records who acted from the token alone."""

    def __init__(
        self,
        client: Client,
        *,
        credentials: CredentialSource | None = None,
        task_queue: str | None = None,
        proof_clock: ProofClock | None = None,
    ) -> None:
        settings = get_settings()
        self.client = _with_credentials_interceptor(client)
        self.task_queue = task_queue or settings.task_queue
        self._credentials = credentials
        #: Dates action proofs (tests on the time-skipping server); None: this clock.
        self.proof_clock = proof_clock

    def credentials_for(self, actor: Actor | None = None) -> Credentials:
        source = self._credentials
        if source is None:
            raise NotSignedIn("未登录：请先 onechain login（not signed in）")
        return source if isinstance(source, Credentials) else source(actor)

    # ---------------------------------------------------------------- start
    def prepare(self, request: CaseRequest) -> StartCase:
        """See :func:`prepare_start` (kept on the desk for callers that have one)."""
        return prepare_start(request)

    async def start_case(self, request: CaseRequest) -> WorkflowHandle[Any, CaseOutcome]:
        """Start a case accepted by the signed-in person."""
        start = self.prepare(request)
        credentials = self.credentials_for(request.accepted_by)
        try:
            admission.check_acceptor(credentials.actor)
        except admission.InvalidApplication as invalid:
            raise InvalidApplication(str(invalid)) from None
        try:
            with acting_as(credentials, self.proof_clock):
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
            conflict = await self.start_conflict(start)
            if conflict is not None:
                raise CaseConflict(f"case {start.case_no}: {conflict}") from None
            raise CaseAlreadyExists(f"case {start.case_no} already exists") from None

    async def start_conflict(self, start: StartCase) -> str | None:
        """Why the case number ``start`` names is held by something other than this
        application as onechain started it; None when it is the same case (a re-run
        of the same import, a retried start).

        The applicants' ids are compared in memory only: no id is logged or said in the
        answer."""
        handle = self.handle(start.case_no)
        try:
            description = await handle.describe()
        except RPCError:
            return None  # deleted since: nothing to compare (a retry will tell)
        status = description.status
        if status is WorkflowExecutionStatus.FAILED:
            refusal = await self.start_refusal(start.case_no)
            return f"held by a start no worker admitted (未受理的启动): {refusal or 'failed'}"
        if status in (
            WorkflowExecutionStatus.TERMINATED,
            WorkflowExecutionStatus.CANCELED,
            WorkflowExecutionStatus.TIMED_OUT,
        ):
            return f"held by a case {status.name.lower()} outside onechain (被外部改动)"
        first = await self.client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=self.client.namespace,
                execution=WorkflowExecution(
                    workflow_id=workflow_id_for(start.case_no), run_id=description.run_id or ""
                ),
                maximum_page_size=1,
            )
        )
        if not first.history.events:
            return None
        started = first.history.events[0].workflow_execution_started_event_attributes
        # Sealed by the codec like every header: that the start carried one is enough here.
        if TOKEN_HEADER not in started.header.fields:
            return "held by a start made outside onechain, with no sign-in (绕过受理启动)"
        try:
            [held] = await self.client.data_converter.decode(
                list(started.input.payloads), [StartCase]
            )
        except Exception:
            return "held by a start whose application cannot be read (绕过受理启动)"
        if not _same_id(held.applicant.id_number, start.applicant.id_number):
            return "held by another applicant's case (案件编号已被其他申请人使用)"
        return None

    # --------------------------------------------------------------- actions
    def handle(self, case_no: str) -> WorkflowHandle[Any, CaseOutcome]:
        return self.client.get_workflow_handle(workflow_id_for(case_no), result_type=CaseOutcome)

    async def act(self, case_no: str, action: Action) -> ActionResult:
        """Send one action as the signed-in person. The request id makes a retried call
        apply only once. The actor in ``action`` is replaced by the one the credentials
        prove (the worker does the same from the verified token)."""
        update = spec_for(action).update
        credentials = self.credentials_for(action.actor)
        request_id = action.request_id or uuid.uuid4().hex
        action = action.model_copy(update={"request_id": request_id, "actor": credentials.actor})
        try:
            for pause in (*TASK_FAILURE_RETRY_PAUSES, None):
                try:
                    with acting_as(credentials, self.proof_clock):
                        return await self.handle(case_no).execute_update(
                            update,
                            action,
                            id=request_id,
                            result_type=ActionResult,
                            rpc_timeout=ACTION_TIMEOUT,
                        )
                except (RPCError, WorkflowUpdateFailedError) as error:
                    if pause is None or not _not_delivered(error):
                        raise
                    # The workflow task carrying the Update failed (a worker killed
                    # mid-task, or a task too slow on a loaded machine), Temporal
                    # rejected it unprocessed (a server restarted mid-delivery), or no
                    # worker polls yet after a restart: nothing was applied; the same
                    # request id sent again applies at most once.
                    await asyncio.sleep(pause)
            raise AssertionError("unreachable: the last attempt returns or raises")
        except WorkflowUpdateFailedError as failed:
            if _not_delivered(failed):
                raise WorkerUnavailable(
                    f"case {case_no}: no worker took the action (Temporal: {failed.cause}); "
                    "it was not applied: send it again"
                ) from None
            code, params = refusal_of(failed.cause) or (None, None)
            raise ActionRejected(refusal_text(failed.cause), code=code, params=params) from None
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
            cut_off = _cut_off(error)
            if cut_off is not None:
                raise WorkerUnavailable(
                    f"case {case_no}: Temporal stopped answering before the action was "
                    f"answered ({cut_off}); it may have been applied: once Temporal is back, "
                    "check with `onechain cases show` before repeating it"
                ) from None
            if isinstance(error, WorkflowUpdateRPCTimeoutOrCancelledError) or _timed_out(error):
                raise WorkerUnavailable(
                    f"case {case_no}: no worker answered within {ACTION_TIMEOUT.seconds}s "
                    f"(is `onechain worker` or `onechain up` running on task queue "
                    f"{await self._task_queue_of(case_no)}?); the action may still be applied "
                    "when one starts: check with `onechain cases show` before repeating it"
                ) from None
            if error.status is RPCStatusCode.NOT_FOUND and await self._exists(case_no):
                raise ActionRejected.refused(Refusal.CASE_CLOSED, case_no=case_no) from None
            raise self._rpc_error(case_no, error) from None

    async def _task_queue_of(self, case_no: str) -> str:
        try:
            return (await self.handle(case_no).describe()).task_queue
        except RPCError:
            return self.task_queue

    async def _exists(self, case_no: str) -> bool:
        try:
            await self.handle(case_no).describe()
        except RPCError:
            return False
        return True

    async def state(self, case_no: str, *, events: bool = True) -> CaseState:
        """The case's authoritative state (a Query; needs a running worker).

        ``events=False``: without the event log (``events`` is then empty), for a
        caller that reads only tasks, materials, clocks or the outcome; the log is most
        of what the Query would send.

        Right after a start the worker is still admitting the case (checking the
        acceptor, pinning limits and calendar); this waits for that, briefly, and says
        so if the worker refused the start.
        """
        query = CaseWorkflow.state if events else CaseWorkflow.state_brief
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTING_WAIT.total_seconds()
        while True:
            try:
                return await self._ask(case_no, query)
            except WorkflowQueryFailedError as failed:
                if STILL_STARTING not in str(failed):
                    raise CaseError(f"case {case_no}: {failed}") from None
            except RPCError as error:
                if _timed_out(error):
                    raise WorkerUnavailable(
                        f"case {case_no}: no worker answered within {QUERY_TIMEOUT.seconds}s "
                        "(is `onechain worker` or `onechain up` running?)"
                    ) from None
                raise self._rpc_error(case_no, error) from None
            refusal = await self.start_refusal(case_no)
            if refusal is not None:
                raise CaseError(f"case {case_no}: {refusal}")
            if loop.time() > deadline:
                raise WorkerUnavailable(
                    f"case {case_no} is still starting: no worker has admitted it yet"
                )
            await asyncio.sleep(0.05)

    async def derived_records(self, case_no: str) -> DerivedRecords:
        """What the case wrote outside its own rows (licences, publication, ...)."""
        return await self._answer(case_no, CaseWorkflow.derived_records)

    async def reconciliation(self, case_no: str) -> Reconciliation:
        """The case's read-model rows and derived records in one Query (``reconcile``)."""
        return await self._answer(case_no, CaseWorkflow.reconciliation)

    async def listed_reconciliation(self, execution: CaseExecution) -> Reconciliation | None:
        """The case's rows and derived records from its memo as the listing showed it
        (no worker involved); None for a case that keeps no rows in its memo.

        The listing can lag a change by a moment: confirm a difference with
        ``described_reconciliation`` before acting on it.
        """
        if not holds_projection(execution.memo):
            return None
        return await reconciliation_from_memo(self.client.data_converter, execution.memo)

    async def described_reconciliation(self, case_no: str) -> Reconciliation | None:
        """The case's rows and derived records from its memo as committed now
        (``DescribeWorkflowExecution``); None for a case that keeps no rows in its memo."""
        try:
            description = await self.handle(case_no).describe(rpc_timeout=QUERY_TIMEOUT)
        except RPCError as error:
            raise self._rpc_error(case_no, error) from None
        memo = description.raw_info.memo.fields
        if not holds_projection(memo):
            return None
        return await reconciliation_from_memo(self.client.data_converter, memo)

    async def _answer(self, case_no: str, query: Any) -> Any:
        """``_ask``, with a failure said as a ``CaseError`` naming the case."""
        try:
            return await self._ask(case_no, query)
        except WorkflowQueryFailedError as failed:
            raise CaseError(f"case {case_no}: {failed}") from None
        except RPCError as error:
            raise self._rpc_error(case_no, error) from None

    async def _ask(self, case_no: str, query: Any) -> Any:
        """``query`` within ``QUERY_TIMEOUT``, asked again every ``QUERY_TRY_WAIT``.

        A Query can go unanswered and then be answered at once when asked again:
        - now and then Temporal holds a Query to a case that has just concluded until
          its timeout (about half the bench runs showed one 30 s Query);
        - a Query to a case whose worker was just killed goes to that worker's sticky
          queue, and waits there, until the server has seen no poll from it for 10 s;
          asked after that, it goes to the case's task queue and another worker
          answers (seen in the scale-out test).
        A Query has no effect, so asking again is safe."""
        handle = self.handle(case_no)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + QUERY_TIMEOUT.total_seconds()
        pauses = iter(TASK_FAILURE_RETRY_PAUSES)
        while True:
            wait = min(QUERY_TRY_WAIT.total_seconds(), deadline - loop.time())
            try:
                return await handle.query(query, rpc_timeout=timedelta(seconds=max(wait, 0.1)))
            except RPCError as error:
                if _timed_out(error) and deadline - loop.time() > 0.5:
                    continue
                pause = next(pauses, None)
                if pause is None or not _no_poller(error):
                    raise
                await asyncio.sleep(pause)  # the server restarted; its worker is on its way

    async def start_refusal(self, case_no: str) -> str | None:
        """Why the worker refused to start this case, or None if it did not."""
        handle = self.handle(case_no)
        try:
            description = await handle.describe()
        except RPCError:
            return None
        if description.status is not WorkflowExecutionStatus.FAILED:
            return None
        try:
            await handle.result()
        except WorkflowFailureError as failure:
            cause = failure.cause
            return cause.message if isinstance(cause, ApplicationError) else str(cause)
        return None

    async def outcome(self, case_no: str, *, timeout: float = 60.0) -> CaseOutcome:
        """Wait until the case is concluded (approved, not approved, withdrawn).

        The workflow itself runs on after the conclusion (publication, verification,
        the rating window), so this watches the case's state, not the workflow's end.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = await self.state(case_no, events=False)
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
        if _timed_out(error):
            return WorkerUnavailable(
                f"case {case_no}: no worker answered within {QUERY_TIMEOUT.seconds}s "
                "(is `onechain worker` or `onechain up` running?)"
            )
        if error.status is RPCStatusCode.NOT_FOUND:
            return CaseNotFound.refused(Refusal.CASE_NOT_FOUND, case_no=case_no)
        if error.status is RPCStatusCode.FAILED_PRECONDITION:
            if _task_failed(error):
                return WorkerUnavailable(
                    f"case {case_no} is not answering right now (its workflow task failed and "
                    "is being retried); try again shortly"
                )
            if _no_poller(error):
                return WorkerUnavailable(
                    f"case {case_no}: no worker is polling its task queue right now (is "
                    "`onechain worker` or `onechain up` running?); the case itself is open"
                )
            return ActionRejected(
                f"case {case_no} is closed: {error.message}",
                code=Refusal.CASE_CLOSED,
                params={"case_no": case_no},
            )
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
                    run_id=execution.run_id or "",
                    runs=known.runs + 1 if known is not None else 1,
                    memo=dict(execution.raw_info.memo.fields),
                )
            else:
                known.runs += 1
        return [latest[k] for k in sorted(latest)]

    async def broadcast_calendar_reload(
        self,
        refused: Callable[[str, str], None] | None = None,
        *,
        skip: frozenset[str] = frozenset(),
        sent: Callable[[str], None] | None = None,
        progress: Callable[[int, int], None] | None = None,
        at_once: int = BROADCAST_AT_ONCE,
        revision: str | None = None,
    ) -> int:
        """Tell every running case to reload the schedules from the calendar store and
        recompute its deadlines (each case checks the sender is a signed-in
        administrator). A signal, not a query: it reaches cases even while no worker runs.

        ``at_once`` signals are in flight together (one at a time took 5.5 min for 2,000
        cases); ``skip`` are cases already told (a resumed load), ``sent(case_no)`` hears
        of each one told (the caller's journal), ``progress(done, total)`` after each.
        ``revision``: the store's calendar revision, so a case already on it ignores the
        signal without any work.

        A case that refuses the signal is skipped, not the end of the broadcast: one that
        ended since the list was read (NOT_FOUND), or one that took as many signals as
        the server allows a case (INVALID_ARGUMENT, ``runtime.devserver``'s cap: someone
        flooded it; ``refused(case_no, why)`` hears of those, which keep their old
        calendar). Returns how many cases took the signal."""
        credentials = self.credentials_for(None)
        count = 0
        gate = asyncio.Semaphore(at_once)
        with acting_as(credentials, self.proof_clock):
            wanted = [c for c in await self.running_case_numbers() if c not in skip]
            done = 0

            async def one(case_no: str) -> None:
                nonlocal count, done
                async with gate:
                    try:
                        await self.handle(case_no).signal(
                            CaseWorkflow.reload_calendar, CalendarReload(revision=revision)
                        )
                    except RPCError as error:
                        if error.status not in _SIGNAL_REFUSED:
                            raise
                        if refused is not None and error.status is RPCStatusCode.INVALID_ARGUMENT:
                            refused(case_no, error.message)
                    else:
                        count += 1
                        if sent is not None:
                            sent(case_no)
                    done += 1
                    if progress is not None:
                        progress(done, len(wanted))

            await asyncio.gather(*(one(c) for c in wanted))
        return count


#: A case that will not take a signal: ended since listed, or at the server's cap.
_SIGNAL_REFUSED = (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT)


async def broadcast_calendar_reload(
    credentials: Credentials,
    refused: Callable[[str, str], None] | None = None,
    **options: Any,
) -> int:
    """Used by ``onechain calendar load``: connect with the standard settings and signal
    (``options``: see :meth:`CaseDesk.broadcast_calendar_reload`)."""
    from runtime.connect import connect

    desk = CaseDesk(await connect(), credentials=credentials)
    return await desk.broadcast_calendar_reload(refused, **options)
