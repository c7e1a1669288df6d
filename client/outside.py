"""Finding cases changed around onechain: what Temporal holds that onechain never does.

Why. Anyone who can reach the Temporal frontend (the dev server has no credentials)
can reset a case (undoing a department's approval), terminate, cancel or delete it, or
start ``case-<no>`` directly, with the stock ``temporal`` CLI. None of that passes
through a case's Updates, so the read model would keep saying "running". This module
asks Temporal, cheaply, for the traces those operations leave:

- a closed status onechain never produces (terminated, cancelled, timed out, failed):
  one visibility query lists them all, since a healthy deployment has almost none;
- a reset: the current run's ``last_reset_time`` (Describe) and, in its history, the
  workflow task failed with cause ``RESET_WORKFLOW`` (where the history was cut);
- a deleted case: a count of the read model's open cases in visibility, then Describe
  (NotFound) for the few a count says are missing;
- a start onechain never admitted: a failed run whose failure is the worker's
  ``StartRefused`` and which never reached the read model.

The caller (``onechain reconcile``, ``onechain doctor``, the worker's sweep) records what
it finds with ``readmodel.outside``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryReverseRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.actions import workflow_id_for

#: Case workflows in a closed status onechain never ends a case with.
ABNORMAL_QUERY = (
    "WorkflowType = 'CaseWorkflow' AND ExecutionStatus != 'Running' "
    "AND ExecutionStatus != 'Completed'"
)
#: The workflow's failure when the worker refused to admit a start (``CaseWorkflow._admit``).
START_REFUSED = "StartRefused"
#: Case numbers per visibility count (the query names each workflow id).
COUNT_CHUNK = 200
#: Describes at once when a count says a chunk lacks cases.
DESCRIBE_AT_ONCE = 16
#: History events read per page when looking for where a reset cut the history.
HISTORY_PAGE = 200


class Kind(StrEnum):
    """What was done to a case around onechain."""

    RESET = "reset"
    TERMINATED = "terminated"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    DELETED = "deleted"
    STARTED_OUTSIDE = "started_outside"


#: How each kind reads in lists and the audit trail.
LABELS: dict[Kind, str] = {
    Kind.RESET: "被重置（reset）",
    Kind.TERMINATED: "被终止（terminated）",
    Kind.CANCELED: "被取消（cancelled）",
    Kind.TIMED_OUT: "已超时（timed out）",
    Kind.FAILED: "异常失败（failed）",
    Kind.DELETED: "被删除（deleted）",
    Kind.STARTED_OUTSIDE: "绕过受理的启动（started outside onechain: no worker admitted it）",
}

_CLOSED_KINDS = {
    WorkflowExecutionStatus.TERMINATED: Kind.TERMINATED,
    WorkflowExecutionStatus.CANCELED: Kind.CANCELED,
    WorkflowExecutionStatus.TIMED_OUT: Kind.TIMED_OUT,
    WorkflowExecutionStatus.FAILED: Kind.FAILED,
}


@dataclass(frozen=True)
class OutsideChange:
    """One change made to a case around onechain, as Temporal recorded it."""

    case_no: str
    kind: Kind
    run_id: str
    at: datetime
    detail: str
    #: The identity Temporal recorded for the caller, when it recorded one.
    identity: str = ""

    @property
    def key(self) -> str:
        """Once per change: a run is reset, terminated or deleted once."""
        return f"{self.kind.value}:{self.run_id}"

    @property
    def summary(self) -> str:
        return f"{LABELS[self.kind]}：{self.detail}"


def _when(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _last_events(client: Client, case_no: str, run_id: str, count: int) -> list[HistoryEvent]:
    response = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id_for(case_no), run_id=run_id),
            maximum_page_size=count,
        )
    )
    return list(response.history.events)


async def _reset_event(client: Client, case_no: str, run_id: str) -> HistoryEvent | None:
    """The last workflow task failed by a reset in this run's history (where it was cut)."""
    found: HistoryEvent | None = None
    token = b""
    while True:
        response = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id_for(case_no), run_id=run_id),
                maximum_page_size=HISTORY_PAGE,
                next_page_token=token,
            )
        )
        for event in response.history.events:
            if (
                event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
                and event.workflow_task_failed_event_attributes.cause
                == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
            ):
                found = event
        token = response.next_page_token
        if not token:
            return found


def _reset_change(
    case_no: str, run_id: str, event: HistoryEvent | None, when: datetime
) -> OutsideChange:
    if event is None:
        return OutsideChange(
            case_no, Kind.RESET, run_id, when, "history reset (no reset point found)"
        )
    attributes = event.workflow_task_failed_event_attributes
    reason = _short(attributes.failure.message) or "no reason given"
    detail = (
        f"history cut after event {event.event_id - 1} (from run {attributes.base_run_id[:8]}…); "
        f"reason: {reason}"
    )
    return OutsideChange(case_no, Kind.RESET, run_id, _when(event), detail, attributes.identity)


