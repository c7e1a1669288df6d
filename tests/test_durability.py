"""Durability on the embedded default: a worker process killed mid-case and the dev
server itself restarted; the case continues and every decision counts exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from domain.case import CaseStatus
from runtime.connect import client_plugins
from runtime.devserver import start_dev_server, stop_dev_server, wait_until_serving
from tests.harness import CLERK, CaseDriver, reviewer, sealing_converter, session_signer
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from workflows import registry


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Worker:
    """`onechain worker` as a real OS process, so it can be killed with SIGKILL."""

    def __init__(self, address: str, task_queue: str, log: Path) -> None:
        env = {**os.environ, "TEMPORAL_ADDRESS": address, "ONECHAIN_TASK_QUEUE": task_queue}
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from cli.app import main; main()", "worker"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            # A stopping worker drains its projector first (up to 15 s, worker.DRAIN_SECONDS).
            self.process.wait(timeout=45)
        self.log.close()


@pytest.fixture
def server_port() -> int:
    return free_port()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


async def decided_once(driver: CaseDriver, case_no: str) -> Counter[tuple[str | None, str | None]]:
    state = await driver.state(case_no)
    return Counter((e.task_id, e.department) for e in state.events if e.kind == "decided")


async def test_killed_worker_and_restarted_server_lose_and_repeat_nothing(
    tmp_path: Path, server_port: int, workers: list[Worker]
) -> None:
    db_file = tmp_path / "temporal.sqlite3"
    address = f"127.0.0.1:{server_port}"
    server = start_dev_server(db_file, port=server_port, headless=True)
    try:
        await wait_until_serving(address, server)
        client = await Client.connect(
            address, data_converter=sealing_converter(), plugins=client_plugins()
        )
        driver = CaseDriver(client, "durability")
        # The worker processes read the people from the database when they start: register
        # everyone this case will act as first (a later registration reaches them only
        # at their next directory refresh).
        for actor in [
            CLERK,
            *(reviewer(d) for d in registry.get_chain("kindergarten").departments),
        ]:
            session_signer().register(actor)
        workers.append(Worker(address, "durability", tmp_path / "worker1.log"))

        case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
        state = await driver.wait_for_tasks(case_no, timeout=30)
        first, second, third, fourth = state.open_tasks
        await driver.decide(case_no, first.id, first.departments[0])
        await driver.decide(case_no, second.id, second.departments[0])

        workers[0].kill()
        # Sent while no worker runs: the server holds it until a new worker takes it.
        pending = asyncio.create_task(driver.decide(case_no, third.id, third.departments[0]))
        await asyncio.sleep(1.0)
        assert not pending.done()
        workers.append(Worker(address, "durability", tmp_path / "worker2.log"))
        await asyncio.wait_for(pending, timeout=60)
        await driver.decide(case_no, fourth.id, fourth.departments[0])

        stop_dev_server(server)
        server = start_dev_server(db_file, port=server_port, headless=True)
        await wait_until_serving(address, server)
        driver = CaseDriver(
            await Client.connect(
                address, data_converter=sealing_converter(), plugins=client_plugins()
            ),
            "durability",
        )

        state = await driver.wait_for_tasks(case_no, timeout=60)
        assert state.stage == "联合踏勘"
        outcome = await asyncio.wait_for(driver.run_to_end(case_no), timeout=120)
        assert outcome.status is CaseStatus.APPROVED

        decisions = await decided_once(driver, case_no)
        assert decisions[(first.id, first.departments[0])] == 1
        assert decisions[(third.id, third.departments[0])] == 1
        assert set(decisions.values()) == {1}
        final = await driver.state(case_no)
        reviews = [t for t in final.tasks if t.kind.value in ("review", "joint_survey")]
        assert sum(len(t.parts) for t in reviews) == sum(decisions.values())
    finally:
        stop_dev_server(server)


def test_up_says_so_and_exits_3_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from cli.app import main; main()",
                "up",
                "--no-tui",
                "--port",
                str(port),
            ],
            env={
                **os.environ,
                "ONECHAIN_DATA_DIR": str(tmp_path),
                "ONECHAIN_SIGNIN_URL": f"http://127.0.0.1:{free_port()}",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 3
    assert f"port 127.0.0.1:{port} is already in use" in result.stderr
