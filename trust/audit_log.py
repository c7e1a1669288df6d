"""Writing to the audit trail from outside a case: sign-ins, user changes, the actions
the engine refused a signed-in person, and attempts that carried no valid identity at
all (``kind="security"``); ``readmodel.audit`` keeps the chain, and
``readmodel.audit_anchors`` its anchors outside the database.

Refusals happen inside an Update's validator, which must not do I/O; the worker hands
them to :class:`RefusalRecorder`, whose thread appends them in small batches. A flood
of attempts without a valid identity must not fill the database: per reason at most
``audit_security_per_window`` detailed rows per window, then one summary row "and K
more" when the window closes. The counting is done in the recorder's thread, never on
the workflow's. Refusals of signed-in people are all kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from readmodel.audit import AuditEntry, append, bound_keys
from readmodel.database import write_session

logger = logging.getLogger(__name__)

#: Who a security row names as the actor: nobody proved who they were.
UNAUTHENTICATED_ACTOR = "unauthenticated"
#: How many refusals may wait for the recorder's thread; past that they are counted only.
QUEUE_LIMIT = 10_000
#: How many of the cases a summary row names ("and K more", on these cases among others).
SUMMARY_CASES = 10

#: English markers of ``trust.tokens.InvalidToken`` messages → a short reason code.
_TOKEN_REASONS = (
    ("no action proof", "no_proof"),
    ("action proof already used", "proof_replayed"),
    ("action proof does not match the payload", "proof_mismatch"),
    ("action proof expired", "proof_expired"),
    ("action proof is for another call", "proof_other_call"),
    ("action proof issued in the future", "proof_issued_in_future"),
    ("bad action proof signature", "proof_bad_signature"),
    ("session has no key", "session_without_key"),
    ("not a onechain session token", "garbage"),
    ("unsupported signature algorithm", "bad_algorithm"),
    ("unknown signing key", "unknown_key"),
    ("bad signature", "bad_signature"),
    ("onechain login", "expired"),
    ("issued in the future", "issued_in_future"),
)


def security_reason(error: Exception | None) -> str:
    """A short, stable code for why an attempt had no valid identity."""
    if error is None:
        return "no_token"
    if type(error).__name__ == "DirectoryUnavailable":
        return "directory_unavailable"
    text = str(error)
    for marker, code in _TOKEN_REASONS:
        if marker in text:
            return code
    return "invalid_token"


def claimed_subject(token: str | None) -> str:
    """The ``sub`` a token claims, unverified (for the record only: never trusted, and
    never the token itself); empty when unreadable."""
    if not token:
        return ""
    try:
        from trust.tokens import read_claims

        return str(read_claims(token).sub)[:64]
    except Exception:
        return ""


def security_entry(
    *,
    at: datetime,
    case_no: str | None,
    update: str,
    update_id: str,
    error: Exception | None,
    token: str | None,
) -> AuditEntry:
    """The audit row of an Update refused because it carried no valid identity."""
    reason = security_reason(error)
    claimed = claimed_subject(token)
    message = str(error) if error is not None else "未登录（no session token）"
    return AuditEntry(
        at=at,
        kind="security",
        actor_id=UNAUTHENTICATED_ACTOR,
        case_no=case_no,
        summary=f"{update} 被拒绝：身份无效（{reason}）",
        reason=message[:500],
        data={
            "reason": reason,
            "update": update,
            "update_id": update_id,
            "claimed_subject": claimed,
        },
    )


def record_account_event(
    engine: Engine, kind: str, actor_id: str, summary: str, data: dict[str, Any] | None = None
) -> None:
    entry = AuditEntry(
        at=datetime.now(UTC), kind=kind, actor_id=actor_id, summary=summary, data=data or {}
    )
    with write_session(engine) as session:
        append(session, [entry])
    anchor_if_due(engine)


def anchor_if_due(engine: Engine) -> None:
    """Anchor the head when the anchor file is missing or its last line is older than
    the anchor interval (so a trail written only by the CLI is anchored too)."""
    from readmodel.audit_anchors import anchor_now
    from runtime.settings import get_settings

    settings = get_settings()
    path = settings.audit_anchors_file
    try:
        if path.exists() and time.time() - path.stat().st_mtime < settings.audit_anchor_seconds:
            return
        anchor_now(engine, path)
    except Exception as error:  # the event is recorded; say the anchor is late
        logger.error("audit: could not anchor the chain in %s: %s", path, error)


def _limit_key(entry: AuditEntry) -> tuple[str, str]:
    return (entry.kind, str((entry.data or {}).get("reason", "")))


class _Window:
    """Counts per key in one window: the first ``limit`` pass, the rest are counted."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.passed: dict[tuple[str, str], int] = {}
        self.over: dict[tuple[str, str], tuple[int, AuditEntry]] = {}
        self.cases: dict[tuple[str, str], set[str]] = {}


