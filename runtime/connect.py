"""Connecting to Temporal: the embedded dev server by default, anything else via
the standard ``TEMPORAL_*`` variables or an envconfig profile (TLS, API key, namespace).

Every client (CLI, console, import, simulator, workers — which get it from the client
they are built with — and the test harness) uses :func:`data_converter`, so payloads
are sealed the same way everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, ClientConfig, Plugin
from temporalio.common import HeaderCodecBehavior
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig as EnvClientConfig
from temporalio.runtime import Runtime
from temporalio.service import ConnectConfig, ServiceClient

from runtime.codec import SealingCodec
from runtime.keys import keys_dir as configured_keys_dir
from runtime.keys import load_payload_keys
from runtime.settings import get_settings

DEFAULT_ADDRESS = "localhost:7233"


def data_converter(keys_dir: Path | None = None) -> DataConverter:
    """The pydantic converter with the payload keys' sealing codec.

    Failure messages stay in clear (``DefaultFailureConverterWithEncodedAttributes``
    would seal them, but a Query's failure reaches the client as a bare message the
    client cannot decode, so refusals would read "Encoded failure"): error messages
    must never quote personal data. Raises ``KeystoreError`` naming ``onechain keys
    init`` when no payload key is configured.
    """
    directory = keys_dir if keys_dir is not None else configured_keys_dir(get_settings())
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=SealingCodec(load_payload_keys(directory))
    )


class SealedHeaders(Plugin):
    """Seal Temporal headers with the payload codec too.

    Session tokens travel in headers, and the headers of an Update or a start are kept
    in the case's history; in clear, anyone who can read a history (the Web UI, the
    SQLite file) could copy a token and act as its owner until it expires. Every
    onechain client carries this plugin, and workers get it from the client they are
    built with, so both sides seal and open headers alike; a header that is not sealed
    (a bare client) passes through the codec unchanged.
    """

    def configure_client(self, config: ClientConfig) -> ClientConfig:
        config["header_codec_behavior"] = HeaderCodecBehavior.CODEC
        return config

    async def connect_service_client(
        self, config: ConnectConfig, next: Callable[[ConnectConfig], Awaitable[ServiceClient]]
    ) -> ServiceClient:
        return await next(config)


def client_plugins() -> list[Plugin]:
    """The plugins every onechain client is built with (the test harness too)."""
    return [SealedHeaders()]


def connect_options() -> dict[str, Any]:
    """Connection keyword arguments from envconfig, defaulting to the local dev server."""
    options: dict[str, Any] = dict(EnvClientConfig.load_client_connect_config())
    options.setdefault("target_host", DEFAULT_ADDRESS)
    if not options.get("target_host"):
        options["target_host"] = DEFAULT_ADDRESS
    return options


async def connect(runtime: Runtime | None = None) -> Client:
    """A client with the sealing data converter every onechain payload needs;
    ``runtime``: e.g. one serving metrics (``runtime.metrics``) for a worker."""
    converter = data_converter()
    options = connect_options()
    target = options.pop("target_host")
    if runtime is not None:
        options["runtime"] = runtime
    return await Client.connect(
        target, data_converter=converter, plugins=client_plugins(), **options
    )
