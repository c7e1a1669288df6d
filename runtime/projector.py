"""The worker's projector: writes changed cases' committed state to the read model.

A case workflow says "I changed" (:mod:`workflows.projection_feed`); the projector
gathers those hints for a moment, reads each case's committed rows and writes all of
them in one transaction. No decision waits for the database, and one commit carries
many cases. Rows are read from the case's memo with ``DescribeWorkflowExecution``,
which the Temporal server answers alone (``workflows.projection_memo``); a case begun
before it kept its rows there is asked with the ``projection`` Query, which a worker
answers. Either reads committed state only, so a workflow task that Temporal never
committed cannot leave rows behind. The hint carries the memo revision the change
wrote: a Describe that still shows an older one (the task not yet committed) is asked
again a moment later. A round of many changed cases (the turn of a working day) first
lists them in one call to the server's visibility store, which holds the same memos, and
describes only those the listing shows older than their hint.

What makes it durable. A hint lives in memory and in a journal file in the data folder
(one line per hint, appended before the hint is queued, without fsync: it outlives a
killed worker process, not a lost machine). A projector that starts adopts the journals
of projectors that died (their file lock is free) and re-reads those cases. What a lost
machine had not written is written when each of those cases next changes, or by
``onechain reconcile``.

Ordering is the read model's own: the case row is replaced only by a batch at least as
new (``last_seq``, then ``updated_at``), so two projectors writing one case in any order
leave the newer state.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    ListWorkflowExecutionsRequest,
)
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import MetricMeter
from temporalio.service import RPCError, RPCStatusCode

from domain.projection import ProjectionBatch
from readmodel.database import reporting_outages, write_session
from readmodel.errors import DatabaseUnreachable
from readmodel.projection import check_batch
from readmodel.reconcile import apply_batches
from runtime.settings import get_settings
from workflows import projection_feed
from workflows.projection_memo import (
    TaskRowCache,
    holds_projection,
    memo_revision,
    projection_from_memo,
)

log = logging.getLogger("onechain.projector")

PROJECTION_QUERY = "projection"
PROJECTION_LAG = "onechain_projection_lag"
PROJECTION_BACKLOG = "onechain_projection_backlog"
PROJECTION_OLDEST = "onechain_projection_oldest_seconds"
WRITE_FAILURES = "onechain_read_model_write_failures"
#: How often the backlog gauges are set.
BACKLOG_REPORT_SECONDS = 5.0
#: Hints that arrive within this window are written together (one commit), and hints
#: of one case within it cost one Query (four departments deciding at once: one).
LINGER = timedelta(milliseconds=100)
#: Rounds in flight at once: while one waits for its Queries, the next one starts.
CONCURRENT_ROUNDS = 4
#: Cases read and written per round.
ROUND_SIZE = 64
#: Cases read (Describe, or Query for older cases) at once.
READ_CONCURRENCY = 16
#: A journal is rewritten with only the open hints when it grows past this.
JOURNAL_COMPACT_BYTES = 1 << 20
MAX_RETRY_DELAY = 30.0
#: How long one read (Describe, or the projection Query) may wait for an answer,
#: growing with each retry of the same case. Now and then Temporal holds a Query to a case that has just
#: concluded for its full 30 s and answers nothing (seen in about half the bench
#: runs, sandbox or not); asked again, it answers at once. A short first wait keeps
#: that from delaying the read model by 30 s.
READ_TIMEOUT_STEP = timedelta(seconds=5)
#: A Describe that shows an older memo than the hint's is asked again after this long,
#: doubling, this many times; then what it shows is written (the task that wrote the
#: newer revision failed, and the case's next task hints again).
STALE_MEMO_DELAY = 0.05
STALE_MEMO_TRIES = 6
#: A round of at least this many cases reads their memos with one listing of the
#: server's visibility store (``WorkflowId IN (...)``) instead of a Describe per case:
#: at the turn of a working day thousands of cases change at once. A case the listing
#: shows older than its hint (visibility trails a change by a moment), or not at all,
#: is described as before.
LIST_AT_LEAST = 8
#: A write that failed (database locked, down, replaced) is tried again this often at most.
MAX_WRITE_RETRY_DELAY = 5.0
#: Decoded task rows kept by their memo payload (a busy worker's open cases' rows):
#: a change rewrites one or two of a case's rows, and the others are not decoded again.
TASK_ROW_CACHE = 16_384
#: How many cases' last projected event number are remembered (the rest re-send all
#: their events, which the read model skips by key).
SEQ_MEMORY = 100_000


class Journal:
    """Hints on disk, so that a killed worker's unwritten cases are written by the next.

    One file per projector, locked while it lives; a projector adopts the files of
    the same queue whose lock is free. Lines are workflow ids.
    """

    def __init__(self, folder: Path, key: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.key = key
        self.path = folder / f"{key}-{uuid.uuid4().hex[:12]}.journal"
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock = threading.Lock()
        self._size = 0
        self._closed = False

    def append(self, workflow_id: str) -> None:
        """Called from workflow threads: never raises (a hint after close is dropped;
        the case then reaches the read model when it next changes, or by reconcile)."""
        line = (workflow_id + "\n").encode()
        with self._lock:
            if self._closed:
                return
            try:
                os.write(self._fd, line)
            except OSError as error:
                log.warning("projection journal %s not written: %s", self.path, error)
                return
            self._size += len(line)

    def compact(self, still_open: list[str]) -> None:
        """Keep only the hints not yet written, once the file has grown."""
        with self._lock:
            if self._closed or (self._size < JOURNAL_COMPACT_BYTES and still_open):
                return
            os.ftruncate(self._fd, 0)
            data = "".join(f"{w}\n" for w in still_open).encode()
            if data:
                os.write(self._fd, data)
            self._size = len(data)

    def adopt_orphans(self) -> list[str]:
        """The hints of dead projectors of the same queue; their files are removed."""
        adopted: list[str] = []
        for path in sorted(self.folder.glob(f"{self.key}-*.journal")):
            if path == self.path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # alive: another projector's
                continue
            try:
                with os.fdopen(os.dup(fd), "rb") as stream:
                    adopted += [line.decode().strip() for line in stream if line.strip()]
                path.unlink(missing_ok=True)
            finally:
                os.close(fd)
        return list(dict.fromkeys(adopted))

    def close(self) -> None:
        """A clean stop with nothing open leaves no file behind."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            empty = self._size == 0
            os.close(self._fd)
        if empty:
            self.path.unlink(missing_ok=True)


