"""``onechain signin-service``: the sign-in service, on the one machine that holds the
private signing key (``up`` runs one of its own on the embedded default)."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from cli.output import EXIT_UNREACHABLE, EXIT_USAGE, fail, guarded, note

if TYPE_CHECKING:
    from trust.signin_service import RunningService


def default_host_port() -> tuple[str, int]:
    """Where ``$ONECHAIN_SIGNIN_URL`` says the service is (so clients find it)."""
    from runtime.settings import get_settings

    parts = urlsplit(get_settings().signin_url)
    return parts.hostname or "127.0.0.1", parts.port or 7240


def start_signin_service(host: str, port: int) -> RunningService:
    """Start the sign-in service on a thread of this process; exits the command with a
    clear message when the key or the port is not there."""
    from trust.accounts import AccountError
    from trust.authority import authority_from_settings
    from trust.signin_service import start_in_thread

    try:
        authority = authority_from_settings()
    except (AccountError, OSError, ValueError) as error:
        fail(f"sign-in service: {error}", EXIT_USAGE)
    try:
        return start_in_thread(lambda: authority, host, port)
    except OSError as error:
        fail(
            f"sign-in service: cannot listen on {host}:{port}: {error.strerror or error} "
            "(another `onechain up` or sign-in service? set ONECHAIN_SIGNIN_URL)",
            EXIT_UNREACHABLE,
        )


class _AlreadyRunning:
    """A sign-in service someone else runs: nothing to stop."""

    def __init__(self, url: str) -> None:
        self.url = url

    def stop(self) -> None:
        return None


def running_service_for_us(host: str, port: int) -> _AlreadyRunning | None:
    """The sign-in service already answering at ``host:port`` if it signs with this
    deployment's active key; None when nothing (or another deployment's) answers."""
    import json
    import urllib.request

    from runtime.keys import keys_dir, load_signing_keys
    from runtime.settings import get_settings

    url = f"http://{host}:{port}"
    try:
        with urllib.request.urlopen(f"{url}/v1/health", timeout=2) as response:
            kid = json.loads(response.read()).get("kid")
        ours = load_signing_keys(keys_dir(get_settings())).active_kid
    except Exception:
        return None
    return _AlreadyRunning(url) if kid == ours else None


@guarded
def signin_service(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: $ONECHAIN_SIGNIN_URL's).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default: $ONECHAIN_SIGNIN_URL's, 7240).")
    ] = None,
) -> None:
    """The sign-in service: the only place that holds the private signing key. `login`,
    the console and batch jobs sign in through it (POST /v1/sessions); put TLS in front of
    it when it is reached over a network."""
    from cli.db import require_read_model
    from cli.run import configure_service_logging

    configure_service_logging()
    require_read_model(say=note)  # a missing or empty read model: exit 3, never made here
    default_host, default_port = default_host_port()
    service = start_signin_service(host or default_host, port or default_port)
    note(f"sign-in service on {service.url} (Ctrl-C stops)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
        note("sign-in service stopped")
