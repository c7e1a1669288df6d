"""电子监察 beside a worker: evaluate the rules on what the audit trail gained, every
``ONECHAIN_SUPERVISE_SECONDS`` (60 by default; 0: never).

Each round is incremental (every rule reads only the rows after its cursor), so a
quiet office costs one small query per rule per round, and a worker that was down
catches up in batches on its next round without duplicates (findings are unique by
key; rules are evaluated one worker at a time, see ``supervision.engine``). The rules
run in a thread: they query the database, which blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from runtime.background import in_background

log = logging.getLogger("onechain.supervision")

#: The look for items and findings changed around onechain compares whole tables with
#: the trail: every 5th round (5 minutes by default), not every minute.
INTEGRITY_ROUNDS = 5


class SupervisionLoop:
    def __init__(
        self, engine: Callable[[], Engine], seconds: float, client: Client | None = None
    ) -> None:
        self._engine = engine
        self.seconds = seconds
        #: Where to look for 督办 item workflows changed around onechain (None: not).
        self._client = client
        #: Rounds finished (for tests and the metrics an operator may add).
        self.rounds = 0

    async def check_items(self) -> None:
        """Record 督办 items changed around onechain before the rules read the trail."""
        from supervision.item_integrity import abnormal_items, check_table, record_item_changes

        if self._client is not None:
            try:
                changes = await abnormal_items(self._client)
            except RPCError as error:
                if error.status is not RPCStatusCode.UNIMPLEMENTED:
                    raise
                self._client = None  # the time-skipping test server: no visibility queries
            else:
                await asyncio.to_thread(record_item_changes, self._engine(), changes)
        for change in await asyncio.to_thread(check_table, self._engine()):
            log.warning("督办 item %d changed outside onechain: %s", change.finding_id, change.what)

    def evaluate_once(self) -> None:
        from supervision.engine import run

        report = run(self._engine())
        found = {code: n for code, n in report.new.items() if n}
        if found:
            log.info("supervision: new findings %s", found)
        for code, error in report.failed.items():
            log.error("supervision rule %s failed (skipped this round): %s", code, error)

    async def run(self) -> None:
        checked = 0
        while True:
            try:
                if self.rounds >= checked:  # the integrity look: every INTEGRITY_ROUNDS rounds
                    await self.check_items()
                    checked = self.rounds + INTEGRITY_ROUNDS
                await asyncio.to_thread(self.evaluate_once)
            except Exception as error:  # the database away: try again next round
                log.warning("supervision round failed: %s", error)
            self.rounds += 1
            await asyncio.sleep(self.seconds)


def supervising(loop: SupervisionLoop | None) -> contextlib.AbstractAsyncContextManager[None]:
    """Run ``loop`` in the background while the block runs (nothing when None)."""
    return in_background(loop.run if loop is not None else None)
