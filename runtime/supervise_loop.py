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
from collections.abc import AsyncIterator, Callable

from sqlalchemy import Engine

log = logging.getLogger("onechain.supervision")


class SupervisionLoop:
    def __init__(self, engine: Callable[[], Engine], seconds: float) -> None:
        self._engine = engine
        self.seconds = seconds
        #: Rounds finished (for tests and the metrics an operator may add).
        self.rounds = 0

    def evaluate_once(self) -> None:
        from supervision.engine import run

        report = run(self._engine())
        found = {code: n for code, n in report.new.items() if n}
        if found:
            log.info("supervision: new findings %s", found)
        for code, error in report.failed.items():
            log.error("supervision rule %s failed (skipped this round): %s", code, error)

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.evaluate_once)
            except Exception as error:  # the database away: try again next round
                log.warning("supervision round failed: %s", error)
            self.rounds += 1
            await asyncio.sleep(self.seconds)


@contextlib.asynccontextmanager
async def supervising(loop: SupervisionLoop | None) -> AsyncIterator[None]:
    """Run ``loop`` in the background while the block runs (nothing when None)."""
    if loop is None:
        yield
        return
    task = asyncio.create_task(loop.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
