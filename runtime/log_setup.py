"""How a long-running onechain process logs: one line per event, with its level and
logger, as text for a terminal or JSON for a log shipper (``ONECHAIN_LOG_FORMAT``).

Two rules the operators asked for:

* **JSON lines** carry ``ts``, ``level``, ``logger``, ``message`` and, where the line
  names one (``case_no=...``), ``case_no``; an exception is one ``error`` field
  (``Type: message``), never a multi-line traceback. Messages never carry personal data
  (the code logs case numbers, kinds and counts, not applicants: see the notification
  gateway and the admission refusals).
* **A transient outage is two lines, not a flood**: the first error of a kind that means
  "the database or Temporal is unreachable" is logged once, without its traceback, as the
  start of an outage; repeats are counted, not printed; once none has come for
  :data:`QUIET_SECONDS`, one line says it ended, how long it lasted and how many repeats
  were held back.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CASE_NO = re.compile(r"\bcase_no=([A-Za-z0-9_-]{1,64})")
#: Without a new error of its kind for this long, an outage is over.
QUIET_SECONDS = 20.0


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        case_no = getattr(record, "case_no", None)
        found = _CASE_NO.search(message)
        if case_no or found:
            line["case_no"] = case_no or (found.group(1) if found else None)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        return json.dumps(line, ensure_ascii=False)


def outage_kind(error: BaseException | None) -> str | None:
    """``database`` or ``temporal`` when ``error`` means that service is unreachable."""
    if error is None:
        return None
    from sqlalchemy.exc import DBAPIError, OperationalError
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        return "database"
    if isinstance(error, RPCError) and error.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
    ):
        return "temporal"
    if isinstance(error, ConnectionError):
        return "connection"
    cause = error.__cause__ or error.__context__
    return outage_kind(cause) if cause is not error else None


@dataclass
class _Outage:
    began: float
    last: float
    repeats: int = 0


class OutageFilter(logging.Filter):
    """Collapses the errors of an outage into a first line and a last one (see above)."""

    def __init__(self, quiet_seconds: float = QUIET_SECONDS) -> None:
        super().__init__()
        self.quiet_seconds = quiet_seconds
        self._now = time.monotonic
        self._open: dict[str, _Outage] = {}
        self._lock = threading.Lock()

    def _close_quiet(self, now: float) -> list[tuple[str, _Outage]]:
        ended = [(k, o) for k, o in self._open.items() if now - o.last >= self.quiet_seconds]
        for kind, _ in ended:
            del self._open[kind]
        return ended

    def _say_ended(self, record: logging.LogRecord, ended: list[tuple[str, _Outage]]) -> None:
        for kind, outage in ended:
            summary = logging.LogRecord(
                "onechain.outage", logging.WARNING, __file__, 0,
                "%s outage ended after %.0f s (%d repeated errors not logged)",
                (kind, outage.last - outage.began, outage.repeats), None,
            )  # fmt: skip
            for handler in logging.getLogger().handlers:
                if any(f is self for f in handler.filters):
                    handler.handle(summary)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "onechain.outage":
            return True
        now = self._now()
        error = record.exc_info[1] if record.exc_info else None
        kind = outage_kind(error)
        with self._lock:
            ended = self._close_quiet(now)
            outage = self._open.get(kind) if kind else None
            if kind and outage is None:
                self._open[kind] = _Outage(began=now, last=now)
        self._say_ended(record, ended)
        if kind is None:
            return True
        if outage is not None:
            outage.last = now
            outage.repeats += 1
            return False
        record.msg = f"{kind} outage began: {record.getMessage()} ({type(error).__name__}: {error})"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True

    def flush_ended(self) -> None:
        """Say which outages are over now (a periodic caller's hook; tests use it)."""
        with self._lock:
            ended = self._close_quiet(self._now())
        self._say_ended(logging.LogRecord("", 0, "", 0, "", None, None), ended)


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (as logging's last resort does),
    so a handler made under a test runner's captured stderr never writes to a closed one."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


_flushing: OutageFilter | None = None


def configure(
    log_format: LogFormat = "text",
    level: int = logging.INFO,
    quiet_seconds: float = QUIET_SECONDS,
) -> logging.Handler:
    """One stderr handler on the root logger (replacing any earlier one of ours)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_onechain", False):
            root.removeHandler(handler)
    handler = _CurrentStderr()
    handler._onechain = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    global _flushing
    outages = OutageFilter(quiet_seconds)
    handler.addFilter(outages)
    root.addHandler(handler)
    if _flushing is None:  # one thread per process, flushing the current handler's filter
        _every(5.0, lambda: _flushing.flush_ended() if _flushing else None)
    _flushing = outages
    root.setLevel(level)
    for noisy in ("temporalio", "sqlalchemy", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    return handler


def _every(seconds: float, call: Callable[[], None]) -> None:
    """Call ``call`` every ``seconds`` on a daemon thread (the outage's last line comes
    even when nothing else is logged)."""

    def loop() -> None:
        while True:
            time.sleep(seconds)
            call()

    threading.Thread(target=loop, name="onechain-outage-flush", daemon=True).start()
