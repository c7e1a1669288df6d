"""Raw errors never reach users (issue 13, item 7): an action on a case no worker
serves says "no worker answered", and the database URL mistakes name the path."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.app import app
from client.facade import CaseError, WorkerUnavailable
from domain.actions import Withdraw
from readmodel.database import reset_engines
from runtime.devserver import wait_until_serving
from runtime.settings import get_settings
from tests.harness import CLERK, signed_desk
from tests.test_readmodel_replaced import applicant, request

runner = CliRunner()


async def test_an_action_no_worker_answers_says_so(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    import client.facade

    monkeypatch.setattr(client.facade, "ACTION_TIMEOUT", client.facade.timedelta(seconds=3))
    task_queue = f"nobody-{uuid.uuid4().hex[:8]}"  # no worker polls it
    desk = signed_desk(dev_env.client, task_queue)
    case_no = f"NW{uuid.uuid4().hex[:8].upper()}"
    await desk.start_case(request(case_no, applicant()))
    with pytest.raises(CaseError) as refused:
        await desk.act(case_no, Withdraw(actor=CLERK, reason="申请人撤回"))
    assert "no worker answered within 3s" in str(refused.value)
    assert task_queue in str(refused.value) and "Timeout expired" not in str(refused.value)


async def test_a_query_no_worker_answers_says_so(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK reports its own timeout as CANCELLED "Timeout expired" (not
    DEADLINE_EXCEEDED): a Query nobody answers is asked again until its time is up,
    then said in words."""
    import client.facade

    monkeypatch.setattr(client.facade, "QUERY_TRY_WAIT", client.facade.timedelta(seconds=1))
    monkeypatch.setattr(client.facade, "QUERY_TIMEOUT", client.facade.timedelta(seconds=3))
    task_queue = f"nobody-{uuid.uuid4().hex[:8]}"  # no worker polls it
    desk = signed_desk(dev_env.client, task_queue)
    case_no = f"NQ{uuid.uuid4().hex[:8].upper()}"
    await desk.start_case(request(case_no, applicant()))
    for ask in (desk.state, desk.reconciliation):
        with pytest.raises(WorkerUnavailable) as refused:
            await ask(case_no)
        assert "no worker answered within 3s" in str(refused.value)
        assert "Timeout expired" not in str(refused.value)


def test_no_poller_after_a_server_restart_does_not_call_the_case_closed() -> None:
    """Right after the dev server restarts, before the worker polls again, Temporal
    refuses Queries and Updates with FAILED_PRECONDITION "no poller seen" (seen in the
    chaos run): the case is open, the worker is away, and the message says that."""
    from temporalio.service import RPCError, RPCStatusCode

    from client.facade import CaseDesk

    error = RPCError(
        "no poller seen for task queue recently, worker may be down",
        RPCStatusCode.FAILED_PRECONDITION,
        b"",
    )
    worded = CaseDesk._rpc_error("JN-1", error)
    # Its own type: tools that retry (the simulator) send it again, unlike a refusal.
    assert isinstance(worded, WorkerUnavailable) and "no worker is polling" in str(worded)
    assert "is closed" not in str(worded)