def journal_key(client: Client, task_queue: str) -> str:
    """Journals are per Temporal address, namespace and queue: a projector adopts only
    hints it can answer."""
    target = client.service_client.config.target_host
    raw = f"{target}|{client.namespace}|{task_queue}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


class Projector:
    """Reads changed cases' rows (memo or Query) and writes them to the read model in rounds."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        write: Callable[[list[ProjectionBatch]], None],
        journal_folder: Path,
        meter: MetricMeter | None = None,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self._write_batches = write
        self._journal = Journal(journal_folder, journal_key(client, task_queue))
        #: Cases to read, each with the memo revision its latest hint asked for.
        self._pending: OrderedDict[str, int] = OrderedDict()
        self._in_flight: Counter[str] = Counter()
        self._retrying: set[str] = set()
        self._attempts: dict[str, int] = {}
        self._seq: OrderedDict[str, int] = OrderedDict()
        self._task_rows = TaskRowCache(TASK_ROW_CACHE)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stop_listening: Callable[[], None] | None = None
        self._lag = (
            meter.create_histogram_timedelta(
                PROJECTION_LAG,
                "Time from a case change in the workflow to its read-model row.",
                "ms",
            )
            if meter is not None
            else None
        )
        self._meter = meter
        self._write_failures = (
            meter.create_counter(WRITE_FAILURES, "Read-model writes that failed and were retried.")
            if meter is not None
            else None
        )
        #: When each case still owed to the read model was first hinted (monotonic).
        self._owed_since: dict[str, float] = {}
        self.written = 0

    # ------------------------------------------------------------------ hints
    def hint(self, workflow_id: str, revision: int = 0) -> None:
        """From any thread: ``workflow_id`` changed, writing memo ``revision``
        (journaled first, then queued)."""
        self._journal.append(workflow_id)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._enqueue, workflow_id, revision)

    def _enqueue(self, workflow_id: str, revision: int = 0) -> None:
        self._owed_since.setdefault(workflow_id, time.monotonic())
        self._pending[workflow_id] = max(revision, self._pending.get(workflow_id, 0))
        self._idle.clear()
        self._wake.set()

    # ----------------------------------------------------------------- backlog
    def backlog(self) -> tuple[int, float]:
        """Cases hinted and not yet written, and how long the oldest has waited (s)."""
        owed = set(self._pending) | set(self._in_flight) | self._retrying
        for done in [w for w in self._owed_since if w not in owed]:
            del self._owed_since[done]
        oldest = min(self._owed_since.values(), default=None)
        return len(owed), 0.0 if oldest is None else time.monotonic() - oldest

    async def _report_backlog(self) -> None:
        """``onechain_projection_backlog`` and ``_oldest_seconds`` every few seconds,
        from zero at start (an alert can tell "behind" from "not reporting")."""
        assert self._meter is not None
        count = self._meter.create_gauge(
            PROJECTION_BACKLOG, "Cases changed in Temporal and not yet in the read model."
        )
        oldest = self._meter.create_gauge(
            PROJECTION_OLDEST,
            "How long the oldest change not yet in the read model has waited.",
            "s",
        )
        while True:
            cases, waited = self.backlog()
            count.set(cases)
            oldest.set(int(waited))
            await asyncio.sleep(BACKLOG_REPORT_SECONDS)

    # ------------------------------------------------------------------- loop
    def bind(self) -> None:
        """Start receiving hints on the running loop (before the worker polls, so that
        none of its first workflow tasks' hints wait for the journal)."""
        if self._stop_listening is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stop_listening = projection_feed.listen(
            self.client.namespace, self.task_queue, self.hint
        )

    async def run(self) -> None:
        """Project until cancelled."""
        self.bind()
        for workflow_id in self._journal.adopt_orphans():
            self._journal.append(workflow_id)
            self._enqueue(workflow_id)
        rounds = asyncio.Semaphore(CONCURRENT_ROUNDS)
        running_rounds: set[asyncio.Task[None]] = set()
        if self._meter is not None:
            reporter = asyncio.create_task(self._report_backlog())
            running_rounds.add(reporter)

        async def one_round() -> None:
            try:
                await self._round()
            finally:
                rounds.release()

        try:
            while True:
                await self._wake.wait()
                await asyncio.sleep(LINGER.total_seconds())
                await rounds.acquire()
                if not self._pending:
                    rounds.release()
                    self._wake.clear()
                    continue
                task = asyncio.create_task(one_round())
                running_rounds.add(task)
                task.add_done_callback(running_rounds.discard)
        finally:
            for task in running_rounds:
                task.cancel()
            # The rounds touch the journal as they end: let them end before it closes.
            await asyncio.gather(*running_rounds, return_exceptions=True)
            if self._stop_listening is not None:
                self._stop_listening()
            self._journal.close()

    async def drain(self, timeout: float) -> bool:
        """Wait until every hint so far is written (before the worker stops answering
        Queries); False if that took longer than ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def _round(self) -> None:
        wanted: dict[str, int] = {}
        while self._pending and len(wanted) < ROUND_SIZE:
            workflow_id, revision = self._pending.popitem(last=False)
            wanted[workflow_id] = revision
        ids = list(wanted)
        if not self._pending:
            self._wake.clear()
        self._in_flight.update(ids)  # a case may be in two rounds at once: counted
        gate = asyncio.Semaphore(READ_CONCURRENCY)
        listed = await self._listed_memos(wanted) if len(ids) >= LIST_AT_LEAST else {}

        async def read(workflow_id: str) -> ProjectionBatch | None:
            memo = listed.get(workflow_id)
            if memo is not None:
                return await self._from_memo(workflow_id, memo)
            async with gate:
                return await self._read(workflow_id, wanted[workflow_id])

        try:
            batches = [b for b in await asyncio.gather(*(read(i) for i in ids)) if b is not None]
            if batches:
                await self._write(batches)
        finally:
            self._in_flight.subtract(ids)
            self._in_flight += Counter()  # drops the cases no round holds
            self._journal.compact([*self._pending, *self._in_flight, *self._retrying])
            if not (self._pending or self._in_flight or self._retrying):
                self._idle.set()
            elif self._pending:
                self._wake.set()

    async def _listed_memos(self, wanted: dict[str, int]) -> dict[str, Mapping[str, Payload]]:
        """The memos of ``wanted``'s cases from one listing, for those it shows at their
        hinted revision or later; ``{}`` if the listing failed (each is described). A
        hint without a revision (adopted from a dead projector's journal, or an older
        case) cannot tell a lagging listing from the latest state: Describe reads it."""
        ids = [i for i, rev in wanted.items() if rev > 0 and "'" not in i and "\\" not in i]
        if not ids:
            return {}
        request = ListWorkflowExecutionsRequest(
            namespace=self.client.namespace,
            query="WorkflowId IN (" + ", ".join(f"'{i}'" for i in ids) + ")",
            page_size=len(ids),
        )
        try:
            response = await self.client.workflow_service.list_workflow_executions(
                request, retry=True, timeout=READ_TIMEOUT_STEP
            )
        except RPCError as error:
            log.debug("listing %d changed cases failed (%s); describing each", len(ids), error)
            return {}
        runs = Counter(e.execution.workflow_id for e in response.executions)
        memos: dict[str, Mapping[str, Payload]] = {}
        for execution in response.executions:
            workflow_id, memo = execution.execution.workflow_id, execution.memo.fields
            if runs[workflow_id] != 1 or workflow_id not in wanted or not holds_projection(memo):
                continue  # several runs of one id, or an older case: Describe decides
            if await memo_revision(self.client.data_converter, memo) >= wanted[workflow_id]:
                memos[workflow_id] = memo
        return memos

    async def _from_memo(
        self, workflow_id: str, memo: Mapping[str, Payload]
    ) -> ProjectionBatch | None:
        since = self._seq.get(workflow_id, 0)
        batch, _ = await projection_from_memo(
            self.client.data_converter, memo, since, task_cache=self._task_rows
        )
        return self._checked(workflow_id, batch)

    async def _describe(self, workflow_id: str, attempt: int) -> Mapping[str, Payload]:
        """The case's memo as committed now. The raw call: the SDK's description would
        decode its search attributes and more that the projector does not read."""
        request = DescribeWorkflowExecutionRequest(
            namespace=self.client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id),
        )
        response = await self.client.workflow_service.describe_workflow_execution(
            request, retry=True, timeout=READ_TIMEOUT_STEP * (1 + attempt)
        )
        return response.workflow_execution_info.memo.fields

    async def _read(self, workflow_id: str, revision: int) -> ProjectionBatch | None:
        since = self._seq.get(workflow_id, 0)
        handle = self.client.get_workflow_handle(workflow_id)
        attempt = self._attempts.get(workflow_id, 0)
        try:
            memo = await self._describe(workflow_id, attempt)
            if holds_projection(memo):
                converter = self.client.data_converter
                if await memo_revision(converter, memo) < revision and attempt < STALE_MEMO_TRIES:
                    self._retry(workflow_id, None, revision, STALE_MEMO_DELAY)
                    return None
                batch, _ = await projection_from_memo(
                    converter, memo, since, task_cache=self._task_rows
                )
            else:
                batch = await handle.query(
                    PROJECTION_QUERY,
                    since,
                    result_type=ProjectionBatch,
                    rpc_timeout=READ_TIMEOUT_STEP * (1 + attempt),
                )
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return None  # the case is gone from Temporal: nothing to project
            self._retry(workflow_id, error, revision)
            return None
        except WorkflowQueryFailedError as error:
            self._retry(workflow_id, error, revision)  # still starting, or a worker on old code
            return None
        return self._checked(workflow_id, batch)

    def _checked(self, workflow_id: str, batch: ProjectionBatch) -> ProjectionBatch | None:
        try:
            check_batch(batch)
        except ValueError as error:
            log.error("case %s sent an inconsistent projection: %s", workflow_id, error)
            return None
        self._attempts.pop(workflow_id, None)
        return batch

    async def _write(self, batches: list[ProjectionBatch]) -> None:
        delay = 0.5
        while True:
            try:
                await asyncio.to_thread(self._write_batches, batches)
                break
            except DatabaseUnreachable:  # logged once per outage by reporting_outages
                self._count_write_failure()
            except Exception as error:  # locked, or a bug: keep the batches and say so
                self._count_write_failure()
                log.warning("read model write failed (%s); retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_WRITE_RETRY_DELAY)
        now = datetime.now(UTC)
        for batch in batches:
            workflow_id = f"case-{batch.case.case_no}"
            self._seq[workflow_id] = max(batch.case.last_seq, self._seq.get(workflow_id, 0))
            self._seq.move_to_end(workflow_id)
            if self._lag is not None:
                self._lag.record(max(timedelta(0), now - batch.case.updated_at))
        while len(self._seq) > SEQ_MEMORY:
            self._seq.popitem(last=False)
        self.written += len(batches)

    def _count_write_failure(self) -> None:
        if self._write_failures is not None:
            self._write_failures.add(1)

    def _retry(
        self, workflow_id: str, error: Exception | None, revision: int, first_delay: float = 0.2
    ) -> None:
        """Read the case again later (``error`` None: its memo was older than the hint)."""
        attempt = self._attempts.get(workflow_id, 0) + 1
        self._attempts[workflow_id] = attempt
        delay = min(first_delay * 2**attempt, MAX_RETRY_DELAY)
        if attempt >= 5 and error is not None:
            log.warning("case %s not readable yet (%s); retry %d", workflow_id, error, attempt)
        assert self._loop is not None
        self._idle.clear()
        self._retrying.add(workflow_id)  # still owed: keeps drain() waiting and the journal line
        self._loop.call_later(delay, self._requeue, workflow_id, revision)

    def _requeue(self, workflow_id: str, revision: int) -> None:
        self._retrying.discard(workflow_id)
        self._enqueue(workflow_id, revision)


def project_all(engine: Engine, batches: list[ProjectionBatch]) -> None:
    """Apply ``batches`` (several cases) in one write transaction, a statement per
    table and one audit append for the round (per case, the audit chain's reads
    were half the projector's database time)."""
    with write_session(engine) as session:
        apply_batches(session, batches)


def configured_writer(batches: list[ProjectionBatch]) -> None:
    """Write to the configured read model, re-opened if its file was replaced, with
    outages logged once (``reporting_outages``) rather than on every retry."""
    from activities.projection import read_model_engine

    with reporting_outages(get_settings().resolved_database_url):
        project_all(read_model_engine(), batches)


@contextlib.asynccontextmanager
async def running(projector: Projector) -> Any:
    """Run ``projector`` in the background while the block runs."""
    projector.bind()
    task = asyncio.create_task(projector.run())
    try:
        yield projector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
