"""Nothing goes around the door (issue 20): Temporal reachable only with a client
certificate, and a flood of signals that cannot grow a case's history.

* Through ``deploy/nginx-temporal-mtls.conf`` (Debian's nginx, started here on a
  temporary folder in front of the session's dev server on loopback): a real
  ``onechain worker`` process and the ``onechain`` CLI reach Temporal with the standard
  ``TEMPORAL_TLS_*`` variables and a case runs end to end; a client without a
  certificate, or with one from another CA, is refused by the proxy, so 2,000 signals
  from it leave the case's history exactly as it was.
* On the embedded default (no proxy), the dev server's dynamic configuration caps the
  signals a case accepts (``runtime.devserver.MAX_SIGNALS_PER_CASE``): a flood adds at
  most that many signals, then none.

Skipped, with the reason, where nginx is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from client.facade import CaseDesk
from domain.case import CaseStatus
from domain.roles import Actor, Role
from runtime.connect import connect
from runtime.devserver import MAX_SIGNALS_PER_CASE
from runtime.keys import keys_dir
from runtime.settings import get_settings
from tests.harness import CLERK, CaseDriver, fresh_applicant, reviewer, session_signer
from tests.mtls_proxy import Identity, Proxy, nginx_binary, start_proxy, stop_proxy
from workflows import registry
from workflows.chain import Chain
from workflows.form_samples import sample_values

pytestmark = pytest.mark.insider

ONECHAIN = str(Path(sys.executable).parent / "onechain")
FLOOD = 2000
ADMIN = Actor(user_id="admin-insider", name="日历管理员", role=Role.ADMINISTRATOR)
#: A signal as someone without onechain's keys would send it: the calendar reload, in
#: clear JSON, with no session token (the worker refuses it, but only once it is in
#: the history).
FLOOD_INPUT = Payloads(
    payloads=[Payload(metadata={"encoding": b"json/plain"}, data=b'{"calendar": null}')]
)


@pytest.fixture(scope="module")
def proxy(dev_env: WorkflowEnvironment) -> Iterator[Proxy]:
    nginx = nginx_binary()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light): no mTLS proxy to test")
    running = start_proxy(nginx, dev_env.client.service_client.config.target_host)
    try:
        yield running
    finally:
        stop_proxy(running)


@pytest.fixture
async def flooded(dev_env: WorkflowEnvironment) -> AsyncIterator[list[str]]:
    """Case numbers to terminate after the test: a case still running at its signal cap
    must not be left for the session's other tests (it refuses their broadcasts)."""
    cases: list[str] = []
    yield cases
    for case_no in cases:
        with contextlib.suppress(Exception):  # it may have ended already
            await dev_env.client.get_workflow_handle(f"case-{case_no}").terminate("test over")


def tls_for(proxy: Proxy, identity: Identity | None) -> TLSConfig:
    return TLSConfig(
        server_root_ca_cert=proxy.ca.read_bytes(),
        client_cert=identity.cert.read_bytes() if identity else None,
        client_private_key=identity.key.read_bytes() if identity else None,
    )


def the_chain() -> Chain:
    """A registered chain that runs with sample values and approvals alone: the one with
    the fewest departments (whichever chains exist today)."""
    return min(registry.all_chains(), key=lambda chain: (len(chain.departments), chain.code))


async def history_length(client: Client, case_no: str) -> int:
    response = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=f"case-{case_no}")
        )
    )
    return response.workflow_execution_info.history_length


async def flood(client: Client, case_no: str, count: int = FLOOD) -> tuple[int, set[str]]:
    """``count`` calendar-reload signals, 16 at a time, none retried; returns how many
    the server accepted and the distinct refusals."""
    gate = asyncio.Semaphore(16)
    accepted = 0
    refusals: set[str] = set()

    async def one() -> None:
        nonlocal accepted
        async with gate:
            try:
                await client.workflow_service.signal_workflow_execution(
                    SignalWorkflowExecutionRequest(
                        namespace=client.namespace,
                        workflow_execution=WorkflowExecution(workflow_id=f"case-{case_no}"),
                        signal_name="reload_calendar",
                        input=FLOOD_INPUT,
                        request_id=str(uuid.uuid4()),
                    ),
                    retry=False,
                )
                accepted += 1
            except Exception as error:
                refusals.add(str(error)[:160])

    await asyncio.gather(*(one() for _ in range(count)))
    return accepted, refusals


async def start_case(driver: CaseDriver, chain: Chain) -> str:
    kind = "person" if chain.applicant_kind == "person" else "organisation"
    case_no = await driver.start(
        chain.code, sample_values(chain.form), applicant=fresh_applicant(kind)
    )
    await driver.wait_for_tasks(case_no)
    return case_no


