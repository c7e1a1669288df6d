"""Send, answer, close and escalate 督办 items as the signed-in person.

The item's workflow checks who may take which step (``workflows.supervision_item``);
this desk only carries the credentials and turns Temporal's answers into the errors
the CLI and the console show. A step's request id makes a retried call apply once.
"""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from client.facade import (
    ACTION_TIMEOUT,
    ActionRejected,
    CaseError,
    NotSignedIn,
    WorkerUnavailable,
    _with_credentials_interceptor,
    refusal_text,
)
from domain.supervision_items import (
    CloseItem,
    EscalateItem,
    ItemAction,
    ItemState,
    RespondItem,
    SendItem,
    StepRecord,
    supervision_workflow_id,
)
from runtime.settings import get_settings
from trust.credentials import Credentials, ProofClock, acting_as
from workflows.supervision_item import UPDATE_OF, SupervisionItemWorkflow


class ItemNotSent(CaseError):
    """No 督办 item runs for that finding (never sent, or it ended)."""


class SupervisionDesk:
    def __init__(
        self,
        client: Client,
        credentials: Credentials | None,
        *,
        task_queue: str | None = None,
        proof_clock: ProofClock | None = None,
    ) -> None:
        self.client = _with_credentials_interceptor(client)
        self._credentials = credentials
        self.task_queue = task_queue or get_settings().task_queue
        self.proof_clock = proof_clock

    def _signed_in(self) -> Credentials:
        if self._credentials is None:
            raise NotSignedIn("未登录：请先 onechain login（not signed in）")
        return self._credentials

    def handle(self, finding_id: int) -> WorkflowHandle[Any, str]:
        return self.client.get_workflow_handle(supervision_workflow_id(finding_id), result_type=str)

    async def send(self, finding_id: int, reason: str, respond_days: int = 5) -> StepRecord:
        """Open the finding's item (once) and send it to the department."""
        credentials = self._signed_in()
        try:
            with acting_as(credentials, self.proof_clock):
                await self.client.start_workflow(
                    SupervisionItemWorkflow.run,
                    finding_id,
                    id=supervision_workflow_id(finding_id),
                    task_queue=self.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
        except WorkflowAlreadyStartedError:
            raise ActionRejected(f"督办事项 #{finding_id} 已办结（already closed）") from None
        action = SendItem(actor=credentials.actor, reason=reason, respond_days=respond_days)
        return await self._step(finding_id, action)

    async def respond(self, finding_id: int, reason: str) -> StepRecord:
        return await self._step(finding_id, RespondItem(actor=self._actor(), reason=reason))

    async def close(self, finding_id: int, reason: str) -> StepRecord:
        return await self._step(finding_id, CloseItem(actor=self._actor(), reason=reason))

    async def escalate(self, finding_id: int, reason: str) -> StepRecord:
        return await self._step(finding_id, EscalateItem(actor=self._actor(), reason=reason))

    def _actor(self) -> Any:
        return self._signed_in().actor

    async def state(self, finding_id: int) -> ItemState | None:
        """The item as its workflow holds it; None when it was never sent."""
        try:
            return await self.handle(finding_id).query(
                SupervisionItemWorkflow.state, result_type=ItemState
            )
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return None
            raise WorkerUnavailable(f"督办事项 #{finding_id}: {error.message}") from None
        except Exception as error:  # the query refused: started but not sent
            if "NotSent" in type(error).__name__ or "尚未交办" in str(error):
                return None
            raise

    async def _step(self, finding_id: int, action: ItemAction) -> StepRecord:
        credentials = self._signed_in()
        request_id = action.request_id or uuid.uuid4().hex
        action = action.model_copy(update={"request_id": request_id, "actor": credentials.actor})
        try:
            with acting_as(credentials, self.proof_clock):
                return await self.handle(finding_id).execute_update(
                    UPDATE_OF[type(action)],
                    action,
                    id=request_id,
                    result_type=StepRecord,
                    rpc_timeout=ACTION_TIMEOUT,
                )
        except WorkflowUpdateFailedError as failed:
            raise ActionRejected(refusal_text(failed.cause)) from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise WorkerUnavailable(
                f"督办事项 #{finding_id}: no worker answered within {ACTION_TIMEOUT.seconds}s "
                "(is `onechain worker` or `onechain up` running?)"
            ) from None
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise ItemNotSent(
                    f"督办事项 #{finding_id} 未在办理（not sent, or already closed）"
                ) from None
            raise WorkerUnavailable(f"督办事项 #{finding_id}: {error.message}") from None
