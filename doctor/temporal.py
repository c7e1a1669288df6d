"""Temporal reachable, and the configured namespace present."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from doctor.findings import Finding, fail, ok

CONNECT_TIMEOUT_SECONDS = 10.0


async def reachable(options: dict[str, Any]) -> tuple[Finding, Client | None]:
    """Connect as the workers would (TEMPORAL_* / envconfig); the client if it worked."""
    from temporalio.contrib.pydantic import pydantic_data_converter

    options = dict(options)
    target = options.pop("target_host")
    try:
        client = await asyncio.wait_for(
            Client.connect(target, data_converter=pydantic_data_converter, **options),
            CONNECT_TIMEOUT_SECONDS,
        )
    except TimeoutError:
        return fail(
            "temporal", f"no answer from {target} within {CONNECT_TIMEOUT_SECONDS:.0f} s"
        ), None
    except Exception as error:  # the SDK raises RuntimeError("Failed client connect: ...")
        reason = _reason(error)
        return fail(
            "temporal",
            f"cannot reach Temporal at {target} ({reason}); check TEMPORAL_ADDRESS / the "
            "envconfig profile, TLS settings, and that the server is running",
        ), None
    try:
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        version = f" (server {info.server_version})" if info.server_version else ""
    except RPCError:
        version = ""
    return ok("temporal", f"reachable at {target}{version}"), client


async def namespace(client: Client) -> Finding:
    name = client.namespace
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=name))
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return fail(
                "namespace",
                f"namespace {name!r} does not exist: create it (`temporal operator namespace "
                f"create {name}`) or set TEMPORAL_NAMESPACE to the right one",
            )
        return fail("namespace", f"cannot describe namespace {name!r}: {error.message}")
    return ok("namespace", f"{name!r} present")


def _reason(error: BaseException) -> str:
    """The readable part of the SDK's connect error (it nests Rust debug output)."""
    text = str(error).strip() or type(error).__name__
    if 'message: "' in text:
        return text.split('message: "', 1)[1].split('"', 1)[0]
    return text.splitlines()[0].removeprefix("Failed client connect: ")[:200]
