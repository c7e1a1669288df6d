"""Run a worker's side loop (the outside-change sweep, the 电子监察 rounds) while the
worker runs, and stop it with the worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable


@contextlib.asynccontextmanager
async def in_background(run: Callable[[], Awaitable[None]] | None) -> AsyncIterator[None]:
    """Run ``run()`` as a task while the block runs (nothing when None); cancel it after."""
    if run is None:
        yield
        return
    task = asyncio.ensure_future(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
