"""The parts the chaos run kills: a real Temporal dev server and real ``onechain worker``
processes, each restartable on the same port and the same files.

Both run in their own process group (``start_new_session``), so a kill -9 reaches the
process itself and nothing of the test; their output goes to log files in the run's
folder, which the test prints the tail of when something goes wrong.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from runtime.devserver import start_dev_server, stop_dev_server, wait_until_serving

ONECHAIN = str(Path(sys.executable).parent / "onechain")


def free_port() -> int:
    """A port nobody listens on now (the server keeps it across its restarts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def quiet_runtime() -> Runtime:
    """An SDK runtime for a test's client that logs errors only: while the server is down
    the SDK core warns on every call it retries (hundreds of lines); tests count them."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


def log_tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for an assertion message."""
    if not path.exists():
        return f"({path.name}: no output)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join([f"--- {path.name} (last {lines} lines)", *text[-lines:]])


@dataclass
class DevServer:
    """The Temporal dev server on ``port`` with its own SQLite file in ``folder``."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "temporal.log"

    async def start(self) -> None:
        """Start (or restart) on the same port and file; returns when it answers."""
        self.process = start_dev_server(
            self.folder / "temporal.sqlite3",
            port=self.port,
            headless=True,
            log_file=self.log,
        )
        self.starts += 1
        await wait_until_serving(self.address, self.process, timeout=60)

    def kill(self) -> None:
        """kill -9: no shutdown of any kind."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            stop_dev_server(self.process)


@dataclass
class WorkerProcess:
    """One ``onechain worker`` on the run's data folder (its read model and keys)."""

    name: str
    data_dir: Path
    address: str
    task_queue: str
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.data_dir / f"worker-{self.name}.log"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "ONECHAIN_DATA_DIR": str(self.data_dir),
            "ONECHAIN_TASK_QUEUE": self.task_queue,
            "TEMPORAL_ADDRESS": self.address,
        }
        for name in ("ONECHAIN_KEYS_DIR", "ONECHAIN_DATABASE_URL", "ONECHAIN_API_KEY"):
            env.pop(name, None)
        return env

    def start(self) -> None:
        output = self.log.open("ab")
        output.write(f"\n=== start {self.starts + 1}\n".encode())
        output.flush()
        self.process = subprocess.Popen(
            [ONECHAIN, "worker"],
            env=self.env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output.close()
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.alive:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def run_cli(self, *words: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Another ``onechain`` command with this worker's settings (e.g. reconcile)."""
        return subprocess.run(
            [ONECHAIN, *words],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def data_folder(root: Path, keys: Path) -> Path:
    """The deployment's data folder: a copy of the session's keys (what the test
    process seals payloads and signs with), the read model beside them."""
    folder = root / "data"
    folder.mkdir(mode=0o700)
    shutil.copytree(keys, folder / "keys")
    return folder
