"""The chaos run's deployment and the loop that breaks it.

:class:`Deployment` holds one dev server and the workers; :func:`chaos_loop` kills one
of them with SIGKILL at random moments and starts it again (same port, same files);
:func:`supervise` plays systemd's ``Restart=always``: a part that exits on its own
(e.g. a worker started while the server was down says "cannot reach Temporal" and
exits) is started again, and counted, so the run shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from tests.chaos.processes import DevServer, WorkerProcess, log_tail

#: Seconds between one part coming back and the next kill, and how long a part stays dead.
BETWEEN_KILLS = (2.0, 6.0)
DOWNTIME = (0.0, 2.0)
SUPERVISE_EVERY = 0.5


@dataclass
class Deployment:
    """The run's parts, restartable: one dev server, workers, the shared read model."""

    data_dir: Path
    server: DevServer
    workers: list[WorkerProcess]
    engine: Engine
    account_id: str
    api_key: str
    kills: Counter[str] = field(default_factory=Counter)
    #: Parts that exited without being killed (and were started again), by kind.
    own_exits: Counter[str] = field(default_factory=Counter)
    #: Parts the chaos loop holds down right now (the supervisor leaves them dead).
    held: set[str] = field(default_factory=set)

    def logs(self) -> str:
        return "\n".join(log_tail(p.log) for p in (self.server, *self.workers))

    @property
    def task_queue(self) -> str:
        return self.workers[0].task_queue


async def chaos_loop(
    parts: Deployment, kills: int, rng: random.Random, started: asyncio.Event
) -> None:
    """``kills`` times: wait a random moment, kill -9 the server or a worker, leave it
    dead a random while, start it again on the same port and files."""
    await started.wait()
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(*BETWEEN_KILLS))
        target = rng.choice(["server", *(w.name for w in parts.workers)])
        parts.held.add(target)
        try:
            if target == "server":
                parts.server.kill()
                parts.kills["server"] += 1
                await asyncio.sleep(rng.uniform(*DOWNTIME))
                await parts.server.start()
            else:
                worker = next(w for w in parts.workers if w.name == target)
                worker.kill()
                parts.kills["worker"] += 1
                await asyncio.sleep(rng.uniform(*DOWNTIME))
                worker.start()
        finally:
            parts.held.discard(target)


async def supervise(parts: Deployment, stop: asyncio.Event) -> None:
    """Until ``stop``: start again any part that exited on its own."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SUPERVISE_EVERY)
        await revive(parts)


async def revive(parts: Deployment) -> None:
    """Start the parts that are dead and not held down by the chaos loop."""
    server = parts.server
    if (
        "server" not in parts.held
        and server.process is not None
        and server.process.poll() is not None
    ):
        parts.own_exits["server"] += 1
        await server.start()
    for worker in parts.workers:
        if worker.name not in parts.held and not worker.alive:
            parts.own_exits["worker"] += 1
            worker.start()