def start_worker(folder: Path, env: dict[str, str], task_queue: str) -> subprocess.Popen[bytes]:
    """``onechain worker`` as a service would run it, on its own data folder (a copy of
    the keys) and the session's read model, dialling Temporal as ``env`` says."""
    folder.mkdir(mode=0o700)
    shutil.copytree(keys_dir(get_settings()), folder / "keys")
    full = {
        **os.environ,
        **env,
        "ONECHAIN_DATA_DIR": str(folder),
        "ONECHAIN_DATABASE_URL": get_settings().resolved_database_url,
        "ONECHAIN_TASK_QUEUE": task_queue,
    }
    full.pop("ONECHAIN_KEYS_DIR", None)
    log = (folder / "worker.log").open("w")
    return subprocess.Popen(
        [ONECHAIN, "worker"], env=full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


async def wait_for_poller(client: Client, task_queue: str, worker: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if worker.poll() is not None:
            raise AssertionError(f"onechain worker exited with code {worker.returncode}")
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        if response.pollers:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"onechain worker never polled {task_queue} through the proxy")


def cli(env: dict[str, str], *words: str) -> subprocess.CompletedProcess[str]:
    """One `onechain` command in its own process, with only ``env``'s TEMPORAL_* settings."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    return subprocess.run(
        [ONECHAIN, *words], env={**full, **env}, capture_output=True, text=True, timeout=120
    )


async def test_worker_and_cli_reach_temporal_through_the_proxy_only_with_a_certificate(
    proxy: Proxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flooded: list[str]
) -> None:
    began = time.monotonic()
    chain = the_chain()
    signer = session_signer()
    for department in chain.departments:  # the worker reads people every few seconds
        signer.register(reviewer(department))
    signer.register(CLERK)
    allowed = proxy.client_env(proxy.client)
    task_queue = f"mtls-{uuid.uuid4().hex[:8]}"
    worker = start_worker(tmp_path / "worker", allowed, task_queue)
    try:
        # This process, too, dials only the proxy, with runtime.connect reading the
        # same variables (temporalio's envconfig) as the worker and the CLI.
        for key, value in allowed.items():
            monkeypatch.setenv(key, value)
        client = await connect()
        assert client.service_client.config.target_host == proxy.address
        await wait_for_poller(client, task_queue, worker)
        driver = CaseDriver(client, task_queue)
        case_no = await start_case(driver, chain)
        flooded.append(case_no)
        outcome = await driver.run_to_end(case_no)
        assert outcome.status is CaseStatus.APPROVED

        shown = cli(allowed, "cases", "show", case_no, "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["status"] == "approved"

        for identity in (None, proxy.stranger):
            refused = cli(proxy.client_env(identity), "cases", "show", case_no, "--json")
            assert refused.returncode != 0 and refused.stdout == ""
            assert refused.stderr.startswith("error: ")
            assert "client certificate required" in refused.stderr
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    for identity in (None, proxy.stranger):
        with pytest.raises(RuntimeError, match="client certificate required"):
            await Client.connect(proxy.address, tls=tls_for(proxy, identity))
    print(f"\nmTLS proxy test: {time.monotonic() - began:.1f} s (case {chain.code})")


async def test_a_signal_flood_without_a_certificate_never_reaches_the_case(
    proxy: Proxy, driver: CaseDriver, flooded: list[str]
) -> None:
    case_no = await start_case(driver, the_chain())
    flooded.append(case_no)
    before = await history_length(driver.client, case_no)
    anonymous = await Client.connect(proxy.address, tls=tls_for(proxy, None), lazy=True)
    began = time.monotonic()
    accepted, refusals = await flood(anonymous, case_no)
    took = time.monotonic() - began
    await asyncio.sleep(1.0)  # what got through would be in the history by now
    after = await history_length(driver.client, case_no)
    print(f"\nflood through the proxy: {FLOOD} refused in {took:.1f} s; history {before} → {after}")
    assert accepted == 0
    assert all("client certificate required" in refusal for refusal in refusals), refusals
    assert after == before  # under 1 %: not one event
    assert (await driver.state(case_no)).status is CaseStatus.RUNNING


async def test_the_embedded_default_caps_the_signals_a_case_accepts(
    driver: CaseDriver, flooded: list[str]
) -> None:
    """No proxy: the session's dev server runs with ``storage_flags()`` as ``onechain
    server`` does. A flood reaches the case up to the cap, then stops; the case goes on."""
    case_no = await start_case(driver, the_chain())
    flooded.append(case_no)
    before = await history_length(driver.client, case_no)
    accepted, refusals = await flood(driver.client, case_no)
    assert accepted == MAX_SIGNALS_PER_CASE
    assert refusals == {"exceeded workflow execution limit for signal events"}
    capped = await settled_history(driver.client, case_no)

    accepted_again, _ = await flood(driver.client, case_no)
    after = await settled_history(driver.client, case_no)
    print(
        f"\nflood on the embedded default: {accepted} of {FLOOD} signals accepted; history "
        f"{before} → {capped} (worker done); a second flood of {FLOOD}: {accepted_again} "
        f"accepted, history {capped} → {after}"
    )
    assert accepted_again == 0
    assert after == capped  # past the cap a flood adds nothing (under 1 %)
    # An administrator's `calendar load` still reaches every other case: the capped one
    # is skipped, not the end of the broadcast.
    administrator = CaseDesk(
        driver.client, task_queue=driver.desk.task_queue, credentials=session_signer().sign(ADMIN)
    )
    refused: list[str] = []
    await administrator.broadcast_calendar_reload(lambda number, _why: refused.append(number))
    assert case_no in refused  # named, so `calendar load` can say who keeps the old calendar
    outcome = await driver.run_to_end(case_no, max_rounds=40)
    assert outcome.status is CaseStatus.APPROVED


async def settled_history(client: Client, case_no: str, *, timeout: float = 60.0) -> int:
    """The history length once the worker has handled every signal (unchanged for 1 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = await history_length(client, case_no)
    while loop.time() < deadline:
        await asyncio.sleep(1.0)
        now = await history_length(client, case_no)
        if now == last:
            return now
        last = now
    raise AssertionError(f"case {case_no}'s history still grew after {timeout:.0f} s")
