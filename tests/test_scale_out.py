"""Past one machine: two worker processes with two data folders, one dev server, one
PostgreSQL. Cases spread over both; one worker is killed with SIGKILL in the middle;
every case completes, the read model matches Temporal (reconcile changes nothing), and
an e-licence issued by a case on one worker replaces the material for a case on the other.

What a killed worker costs, as found here (2026-12-02):

* Its cases move to the other worker only after Temporal's timeouts (a workflow task
  it had started, its sticky queue, an activity it ran: 10 s each, sometimes one after
  the other). Meanwhile an Update or Query to such a case may get no answer, and the
  desk says "no worker answered" (``WorkerUnavailable``); the departments here try
  again, as a clerk would, for up to ``CASE_PATIENCE``. A Query is asked again every
  5 s (``CaseDesk._ask``) because one sent to a dead worker's sticky queue waits there
  until the server gives up on that worker. ``LICENCE_TIMEOUT`` is 10 s, not 60 s.
* What its projector had not yet written is in its journal, in its own data folder:
  the service manager starts it again after ``RestartSec`` (the shipped unit file),
  and it writes those cases. A machine lost for good needs ``onechain reconcile``
  (docs/deploy.md).

Not in the default run (slow: about a minute); ``./run.sh test -m scale_out``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from client.facade import CaseDesk, WorkerUnavailable
from domain.case import CaseStatus, MaterialState
from domain.roles import Actor, Role
from readmodel.database import create_read_model, ready_engine
from runtime.keys import keys_dir, load_signing_keys
from runtime.settings import get_settings
from tests.harness import CLERK, CaseDriver, applicant_holding, fresh_applicant, reviewer
from trust.signer import ImpersonatingSigner
from workflows import registry
from workflows.flow_analysis import form_issuing
from workflows.form_samples import sample_values

#: Not in the default run (see the module notes): ``./run.sh test -m scale_out``.
pytestmark = pytest.mark.scale_out
CASES = 200
#: How long a case may keep answering "no worker answered" before the test gives up on
#: it: Temporal moves a dead worker's cases after its timeouts (10 s each, some in a row).
CASE_PATIENCE = 120.0
#: The worker's service unit: its ``RestartSec`` is how long a killed worker stays down.
SERVICE_UNIT = Path(__file__).resolve().parent.parent / "deploy" / "onechain-worker.service"


def restart_seconds() -> float:
    for line in SERVICE_UNIT.read_text().splitlines():
        if line.startswith("RestartSec="):
            return float(line.removeprefix("RestartSec="))
    raise AssertionError(f"{SERVICE_UNIT} has no RestartSec")


ONECHAIN = str(Path(sys.executable).parent / "onechain")


@pytest.fixture
def shared_database(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database both 'machines' share."""
    name = f"scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def machine(tmp_path: Path, name: str) -> Path:
    """A machine's own data folder, with a copy of the deployment's keys."""
    folder = tmp_path / name
    folder.mkdir(mode=0o700)
    shutil.copytree(keys_dir(get_settings()), folder / "keys")
    return folder


