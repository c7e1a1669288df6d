"""Starting checked rows as cases: bounded concurrency, idempotent, stoppable.

Each start is one ``CaseDesk.start_case`` call, which is atomic in Temporal: a case
is either started or not, never half. The case number is the workflow key, so a row
that was started before (by an earlier run of the same file, or by anyone) comes back
as *already exists* and nothing is started twice — only when it is the same
application as onechain started it: a number held by a start no worker admitted, by a
case ended around onechain or by another applicant's case is a *conflict*.

Stopping (Ctrl-C, or Temporal staying unreachable) lets the starts in flight finish,
attempts nothing more, and reports the rest as *not attempted*; running the same file
again finishes them.

**The count is Temporal's.** A start whose reply is lost (the server or the network
went away after Temporal accepted it) is retried for up to ``RECONNECT_WINDOW``; the
retry then meets the case this run started and gets *already exists*. Such a row
counts as *started* when the case's workflow began after this run did (its start time,
from ``describe``), so the summary says what Temporal holds. A row whose outcome is
still unknown when the window closes is *uncertain*, never silently *not attempted*.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from client.facade import CaseAlreadyExists, CaseConflict, CaseError, CaseRequest

DEFAULT_CONCURRENCY = 16
#: How long a start is retried while Temporal does not answer.
RECONNECT_WINDOW = 30.0
#: Clock difference tolerated between this machine and the Temporal server.
CLOCK_SKEW = timedelta(seconds=5)


class Outcome(StrEnum):
    STARTED = "started"
    EXISTS = "already_exists"
    REJECTED = "rejected"
    #: The case number is held by something else: a start onechain never admitted, a
    #: case ended around onechain, another applicant's case (``CaseConflict``).
    CONFLICT = "conflict"
    NOT_ATTEMPTED = "not_attempted"
    UNCERTAIN = "uncertain"  # sent, no answer: Temporal may or may not hold the case


@dataclass(frozen=True)
class StartResult:
    row: int
    case_no: str
    outcome: Outcome
    reason: str = ""
    retried: bool = False  # Temporal stopped answering at least once for this row


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
    def conflicts(self) -> list[StartResult]:
        return [r for r in self.results if r.outcome is Outcome.CONFLICT]

    @property
    def not_attempted(self) -> int:
        return self.count(Outcome.NOT_ATTEMPTED)

    @property
    def uncertain(self) -> int:
        return self.count(Outcome.UNCERTAIN)

    @property
    def retried(self) -> int:
        """Rows answered after Temporal had stopped answering for them."""
        return sum(1 for r in self.results if r.retried and r.outcome is not Outcome.UNCERTAIN)

    @property
    def rate(self) -> float:
        """Rows answered (started, existing or rejected) per second of the start phase."""
        done = len(self.results) - self.not_attempted - self.uncertain
        return done / self.seconds if self.seconds > 0 else 0.0


class Starter(Protocol):
    async def start_case(self, request: CaseRequest) -> Any: ...


async def started_since(desk: Starter, case_no: str, since: datetime) -> bool:
    """Whether case ``case_no`` began at or after ``since`` (i.e. this run started it).

    A desk without ``handle`` (a test double) or a failed look-up answers True: the
    run did send this start, and its reply was lost."""
    handle = getattr(desk, "handle", None)
    if handle is None:
        return True
    try:
        described = await handle(case_no).describe()
    except Exception:
        return True
    began = described.start_time
    return began is None or began >= since - CLOCK_SKEW


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
    reconnect_window: float = RECONNECT_WINDOW,
) -> StartReport:
    """Start ``(row, request)`` items, at most ``concurrency`` at a time.

    ``stop`` (set by a signal handler, or by a test) ends the run after the starts in
    flight. Temporal unreachable for longer than ``reconnect_window`` seconds sets it
    too. Results come in row order.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    stop = stop or asyncio.Event()
    report = StartReport()
    results: dict[int, StartResult] = {}
    semaphore = asyncio.Semaphore(concurrency)
    in_flight: set[asyncio.Task[None]] = set()
    run_began = datetime.now(UTC)
    loop = asyncio.get_running_loop()

    def record(result: StartResult) -> None:
        results[result.row] = result
        if on_result is not None:
            on_result(result)

    async def start_one(row: int, request: CaseRequest) -> None:
        sent = False  # a start went out and its answer was lost
        outage_began: float | None = None
        delay = 0.2
        try:
            while True:
                try:
                    await desk.start_case(request)
                except CaseAlreadyExists:
                    if sent and await started_since(desk, request.case_no, run_began):
                        reason = "started; the first reply was lost"
                        record(StartResult(row, request.case_no, Outcome.STARTED, reason, True))
                    else:
                        reason = "already exists"
                        record(StartResult(row, request.case_no, Outcome.EXISTS, reason, sent))
                except CaseConflict as conflict:
                    record(StartResult(row, request.case_no, Outcome.CONFLICT, str(conflict)))
                except CaseError as refused:
                    record(StartResult(row, request.case_no, Outcome.REJECTED, str(refused)))
                except asyncio.CancelledError:
                    outcome = Outcome.UNCERTAIN if sent else Outcome.NOT_ATTEMPTED
                    record(StartResult(row, request.case_no, outcome, "interrupted"))
                    raise
                except Exception as error:
                    if not is_unreachable(error):
                        reason = f"{type(error).__name__}: {error}"
                        record(StartResult(row, request.case_no, Outcome.REJECTED, reason))
                        return
                    sent = True
                    now = loop.time()
                    outage_began = outage_began if outage_began is not None else now
                    if now - outage_began < reconnect_window:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 2.0)
                        continue
                    if not report.unreachable:
                        report.unreachable = str(error) or type(error).__name__
                    stop.set()
                    record(
                        StartResult(
                            row,
                            request.case_no,
                            Outcome.UNCERTAIN,
                            "no answer from Temporal; it may hold the case",
                        )
                    )
                else:
                    record(StartResult(row, request.case_no, Outcome.STARTED, retried=sent))
                return
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
