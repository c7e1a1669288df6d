"""The client side of proven identity: every start, Update and signal carries the
current call's credentials as Temporal headers (see :mod:`trust.credentials`) and a
proof signed with the session key for exactly that call (:mod:`trust.action_proof`)."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import (
    Interceptor,
    OutboundInterceptor,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowHandle,
    WorkflowUpdateHandle,
)

from trust.action_proof import signal_binding, start_binding, update_binding
from trust.credentials import current_credentials, with_credential_headers


class CredentialsInterceptor(Interceptor):
    """Add to a client (``Client.connect(..., interceptors=[CredentialsInterceptor()])``)."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _SendCredentials(next)


class _SendCredentials(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        credentials = current_credentials()
        binding = start_binding(input.id, input.workflow, input.args) if credentials else None
        input.headers = with_credential_headers(input.headers, credentials, binding)
        return await super().start_workflow(input)

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        credentials = current_credentials()
        binding = None
        if credentials is not None:
            # The proof names the Update id, so it is fixed here, not by the SDK later.
            input.update_id = input.update_id or str(uuid.uuid4())
            binding = update_binding(input.id, input.update, input.update_id, input.args)
        input.headers = with_credential_headers(input.headers, credentials, binding)
        return await super().start_workflow_update(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        credentials = current_credentials()
        binding = signal_binding(input.id, input.signal, input.args) if credentials else None
        input.headers = with_credential_headers(input.headers, credentials, binding)
        await super().signal_workflow(input)
