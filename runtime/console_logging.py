"""Where log lines go while the console owns the terminal: a file, never the screen.

A terminal UI draws every cell itself; one line written to stdout or stderr behind
its back (the SDK core's ``WARN temporalio_sdk_core … [TMPRL1104]`` under load, a
Python warning, ``gRPC call query_workflow`` retries with Temporal down) lands on top
of the title bar and shifts the screen until the next full redraw. So before the
first Temporal client exists, ``onechain tui`` and ``onechain up`` send:

* the SDK core's logs (Rust) to Python logging (``LogForwardingConfig``), and
* every Python log record (``temporalio``, the root logger, ``warnings``)

to one file: ``data/up.log`` for ``up``, ``data/console.log`` for ``tui``.

``runtime.sdk_logging.sdk_logs_to_stderr`` (for commands that print a document on
stdout) does nothing once this has run: the console's choice wins.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_handler: logging.Handler | None = None


def file_runtime(core_level: str = "WARN") -> Runtime:
    """A Temporal runtime whose core logs are forwarded to the ``temporalio.core``
    Python logger (and so to wherever ``logs_to_file`` sent Python logging).
    ``core_level`` lower than WARN is for tests that need the core to say something."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(
                    core_level=core_level,
                    other_level="ERROR" if core_level == "WARN" else core_level,
                ),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            )
        )
    )


def logs_to_file(path: Path) -> logging.Handler:
    """Send every Python log record to ``path`` and none to the terminal.

    Replaces the root logger's handlers and the ``temporalio`` logger's (which
    ``sdk_logs_to_stderr`` may have pointed at stderr); ``warnings.warn`` goes to
    the file too. Returns the file handler (tests read and close it).
    """
    global _handler
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    temporal = logging.getLogger("temporalio")
    for old in list(temporal.handlers):
        temporal.removeHandler(old)
    temporal.addHandler(handler)
    temporal.setLevel(logging.WARNING)
    temporal.propagate = False
    logging.captureWarnings(True)
    if _handler is not None and _handler is not handler:
        _handler.close()
    _handler = handler
    return handler


def console_logs_to_file(path: Path) -> None:
    """Before the console starts: Python logging and the SDK core's logs to ``path``.

    Call before the first Temporal client is created (the SDK's default runtime is
    made once per process; if one exists already its core logs cannot be moved).
    """
    import runtime.sdk_logging as sdk_logging

    logs_to_file(path)
    sdk_logging._configured = True  # the console's choice wins over "stderr"
    with contextlib.suppress(RuntimeError):  # a runtime exists already: leave it
        Runtime.set_default(file_runtime(), error_if_already_set=True)