def _closing_change(
    case_no: str, run_id: str, kind: Kind, events: list[HistoryEvent], *, admitted: bool
) -> OutsideChange:
    """What the run's last events say about how it closed."""
    last = events[0] if events else None
    when = _when(last) if last is not None else datetime.now(UTC)
    if last is None:
        return OutsideChange(case_no, kind, run_id, when, kind.value)
    if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        attributes = last.workflow_execution_terminated_event_attributes
        reason = _short(attributes.reason) or "no reason given"
        return OutsideChange(
            case_no,
            kind,
            run_id,
            when,
            f"reason: {reason}; by {attributes.identity or '?'}",
            attributes.identity,
        )
    if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        requested = next(
            (
                e.workflow_execution_cancel_requested_event_attributes
                for e in events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
            ),
            None,
        )
        identity = requested.identity if requested is not None else ""
        cause = _short(requested.cause) if requested is not None else ""
        return OutsideChange(
            case_no,
            kind,
            run_id,
            when,
            f"cancel requested by {identity or '?'}" + (f": {cause}" if cause else ""),
            identity,
        )
    if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        failure = last.workflow_execution_failed_event_attributes.failure
        if failure.application_failure_info.type == START_REFUSED and not admitted:
            return OutsideChange(
                case_no,
                Kind.STARTED_OUTSIDE,
                run_id,
                when,
                f"a start no worker admitted: {_short(failure.message)}",
            )
        return OutsideChange(case_no, kind, run_id, when, f"failed: {_short(failure.message)}")
    return OutsideChange(case_no, kind, run_id, when, EventType.Name(last.event_type))


async def inspect_case(client: Client, case_no: str, *, admitted: bool) -> list[OutsideChange]:
    """What was done around onechain to the current run of ``case_no``; ``admitted``:
    the read model holds the case (a worker admitted it). A case Temporal does not
    know gives nothing here (see ``missing_cases``)."""
    handle = client.get_workflow_handle(workflow_id_for(case_no))
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return []
        raise
    run_id = description.run_id or ""
    changes: list[OutsideChange] = []
    extended = description.raw_description.workflow_extended_info
    if extended.HasField("last_reset_time"):
        event = await _reset_event(client, case_no, run_id)
        when = extended.last_reset_time.ToDatetime(tzinfo=UTC)
        changes.append(_reset_change(case_no, run_id, event, when))
    kind = _CLOSED_KINDS.get(description.status) if description.status else None
    if kind is not None:
        events = await _last_events(client, case_no, run_id, 20)
        changes.append(_closing_change(case_no, run_id, kind, events, admitted=admitted))
    return changes


async def abnormal_cases(
    client: Client, *, task_queue: str | None = None, closed_since: datetime | None = None
) -> set[str]:
    """Case numbers with a run in a closed status onechain never produces (a reset
    terminates the run it replaces, so a reset running case is among them)."""
    query = ABNORMAL_QUERY
    if task_queue is not None:
        query += f" AND TaskQueue = '{task_queue}'"
    if closed_since is not None:
        query += f" AND CloseTime > '{closed_since.astimezone(UTC).isoformat()}'"
    return {execution.id.removeprefix("case-") async for execution in client.list_workflows(query)}


async def inspect_cases(
    client: Client, case_nos: Iterable[str], admitted: set[str]
) -> list[OutsideChange]:
    """``inspect_case`` for each, a few at a time."""
    gate = asyncio.Semaphore(DESCRIBE_AT_ONCE)

    async def one(case_no: str) -> list[OutsideChange]:
        async with gate:
            return await inspect_case(client, case_no, admitted=case_no in admitted)

    found = await asyncio.gather(*(one(c) for c in sorted(set(case_nos))))
    return [change for changes in found for change in changes]


async def missing_cases(client: Client, case_nos: Iterable[str]) -> list[str]:
    """Which of ``case_nos`` Temporal does not know (deleted): one count per chunk,
    then a Describe of each case of a chunk the count says lacks some."""
    wanted = sorted(set(case_nos))
    gate = asyncio.Semaphore(DESCRIBE_AT_ONCE)

    async def gone(case_no: str) -> bool:
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id_for(case_no)).describe()
            except RPCError as error:
                if error.status is RPCStatusCode.NOT_FOUND:
                    return True
                raise
            return False

    missing: list[str] = []
    for first in range(0, len(wanted), COUNT_CHUNK):
        chunk = wanted[first : first + COUNT_CHUNK]
        ids = ", ".join(f"'{workflow_id_for(c)}'" for c in chunk)
        counted = await client.count_workflows(f"WorkflowId IN ({ids})")
        if counted.count >= len(chunk):
            continue
        answers = await asyncio.gather(*(gone(c) for c in chunk))
        missing += [c for c, g in zip(chunk, answers, strict=True) if g]
    return missing


def deleted_changes(case_nos: Iterable[str], now: datetime | None = None) -> list[OutsideChange]:
    """A deleted case has no run left to name: it is recorded once per case
    (``readmodel.outside`` marks its row, so it is not looked for again)."""
    now = now or datetime.now(UTC)
    return [
        OutsideChange(c, Kind.DELETED, "-", now, "Temporal no longer knows this case (NotFound)")
        for c in case_nos
    ]


async def retention(client: Client) -> timedelta:
    """How long the namespace keeps a closed case: a case concluded less than this ago
    must still be in Temporal, whatever happened after its conclusion."""
    response = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    ttl = response.config.workflow_execution_retention_ttl
    return timedelta(seconds=ttl.seconds) if ttl.seconds else timedelta(days=1)
