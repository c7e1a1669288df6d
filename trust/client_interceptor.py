"""The client side of proven identity: every start, Update and signal carries the
current call's credentials as Temporal headers (see :mod:`trust.credentials`)."""

from __future__ import annotations

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

from trust.credentials import current_credentials, with_credential_headers


class CredentialsInterceptor(Interceptor):
    """Add to a client (``Client.connect(..., interceptors=[CredentialsInterceptor()])``)."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _SendCredentials(next)


class _SendCredentials(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        input.headers = with_credential_headers(input.headers, current_credentials())
        return await super().start_workflow(input)

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        input.headers = with_credential_headers(input.headers, current_credentials())
        return await super().start_workflow_update(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        input.headers = with_credential_headers(input.headers, current_credentials())
        await super().signal_workflow(input)
