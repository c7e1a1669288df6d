"""Writing to the audit trail from outside a case: sign-ins, user changes, and the
actions the engine refused a signed-in person (``readmodel.audit`` keeps the chain).

Refusals happen inside an Update's validator, which must not do I/O; the worker hands
them to :class:`RefusalRecorder`, whose thread appends them in small batches.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from readmodel.audit import AuditEntry, append
from readmodel.database import write_session

logger = logging.getLogger(__name__)


def record_account_event(
    engine: Engine, kind: str, actor_id: str, summary: str, data: dict[str, Any] | None = None
) -> None:
    entry = AuditEntry(
        at=datetime.now(UTC), kind=kind, actor_id=actor_id, summary=summary, data=data or {}
    )
    with write_session(engine) as session:
        append(session, [entry])


class RefusalRecorder:
    """Appends refused actions off the workflow's thread; never blocks the caller."""

    def __init__(self, engine: Engine, flush_seconds: float = 0.5) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[AuditEntry] = queue.SimpleQueue()
        self._flush_seconds = flush_seconds
        self._thread = threading.Thread(target=self._run, name="onechain-audit", daemon=True)
        self._thread.start()

    def record(self, entry: AuditEntry) -> None:
        self._queue.put(entry)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            try:
                while len(batch) < 200:
                    batch.append(self._queue.get(timeout=self._flush_seconds))
            except queue.Empty:
                pass
            try:
                with write_session(self._engine) as session:
                    append(session, batch)
            except Exception as error:  # keep the worker alive; say what was lost
                logger.error(
                    "audit: %d refusal(s) not recorded: %s", len(batch), type(error).__name__
                )


_recorders: dict[str, RefusalRecorder] = {}
_lock = threading.Lock()


def shared_recorder(engine: Engine) -> RefusalRecorder:
    with _lock:
        key = str(engine.url)
        if key not in _recorders:
            _recorders[key] = RefusalRecorder(engine)
        return _recorders[key]
