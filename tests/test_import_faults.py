"""``onechain import --json`` while its Temporal server is killed (SIGKILL) and comes
back: stdout is one JSON document and nothing else, and the summary's count of started
cases is what Temporal holds, including starts whose reply was lost."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.actions import workflow_id_for
from runtime.devserver import start_dev_server, stop_dev_server, wait_until_serving
from simulator.demo import COMMON_HEADERS, demo_row
from tests.harness import sign_in_cli
from tests.test_durability import free_port

ROWS = 1500


def write_rows(path: Path, prefix: str) -> list[str]:
    rng = random.Random(13)
    received = datetime.now(UTC) - timedelta(hours=1)
    rows = [
        demo_row("company", rng, case_no=f"{prefix}-{i:05d}", received_at=received)
        for i in range(ROWS)
    ]
    headers = list(COMMON_HEADERS) + [h for h in rows[0] if h not in COMMON_HEADERS]
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows([r.get(h, "") for h in headers] for r in rows)
    return [str(r["案件编号"]) for r in rows]


async def held_by_temporal(client: Client, case_numbers: list[str]) -> int:
    """How many of ``case_numbers`` Temporal has a workflow for (describe each)."""
    gate = asyncio.Semaphore(32)

    async def exists(case_no: str) -> bool:
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id_for(case_no)).describe()
            except RPCError as error:
                if error.status is RPCStatusCode.NOT_FOUND:
                    return False
                raise
            return True

    return sum(await asyncio.gather(*(exists(c) for c in case_numbers)))


@pytest.mark.parametrize(
    "outage_s",
    [
        2.0,  # within the SDK's own retries (same request id: Temporal dedupes)
        12.0,  # longer than those: the importer's retry meets its own lost starts
    ],
)
async def test_json_stays_json_and_counts_what_temporal_holds_when_the_server_dies(
    tmp_path: Path, outage_s: float
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    db_file = tmp_path / "temporal.sqlite3"
    server = start_dev_server(db_file, port=port, headless=True)
    try:
        client = await wait_until_serving(address, server)
        prefix = f"IF{uuid.uuid4().hex[:6].upper()}"
        path = tmp_path / "big.csv"
        case_numbers = write_rows(path, prefix)
        session = tmp_path / "session.json"
        sign_in_cli(session, "window_clerk:window", user_id="clerk1", name="窗口张三")
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": address,
            "ONECHAIN_SESSION_FILE": str(session),
            # No worker polls this queue: the cases are only started, never run.
            "ONECHAIN_TASK_QUEUE": f"import-{uuid.uuid4().hex[:6]}",
        }
        command = [str(Path(sys.executable).parent / "onechain"), "import", str(path)]
        command += ["--json", "--concurrency", "8"]
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        first_case = client.get_workflow_handle(workflow_id_for(case_numbers[0]))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:  # wait until the start phase has begun
            try:
                await first_case.describe()
                break
            except RPCError:
                assert loop.time() < deadline and process.returncode is None
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        server.kill()  # SIGKILL: starts in flight lose their replies
        server.wait()
        await asyncio.sleep(outage_s)
        server = start_dev_server(db_file, port=port, headless=True)
        client = await wait_until_serving(address, server)

        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=300)
        assert process.returncode == 0, stderr.decode()
        assert "Unavailable" in stderr.decode()  # the SDK met the dead server (on stderr)
        document = json.loads(stdout)  # the whole of stdout is the one document
        summary = document["summary"]
        held = await held_by_temporal(client, case_numbers)
        assert summary["started"] == held == ROWS, (summary, held)
        assert summary["already_existing"] == 0 and summary["uncertain"] == 0
        assert summary["not_attempted"] == 0
        if outage_s > 10:  # the SDK gave up on the starts in flight; the importer did not
            assert summary["retried"] > 0
    finally:
        stop_dev_server(server)
