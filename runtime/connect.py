"""Connecting to Temporal: the embedded dev server by default, anything else via
the standard ``TEMPORAL_*`` variables or an envconfig profile (TLS, API key, namespace).

Every client (CLI, console, import, simulator, workers — which get it from the client
they are built with — and the test harness) uses :func:`data_converter`, so payloads
are sealed the same way everywhere.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig

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


def connect_options() -> dict[str, Any]:
    """Connection keyword arguments from envconfig, defaulting to the local dev server."""
    options: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    options.setdefault("target_host", DEFAULT_ADDRESS)
    if not options.get("target_host"):
        options["target_host"] = DEFAULT_ADDRESS
    return options


async def connect() -> Client:
    """A client with the sealing data converter every onechain payload needs."""
    converter = data_converter()
    options = connect_options()
    target = options.pop("target_host")
    return await Client.connect(target, data_converter=converter, **options)
