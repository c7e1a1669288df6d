"""Looking for cases changed around onechain: once (reconcile, doctor) or every half
minute beside a worker, so the console shows such a case within a minute.

``find_changes`` compares everything at once: abnormal runs (one visibility query),
cases with more than one run (from reconcile's listing), and every case the read model
says Temporal must still hold. ``OutsideSweep`` does the same in small steps: abnormal
runs closed since its last look, and a visibility count of the cases it has already
seen in Temporal (a case that vanishes from that count was deleted). A case that never
was in this Temporal (another server's test run, a row made by hand) is not "seen",
so the sweep never calls it deleted; reconcile and doctor report those.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from client.outside import (
    OutsideChange,
    abnormal_cases,
    deleted_changes,
    inspect_cases,
    missing_cases,
    retention,
)
from readmodel.database import read_session
from readmodel.outside import case_numbers, must_exist, record_changes
from runtime.background import in_background

if TYPE_CHECKING:
    from client.facade import CaseExecution

log = logging.getLogger("onechain.outside")

#: How far back each sweep looks again for closed runs (the visibility store lags).
OVERLAP = timedelta(minutes=2)


async def find_changes(
    client: Client,
    engine: Engine,
    *,
    task_queue: str | None,
    executions: Sequence[CaseExecution] | None = None,
    extra: Iterable[str] = (),
) -> list[OutsideChange]:
    """Every change around onechain Temporal shows now (recorded or not).

    ``executions``: reconcile's listing of every case (its run counts show resets of
    closed cases, and what it lacks is checked for deletion without a count);
    ``extra``: case numbers to look at as well (e.g. whose history went backwards)."""
    keep = await retention(client)
    stored, expected = _read_model_cases(engine, datetime.now(UTC), keep)
    candidates = await abnormal_cases(client, task_queue=task_queue)
    candidates |= set(extra)
    if executions is not None:
        candidates |= {e.case_no for e in executions if e.runs > 1}
        listed = {e.case_no for e in executions}
        gone = await missing_cases(client, [c for c in expected if c not in listed])
    else:
        gone = await missing_cases(client, expected)
    changes = await inspect_cases(client, candidates, stored)
    return changes + deleted_changes(gone)


def _read_model_cases(engine: Engine, now: datetime, keep: timedelta) -> tuple[set[str], set[str]]:
    """Every case the read model holds, and those Temporal must still hold."""
    with read_session(engine) as session:
        return case_numbers(session), set(must_exist(session, now, keep))


class OutsideSweep:
    """A worker's look, every ``interval`` seconds, for cases of its task queue changed
    around onechain; what it finds it records (``readmodel.outside``)."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        engine: Callable[[], Engine],
        interval: float,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self._engine = engine
        self.interval = interval
        self._since: datetime | None = None
        #: Cases this sweep has seen in Temporal (only these can be called deleted).
        self._seen: set[str] = set()
        #: Cases the read model holds that were not in Temporal when first looked for
        #: (deleted before, or another server's): not asked about again (reconcile is).
        self._absent: set[str] = set()
        self._retention: timedelta | None = None

    async def sweep(self) -> list[OutsideChange]:
        """One look; returns the changes it recorded first."""
        began = datetime.now(UTC)
        engine = self._engine()
        if self._retention is None:
            self._retention = await retention(self.client)
        since = None if self._since is None else self._since - OVERLAP
        candidates = await abnormal_cases(
            self.client, task_queue=self.task_queue, closed_since=since
        )
        admitted, expected = await asyncio.to_thread(
            _read_model_cases, engine, began, self._retention
        )
        fresh = expected - self._seen - self._absent
        gone = set(await missing_cases(self.client, expected & self._seen))
        if fresh:
            absent = set(await missing_cases(self.client, fresh))
            self._seen |= fresh - absent
            self._absent |= absent
        self._seen -= gone
        changes = await inspect_cases(self.client, candidates, admitted)
        changes += deleted_changes(sorted(gone))
        recorded = await asyncio.to_thread(record_changes, engine, changes) if changes else []
        for change in recorded:
            log.warning("case %s changed outside onechain: %s", change.case_no, change.summary)
        self._since = began
        return recorded

    async def run(self) -> None:
        failing = False
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except RPCError as error:
                if error.status is RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server
                    log.info("no outside-change sweep: this Temporal has no visibility queries")
                    return
                if not failing:  # once per outage, not every look
                    log.error("outside-change sweep failed: %s", error.message)
                failing = True
            except Exception as error:  # keep the worker; say why this look failed
                if not failing:
                    log.error("outside-change sweep failed: %s: %s", type(error).__name__, error)
                failing = True
            else:
                failing = False
            await asyncio.sleep(self.interval)


def sweeping(sweep: OutsideSweep | None) -> contextlib.AbstractAsyncContextManager[None]:
    """Run ``sweep`` in the background while the block runs (nothing when None)."""
    return in_background(sweep.run if sweep is not None else None)
