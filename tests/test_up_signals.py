"""``onechain up`` in a real terminal (a pty), with its console or without: closing the
terminal (SIGHUP) or ``kill`` (SIGTERM) stops the worker and the dev server it started,
so the next ``onechain up`` finds the port and the data files free.

Before, SIGHUP raised KeyboardInterrupt into the running console: ``up`` then waited
forever in asyncio's task cancellation and its dev server, in a session of its own,
kept running.
"""

from __future__ import annotations

import os
import pty
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.test_sealed import free_port


def serving(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def drain(fd: int) -> None:
    """Read what the console drew, so it never blocks on a full terminal."""
    try:
        while os.read(fd, 65536):
            pass
    except (BlockingIOError, OSError):
        pass


@pytest.mark.parametrize(
    ("sig", "console"),
    [(signal.SIGHUP, []), (signal.SIGTERM, []), (signal.SIGHUP, ["--no-tui"])],
    ids=["hang-up", "terminate", "hang-up-without-console"],
)
def test_up_stops_its_dev_server_when_the_terminal_closes_or_on_kill(
    tmp_path: Path, sig: signal.Signals, console: list[str]
) -> None:
    port = free_port()
    controller, terminal = pty.openpty()
    os.set_blocking(controller, False)
    env = {
        **os.environ,
        "ONECHAIN_DATA_DIR": str(tmp_path / "data"),
        "ONECHAIN_SIGNIN_URL": f"http://127.0.0.1:{free_port()}",
        "ONECHAIN_TASK_QUEUE": f"up-{uuid.uuid4().hex[:6]}",
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "40",
    }
    env.pop("ONECHAIN_KEYS_DIR", None)
    up = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cli.app import main; main()",
            "up",
            "--demo",
            "--headless",
            *console,
            "--port",
            str(port),
        ],
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,  # the terminal's session, as a shell gives it
    )
    os.close(terminal)
    try:
        deadline = time.monotonic() + 90
        while not serving(port):
            drain(controller)
            assert up.poll() is None, "onechain up ended before its dev server served"
            assert time.monotonic() < deadline, "the dev server never served"
            time.sleep(0.2)
        servers = [
            c for c in psutil.Process(up.pid).children(recursive=True) if "temporal" in c.name()
        ]
        assert servers, "up started no dev server"
        time.sleep(3)  # the console (if any) and the demo are running
        drain(controller)
        up.send_signal(sig)
        deadline = time.monotonic() + 60
        while up.poll() is None:
            drain(controller)
            assert time.monotonic() < deadline, f"onechain up did not stop on {sig.name}"
            time.sleep(0.2)
        _gone, alive = psutil.wait_procs(servers, timeout=15)
        assert not alive, f"the dev server outlived onechain up ({sig.name})"
        assert not serving(port)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        for child in psutil.process_iter(["cmdline"]):
            if str(port) in " ".join(child.info["cmdline"] or []) and child.pid != os.getpid():
                child.kill()
        os.close(controller)
