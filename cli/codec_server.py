"""``onechain codec-server``: let the Temporal Web UI show sealed payloads in clear."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import EXIT_UNREACHABLE, EXIT_USAGE, fail, note

DEFAULT_UI_ORIGIN = "http://127.0.0.1:8233"


def codec_server(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8888,
    ui_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="Web UI origin allowed by CORS (repeat for several; "
            f"default {DEFAULT_UI_ORIGIN} and http://localhost:8233)."
        ),
    ] = None,
    insecure_local: Annotated[
        bool,
        typer.Option(
            "--insecure-local",
            help="Decode for EVERY caller that reaches the port (no sign-in). Only on a "
            "loopback address, for a single-user machine.",
        ),
    ] = False,
) -> None:
    """Serve Temporal's codec-server protocol (POST /decode, /encode) with this
    machine's payload keys, so the Web UI shows case data instead of ciphertext.

    Only signed-in people whose role works with applicants' personal data (window clerk,
    coordinator, supervisor, administrator) may decode: each request carries their session
    token (`Authorization: Bearer ...`, e.g. from `onechain whoami --token`); 401/403
    otherwise. Point the UI at it with
    `onechain up --ui-codec-endpoint http://127.0.0.1:8888` (or the UI's codec setting).
    """
    from runtime.codec import SealingCodec
    from runtime.codec_server import (
        CodecServer,
        allow_local_insecure,
        is_loopback,
    )
    from runtime.keys import KeystoreError, keys_dir, load_payload_keys
    from runtime.settings import get_settings

    if insecure_local and not is_loopback(host):
        fail(f"--insecure-local only binds a loopback address, not {host!r}", EXIT_USAGE)
    try:
        codec = SealingCodec(load_payload_keys(keys_dir(get_settings())))
    except KeystoreError as error:
        fail(str(error), EXIT_USAGE)
    origins = ui_origin or [DEFAULT_UI_ORIGIN, "http://localhost:8233"]
    if insecure_local:
        authorize = allow_local_insecure
    else:
        from trust.codec_access import signed_in_reader
        from worker import identity_verifier

        try:
            authorize = signed_in_reader(identity_verifier())
        except KeystoreError as error:
            fail(str(error), EXIT_USAGE)
    from cli.run import configure_service_logging

    configure_service_logging()
    from readmodel.database import ready_engine
    from trust.codec_access import read_recorder

    record_read = read_recorder(ready_engine(get_settings().resolved_database_url))
    try:
        server = CodecServer((host, port), codec, authorize, origins, record_read=record_read)
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}", EXIT_UNREACHABLE)
    mode = (
        "INSECURE: anyone on this machine may decode"
        if insecure_local
        else "signed-in window clerks, coordinators, supervisors and administrators"
    )
    note(f"codec server on {server.url} ({mode}); UI origins: {', '.join(origins)}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        note("codec server stopped")
