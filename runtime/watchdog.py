"""Keep the embedded dev server running while ``onechain up`` runs.

If the ``temporal`` child dies (killed, out of memory, a crash), the worker and the
console would only see "connection lost" forever. The watchdog notices, says so,
starts it again on the same ports and the same SQLite file (no data is lost: the
server's state is that file), and says when it answers again; if it cannot, it says
how to recover by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Callable
from typing import Any

from runtime.devserver import DevServerError, wait_until_serving

Process = subprocess.Popen[bytes]
#: ``report(event, values)``: ``server.died`` (code), ``server.restarted``,
#: ``server.gone`` (message): the caller words it for its audience.
Report = Callable[[str, dict[str, Any]], None]


class DevServerWatch:
    """Holds the current dev server process, restarting it when it exits."""

    def __init__(self, process: Process, restart: Callable[[], Process], address: str) -> None:
        self.process = process
        self._restart = restart
        self.address = address
        self.restarts = 0

    async def run(self, stop: asyncio.Event, report: Report, poll: float = 1.0) -> None:
        """Until ``stop``: check the process every ``poll`` seconds, restart it if it died."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
            if stop.is_set():
                return
            code = self.process.poll()
            if code is None:
                continue
            report("server.died", {"code": code})
            try:
                self.process = self._restart()
                await wait_until_serving(self.address, self.process)
            except DevServerError as error:
                report("server.gone", {"message": str(error)})
                return
            self.restarts += 1
            report("server.restarted", {})
