"""Starting checked rows as cases: bounded concurrency, idempotent, stoppable.

Each start is one ``CaseDesk.start_case`` call, which is atomic in Temporal: a case
is either started or not, never half. The case number is the workflow key, so a row
that was started before (by an earlier run of the same file, or by anyone) comes back
as *already exists* and nothing is started twice.

Stopping (Ctrl-C, or Temporal becoming unreachable) lets the starts in flight finish,
attempts nothing more, and reports the rest as *not attempted*; running the same file
again finishes them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from client.facade import CaseAlreadyExists, CaseError, CaseRequest

DEFAULT_CONCURRENCY = 16


class Outcome(StrEnum):
    STARTED = "started"
    EXISTS = "already_exists"
    REJECTED = "rejected"
    NOT_ATTEMPTED = "not_attempted"


@dataclass(frozen=True)
class StartResult:
    row: int
    case_no: str
    outcome: Outcome
    reason: str = ""


@dataclass
class StartReport:
    results: list[StartResult] = field(default_factory=list)
    seconds: float = 0.0
    unreachable: str = ""  # why Temporal could not be reached, if it could not
    interrupted: bool = False

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def started(self) -> int:
        return self.count(Outcome.STARTED)

    @property
    def existing(self) -> int:
        return self.count(Outcome.EXISTS)

    @property
    def rejected(self) -> list[StartResult]:
        return [r for r in self.results if r.outcome is Outcome.REJECTED]

    @property
    def not_attempted(self) -> int:
        return self.count(Outcome.NOT_ATTEMPTED)

    @property
    def rate(self) -> float:
        """Rows answered (started, existing or rejected) per second of the start phase."""
        done = len(self.results) - self.not_attempted
        return done / self.seconds if self.seconds > 0 else 0.0


class Starter(Protocol):
    async def start_case(self, request: CaseRequest) -> Any: ...


def is_unreachable(error: BaseException) -> bool:
    """Temporal is down or not answering (as opposed to refusing this one case)."""
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(error, RPCError):
        return error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("connect" in text or "transport" in text)


async def start_cases(
    desk: Starter,
    items: Sequence[tuple[int, CaseRequest]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    stop: asyncio.Event | None = None,
    on_result: Callable[[StartResult], None] | None = None,
) -> StartReport:
    """Start ``(row, request)`` items, at most ``concurrency`` at a time.

    ``stop`` (set by a signal handler, or by a test) ends the run after the starts in
    flight. An unreachable Temporal sets it too. Results come in row order.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    stop = stop or asyncio.Event()
    report = StartReport()
    results: dict[int, StartResult] = {}
    semaphore = asyncio.Semaphore(concurrency)
    in_flight: set[asyncio.Task[None]] = set()

    def record(result: StartResult) -> None:
        results[result.row] = result
        if on_result is not None:
            on_result(result)

    async def start_one(row: int, request: CaseRequest) -> None:
        try:
            await desk.start_case(request)
        except CaseAlreadyExists:
            record(StartResult(row, request.case_no, Outcome.EXISTS, "already exists"))
        except CaseError as refused:
            record(StartResult(row, request.case_no, Outcome.REJECTED, str(refused)))
        except asyncio.CancelledError:
            record(StartResult(row, request.case_no, Outcome.NOT_ATTEMPTED, "interrupted"))
            raise
        except Exception as error:
            if is_unreachable(error):
                if not report.unreachable:
                    report.unreachable = str(error) or type(error).__name__
                stop.set()
                record(StartResult(row, request.case_no, Outcome.NOT_ATTEMPTED, "unreachable"))
            else:
                reason = f"{type(error).__name__}: {error}"
                record(StartResult(row, request.case_no, Outcome.REJECTED, reason))
        else:
            record(StartResult(row, request.case_no, Outcome.STARTED))
        finally:
            semaphore.release()

    began = time.perf_counter()
    try:
        for row, request in items:
            if stop.is_set():
                break
            if not await _acquire_unless_stopped(semaphore, stop):
                break
            task = asyncio.create_task(start_one(row, request))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
    finally:
        for task in in_flight:
            task.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        report.seconds = time.perf_counter() - began
        for row, request in items:
            if row not in results:
                results[row] = StartResult(row, request.case_no, Outcome.NOT_ATTEMPTED)
        report.results = [results[row] for row, _ in items]
        report.interrupted = bool(report.not_attempted) and not report.unreachable
    return report


async def _acquire_unless_stopped(semaphore: asyncio.Semaphore, stop: asyncio.Event) -> bool:
    """Take a slot; False (and no slot held) if ``stop`` is set first."""
    if not semaphore.locked():
        await semaphore.acquire()
        return not _release_if(stop.is_set(), semaphore)
    acquire = asyncio.ensure_future(semaphore.acquire())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({acquire, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if acquire.done() and not acquire.cancelled():
        return not _release_if(stop.is_set(), semaphore)
    acquire.cancel()
    return False


def _release_if(condition: bool, semaphore: asyncio.Semaphore) -> bool:
    if condition:
        semaphore.release()
    return condition
