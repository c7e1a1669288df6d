"""``onechain server``: a fresh data folder gets its keys and owner-only files, and a
SIGTERM stops the dev server it started (which runs in a session of its own)."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

from runtime.devserver import port_in_use, wait_until_serving


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_server_makes_keys_owner_only_and_stops_its_dev_server_on_sigterm(
    tmp_path: Path,
) -> None:
    data, port = tmp_path / "data", free_port()
    env = {**os.environ, "ONECHAIN_DATA_DIR": str(data)}
    env.pop("ONECHAIN_KEYS_DIR", None)
    subprocess.run(  # the read model first: `server` checks it and never makes it
        [sys.executable, "-c", "from cli.app import main; main()", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from cli.app import main; main()"),
            *("server", "--headless", "--port", str(port)),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        await wait_until_serving(f"127.0.0.1:{port}", timeout=60)
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "temporal.sqlite3").stat().st_mode) == 0o600
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "created keys p-" in output
    assert not port_in_use("127.0.0.1", port)  # the dev server went with it