# --------------------------------------------------------------- read-model paths
@pytest.fixture
def database_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set ONECHAIN_DATABASE_URL through the returned monkeypatch; settings re-read."""
    reset_engines()
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()  # the environment first: settings read after this are the session's
    reset_engines()
    get_settings.cache_clear()


def one_line_error(monkeypatch: pytest.MonkeyPatch, url: str, *command: str) -> str:
    monkeypatch.setenv("ONECHAIN_DATABASE_URL", url)
    get_settings.cache_clear()
    reset_engines()
    result = runner.invoke(app, list(command))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output and "FileExistsError" not in result.output
    return result.stderr


@pytest.mark.parametrize(
    "command", [["cases", "list"], ["db", "upgrade"], ["backup", "create", "x"]]
)
def test_a_folder_where_the_sqlite_file_should_be_is_named(
    database_at: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    folder = tmp_path / "readmodel.sqlite3"
    folder.mkdir()
    line = one_line_error(database_at, f"sqlite:///{folder}", *command)
    assert str(folder) in line and "is a folder, not a file" in line


def test_a_file_where_the_folder_should_be_is_named(
    database_at: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    in_the_way = tmp_path / "data"
    in_the_way.write_text("a file where the data folder should be")
    database = in_the_way / "sub" / "readmodel.sqlite3"
    line = one_line_error(database_at, f"sqlite:///{database}", "db", "upgrade")
    assert str(database) in line and "cannot create the folder" in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+pg8000://u:secret@db.example/rm", "through psycopg 3, not pg8000"),
        ("postgresql+asyncpg://u:secret@db.example/rm", "through psycopg 3, not asyncpg"),
        ("sqlite+pysqlcipher:///x.db", "not installed"),
    ],
)
def test_a_driver_that_is_not_installed_is_named(
    database_at: pytest.MonkeyPatch, url: str, says: str
) -> None:
    line = one_line_error(database_at, url, "cases", "list")
    assert says in line and "secret" not in line


# ------------------------------------------------------------ the server's death
def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_server_says_when_its_dev_server_dies_and_exits_non_zero(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    env = {**os.environ, "ONECHAIN_DATA_DIR": str(data)}
    env.pop("ONECHAIN_KEYS_DIR", None)
    env.pop("ONECHAIN_DATABASE_URL", None)
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
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await wait_until_serving(f"127.0.0.1:{port}", timeout=60)
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "the server command started no dev server"
        for child in children:
            child.send_signal(signal.SIGKILL)  # the dev server dies on its own
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 3, stderr
    assert "the Temporal dev server" in stderr and "was killed by signal 9" in stderr
    assert str(data / "temporal.log") in stderr
    assert stdout == ""


def test_server_shows_the_last_lines_of_a_dev_server_that_fails(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "temporal.sqlite3").write_bytes(b"not a database " * 4096)
    env = {**os.environ, "ONECHAIN_DATA_DIR": str(data)}
    env.pop("ONECHAIN_KEYS_DIR", None)
    env.pop("ONECHAIN_DATABASE_URL", None)
    subprocess.run(  # the read model first: `server` checks it and never makes it
        [sys.executable, "-c", "from cli.app import main; main()", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    done = subprocess.run(
        [
            *(sys.executable, "-c", "from cli.app import main; main()"),
            *("server", "--headless", "--port", str(free_port())),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "the Temporal dev server" in done.stderr and "exited with code" in done.stderr
    assert f"its last lines ({data / 'temporal.log'})" in done.stderr
    assert "file is not a database" in done.stderr  # the server's own words


async def test_an_action_cut_off_by_a_dying_server_says_so_not_no_worker(tmp_path: Path) -> None:
    """The server is killed while an action waits for its answer: the clerk reads that
    the connection broke and the action may have been applied, not that no worker
    answered within a minute (the chaos run showed the old wording after 2 s)."""
    from runtime.connect import client_plugins
    from runtime.devserver import start_dev_server
    from tests.harness import sealing_converter

    port = free_port()
    address = f"127.0.0.1:{port}"
    server = start_dev_server(tmp_path / "temporal.sqlite3", port=port, headless=True)
    try:
        await wait_until_serving(address, server)
        from temporalio.client import Client

        client = await Client.connect(
            address, data_converter=sealing_converter(), plugins=client_plugins()
        )
        desk = signed_desk(client, f"nobody-{uuid.uuid4().hex[:8]}")  # no worker: it waits
        case_no = f"CO{uuid.uuid4().hex[:8].upper()}"
        await desk.start_case(request(case_no, applicant()))
        action = asyncio.create_task(desk.act(case_no, Withdraw(actor=CLERK, reason="申请人撤回")))
        await asyncio.sleep(1.5)
        assert not action.done()
        server.send_signal(signal.SIGKILL)
        with pytest.raises(CaseError) as cut:
            await asyncio.wait_for(action, timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
    said = str(cut.value)
    assert isinstance(cut.value, WorkerUnavailable)  # tools that retry, retry it
    assert "Temporal stopped answering" in said and "may have been applied" in said
    assert "no worker answered" not in said
    assert case_no in said and "cases show" in said
