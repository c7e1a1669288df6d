"""Where the Temporal SDK's own log lines go when a command owns stdout.

The SDK core (Rust) writes its warnings (``[TMPRL1104]``, connection retries) to
*stdout*, coloured, unless told otherwise: with the server killed mid-import, 68 such
lines came before the ``--json`` document. Forwarded to Python logging instead, they
reach stderr as plain lines (or whatever handler the caller configured), so stdout
carries only what the command prints.
"""

from __future__ import annotations

import contextlib
import logging
import sys

_configured = False


def sdk_logs_to_stderr() -> None:
    """Route SDK core logs to the ``temporalio`` Python logger, printed on stderr.

    Call before the first client connects (the runtime is created once per process).
    Later calls, and calls after a runtime already exists (its owner chose where its
    logs go, e.g. the console's log file), change nothing.
    """
    global _configured
    if _configured:
        return
    _configured = True
    import temporalio.runtime
    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    existing = getattr(getattr(temporalio.runtime, "_runtime_ref", None), "_default_runtime", None)
    if existing is not None:
        return

    logger = logging.getLogger("temporalio")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    runtime = Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            )
        )
    )
    with contextlib.suppress(RuntimeError):  # created meanwhile: leave it as it is
        Runtime.set_default(runtime, error_if_already_set=True)
