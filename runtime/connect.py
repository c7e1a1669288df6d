"""Connecting to Temporal: the embedded dev server by default, anything else via
the standard ``TEMPORAL_*`` variables or an envconfig profile (TLS, API key, namespace)."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime

DEFAULT_ADDRESS = "localhost:7233"


def connect_options() -> dict[str, Any]:
    """Connection keyword arguments from envconfig, defaulting to the local dev server."""
    options: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    options.setdefault("target_host", DEFAULT_ADDRESS)
    if not options.get("target_host"):
        options["target_host"] = DEFAULT_ADDRESS
    return options


async def connect(runtime: Runtime | None = None) -> Client:
    """A client with the pydantic data converter every onechain payload needs;
    ``runtime``: e.g. one serving metrics (``runtime.metrics``) for a worker."""
    options = connect_options()
    target = options.pop("target_host")
    if runtime is not None:
        options["runtime"] = runtime
    return await Client.connect(target, data_converter=pydantic_data_converter, **options)