def start_worker(folder: Path, address: str, database: str, task_queue: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "ONECHAIN_DATA_DIR": str(folder),
        "ONECHAIN_DATABASE_URL": database,
        "ONECHAIN_TASK_QUEUE": task_queue,
        "TEMPORAL_ADDRESS": address,
    }
    env.pop("ONECHAIN_KEYS_DIR", None)
    log = (folder / "worker.log").open("w")
    return subprocess.Popen(
        [ONECHAIN, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


async def pollers(client: Client, task_queue: str) -> int:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(response.pollers)


async def wait_for_pollers(client: Client, task_queue: str, count: int) -> None:
    for _ in range(300):
        if await pollers(client, task_queue) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} worker(s) never polled {task_queue}")


@pytest.fixture
async def deployment(
    dev_env: WorkflowEnvironment, shared_database: str, tmp_path: Path
) -> AsyncIterator[tuple[CaseDriver, dict[str, Path], str]]:
    create_read_model(shared_database)  # the schema, made once by the operator
    engine = ready_engine(shared_database)
    signer = ImpersonatingSigner(engine, load_signing_keys(keys_dir(get_settings())))
    task_queue = f"scale-{uuid.uuid4().hex[:6]}"
    driver = CaseDriver(dev_env.client, task_queue)
    driver.read_model_url = shared_database  # what the workers write
    driver.desk = CaseDesk(dev_env.client, task_queue=task_queue, credentials=signer)
    # The people exist before the workers start (workers read them every 2 s).
    for department in {d for chain in registry.all_chains() for d in chain.departments}:
        signer.register(reviewer(department))
    signer.register(CLERK)
    signer.register(Actor(user_id="coord1", name="协调李四", role=Role.COORDINATOR))
    folders = {name: machine(tmp_path, name) for name in ("a", "b")}
    address = dev_env.client.service_client.config.target_host
    yield driver, folders, address
    engine.dispose()


async def test_two_workers_one_killed_every_case_completes_and_the_read_model_matches(
    deployment: tuple[CaseDriver, dict[str, Path], str], shared_database: str
) -> None:
    driver, folders, address = deployment
    client, task_queue = driver.client, driver.desk.task_queue
    issuer, licence, consumer, material = _licence_pair()
    workers = {"a": start_worker(folders["a"], address, shared_database, task_queue)}
    try:
        await wait_for_pollers(client, task_queue, 1)
        # Machine A alone issues an e-licence ...
        holder = await applicant_holding(driver, licence)

        workers["b"] = start_worker(folders["b"], address, shared_database, task_queue)
        await wait_for_pollers(client, task_queue, 2)
        form = form_issuing(issuer, licence) or sample_values(issuer.form)
        case_nos = [f"SO{uuid.uuid4().hex[:8].upper()}" for _ in range(CASES)]
        gate = asyncio.Semaphore(24)
        unavailable: dict[str, float] = {}  # case → seconds until it last said so

        async def one(case_no: str) -> CaseStatus:
            async with gate:
                await driver.start(
                    issuer.code,
                    form,
                    case_no=case_no,
                    applicant=fresh_applicant(
                        "organisation" if issuer.applicant_kind != "person" else "person"
                    ),
                )
                loop = asyncio.get_running_loop()
                began = loop.time()
                while True:
                    try:
                        return (await driver.run_to_end(case_no, max_rounds=40)).status
                    except WorkerUnavailable:
                        # What a department's clerk sees while the killed worker's cases
                        # move to another worker ("no worker answered"): they try again.
                        waited = loop.time() - began
                        unavailable[case_no] = waited
                        if waited < CASE_PATIENCE:
                            await asyncio.sleep(2.0)
                            continue
                        await _print_history_tail(client, case_no)
                        raise
                    except Exception:
                        await _print_history_tail(client, case_no)
                        raise

        runs = [asyncio.create_task(one(c)) for c in case_nos]
        while sum(r.done() for r in runs) < CASES // 2:
            await asyncio.sleep(0.2)
        workers["a"].send_signal(signal.SIGKILL)  # machine A's worker dies mid-run ...
        workers["a"].wait(timeout=10)
        await asyncio.sleep(restart_seconds())  # ... B carries on alone ...
        # ... and the service manager starts it again (``deploy/onechain-worker.service``):
        # it writes what its projector's journal held, the cases A changed last.
        workers["a"] = start_worker(folders["a"], address, shared_database, task_queue)
        statuses = await asyncio.wait_for(asyncio.gather(*runs), timeout=600)
        assert statuses.count(CaseStatus.APPROVED) == CASES
        print(
            f"\n{CASES} cases completed across two workers, one killed half way; "
            f"{len(unavailable)} said 'no worker answered' at least once, the last of "
            f"them {max(unavailable.values(), default=0):.0f} s into their run"
        )

        # ... and a case run by machine B (A is dead) does not ask for it again.
        needed = [m.code for m in consumer.materials if m.code != material.code]
        case_no = await driver.start(
            consumer.code, sample_values(consumer.form), applicant=holder, materials=needed
        )
        state = await driver.wait_for_tasks(case_no)
        found = next(m for m in state.materials if m.code == material.code)
        assert found.state is MaterialState.E_LICENCE

        report = _reconcile(folders["b"], address, shared_database, task_queue)
        mine = set(case_nos)
        assert not mine & set(report["missing"]), "cases missing from the read model"
        changed = {c: v for c, v in report["changed"].items() if c in mine}
        assert not changed, f"read model differs from Temporal: {list(changed.items())[:3]}"
        assert report["restored"] == {
            "licences": 0,
            "revoked": 0,
            "publications": 0,
            "notifications": 0,
        }
    finally:
        for process in workers.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


async def _print_history_tail(client: Client, case_no: str, events: int = 8) -> None:
    """Where a stuck case waits: its last events, with seconds since it started and
    the task queue or worker of each workflow task."""
    history = await client.get_workflow_handle(f"case-{case_no}").fetch_history()
    began = history.events[0].event_time.ToDatetime()
    for event in history.events[-events:]:
        kind = event.WhichOneof("attributes") or "?"
        where = ""
        if kind == "workflow_task_scheduled_event_attributes":
            where = event.workflow_task_scheduled_event_attributes.task_queue.name
        elif kind == "workflow_task_started_event_attributes":
            where = event.workflow_task_started_event_attributes.identity
        seconds = (event.event_time.ToDatetime() - began).total_seconds()
        print(
            f"{case_no} #{event.event_id} +{seconds:.2f}s {kind.removesuffix('_event_attributes')} {where}"
        )


def _is_subsecond_time_drift(change: str) -> bool:
    from datetime import datetime

    words = change.split(" ")
    if len(words) != 6 or words[2] not in ("started_at", "at") or words[4] != "→":
        return False
    before, after = datetime.fromisoformat(words[3]), datetime.fromisoformat(words[5])
    return abs((after - before).total_seconds()) < 1.0


def _licence_pair():  # type: ignore[no-untyped-def]
    """A chain that issues an e-licence another chain accepts in place of a material."""
    issuers = {lic.code: chain for chain in registry.all_chains() for lic in chain.licences}
    for consumer in registry.all_chains():
        for material in consumer.materials:
            issuer = issuers.get(material.e_licence or "")
            if issuer is not None and consumer.applicant_kind in ("either", "organisation"):
                return issuer, material.e_licence, consumer, material
    pytest.skip("no registered chain issues an e-licence another chain accepts")


def _reconcile(folder: Path, address: str, database: str, task_queue: str) -> dict:
    import json

    env = {
        **os.environ,
        "ONECHAIN_DATA_DIR": str(folder),
        "ONECHAIN_DATABASE_URL": database,
        "ONECHAIN_TASK_QUEUE": task_queue,
        "TEMPORAL_ADDRESS": address,
    }
    env.pop("ONECHAIN_KEYS_DIR", None)
    result = subprocess.run(
        [ONECHAIN, "reconcile", "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