class RefusalRecorder:
    """Appends refused actions off the workflow's thread; never blocks the caller."""

    def __init__(
        self,
        engine: Engine,
        flush_seconds: float = 0.5,
        *,
        per_window: int = 20,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        # Sealed with the keys of the deployment that made this recorder, whatever the
        # settings are when its thread writes.
        self._keys = bound_keys()
        self._queue: queue.Queue[AuditEntry] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._flush_seconds = flush_seconds
        self._per_window = per_window
        self._window_seconds = window_seconds
        self._clock = clock
        self._window = _Window(self._window_start())
        self._overflow = 0
        self._overflow_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="onechain-audit", daemon=True)
        self._thread.start()

    def record(self, entry: AuditEntry) -> None:
        try:
            self._queue.put_nowait(entry)
        except queue.Full:  # a flood beyond what the thread keeps up with: count only
            with self._overflow_lock:
                self._overflow += 1

    def _window_start(self) -> float:
        now = self._clock()
        return now - now % self._window_seconds

    def _admit(self, entry: AuditEntry) -> bool:
        """Security rows are bounded; a signed-in person's refusals are all kept (they
        are evidence about a known person, and a token is needed to cause them)."""
        if entry.kind != "security":
            return True
        key = _limit_key(entry)
        window = self._window
        passed = window.passed.get(key, 0)
        if passed < self._per_window:
            window.passed[key] = passed + 1
            return True
        count, _ = window.over.get(key, (0, entry))
        window.over[key] = (count + 1, entry)
        cases = window.cases.setdefault(key, set())
        if entry.case_no and len(cases) < SUMMARY_CASES:
            cases.add(entry.case_no)
        return False

    def _close_window(self) -> list[AuditEntry]:
        """Summary rows of a window that has ended (and of refusals never queued)."""
        summaries: list[AuditEntry] = []
        start = self._window_start()
        if start != self._window.start:
            for key, (count, sample) in self._window.over.items():
                cases = sorted(self._window.cases.get(key, ()))
                summaries.append(_summary(sample, *key, count, self._window_seconds, cases))
            self._window = _Window(start)
        with self._overflow_lock:
            overflow, self._overflow = self._overflow, 0
        if overflow:
            summaries.append(
                AuditEntry(
                    at=datetime.now(UTC),
                    kind="security",
                    actor_id=UNAUTHENTICATED_ACTOR,
                    summary=f"另有 {overflow} 次被拒未能逐条记录（and {overflow} more: queue full）",
                    reason="queue_full",
                    data={"reason": "queue_full", "more": overflow},
                )
            )
        return summaries

    def _run(self) -> None:
        while True:
            batch: list[AuditEntry] = []
            try:
                batch.append(self._queue.get(timeout=self._flush_seconds))
                while len(batch) < 200:
                    batch.append(self._queue.get(timeout=self._flush_seconds))
            except queue.Empty:
                pass
            kept = self._close_window() + [e for e in batch if self._admit(e)]
            if not kept:
                continue
            try:
                with write_session(self._engine) as session:
                    append(session, kept, self._keys())
            except Exception as error:  # keep the worker alive; say what was lost
                logger.error(
                    "audit: %d refusal(s) not recorded: %s", len(kept), type(error).__name__
                )


def _summary(
    sample: AuditEntry,
    kind: str,
    what: str,
    count: int,
    window_seconds: float,
    cases: list[str],
) -> AuditEntry:
    """One row for the ``count`` refusals of a window past the detailed ones."""
    data: dict[str, Any] = {
        "reason": what,
        "more": count,
        "window_seconds": window_seconds,
        "cases": cases,
    }
    return replace(
        sample,
        at=datetime.now(UTC),
        case_no=None,
        seq=None,
        summary=f"另有 {count} 次同类被拒未逐条记录（and {count} more {kind}: {what}）",
        reason=what,
        data=data,
    )


_recorders: dict[tuple[str, int, float], RefusalRecorder] = {}
_lock = threading.Lock()


def shared_recorder(engine: Engine) -> RefusalRecorder:
    """One recorder per database (and bound), shared by the workers of a process."""
    from runtime.settings import get_settings

    settings = get_settings()
    per_window, window = settings.audit_security_per_window, settings.audit_security_window_seconds
    with _lock:
        key = (str(engine.url), per_window, window)
        if key not in _recorders:
            _recorders[key] = RefusalRecorder(engine, per_window=per_window, window_seconds=window)
        return _recorders[key]


@contextlib.asynccontextmanager
async def anchoring(engine_of: Callable[[], Engine]) -> AsyncIterator[None]:
    """While a worker runs: anchor the audit chain's head every
    ``audit_anchor_seconds`` (when it moved), and once more when the worker stops."""
    from readmodel.audit_anchors import anchor_now
    from runtime.settings import get_settings

    settings = get_settings()
    path, interval = settings.audit_anchors_file, settings.audit_anchor_seconds

    async def anchor_once() -> None:
        try:
            await asyncio.to_thread(anchor_now, engine_of(), path)
        except Exception as error:  # a late anchor must not stop the worker
            logger.error("audit: could not anchor the chain in %s: %s", path, error)

    async def loop() -> None:
        while True:
            await anchor_once()
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop(), name="onechain-audit-anchors")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await anchor_once()
