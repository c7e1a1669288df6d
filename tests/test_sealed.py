"""Personal data is sealed in Temporal history, and the embedded default's data is
owner-only.

A restaurant case (a chain that takes a person: 个体工商户) with a known applicant
name, resident id and phone runs to the end on a real ``onechain up`` (file-backed dev server, its own worker); afterwards none
of the three occurs in the fetched history's bytes nor in the dev server's SQLite
files, while the case's Query state, ``cases show`` and a replay with the codec still
show them. Rotation: new cases use the new key, old cases still decode; a key this
machine does not have fails with a message naming it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from stdnum.cn import ric
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer
from typer.testing import CliRunner

from cli.app import app
from client.facade import CaseDesk, CaseError
from domain.case import Applicant, CaseStatus
from readmodel.database import ready_engine
from runtime.codec import KEY_ID_METADATA, PayloadKeyError
from runtime.connect import client_plugins, data_converter
from runtime.devserver import wait_until_serving
from runtime.keys import init_keys, load_payload_keys, load_signing_keys, rotate
from tests.harness import CLERK, CaseDriver, reviewer, sign_in_cli
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_chains_more import RESTAURANT_FORM
from tests.test_cli_cases import environment
from trust.signer import ImpersonatingSigner
from worker import build_worker, workflow_runner
from workflows import registry
from workflows.case_workflow import CaseWorkflow


def person() -> Applicant:
    """A fresh applicant: a valid resident id and a phone no other test uses."""
    serial = f"{uuid.uuid4().int % 1000:03d}"
    body = f"37081119850712{serial}"
    return Applicant(
        kind="person",
        name=f"封存测试{uuid.uuid4().hex[:4]}",
        id_number=body + ric.calc_check_digit(body + "0"),  # the digit itself is ignored
        phone=f"139{uuid.uuid4().int % 10**8:08d}",
    )


def forms_of(text: str) -> list[bytes]:
    """``text`` as it could appear in stored bytes: UTF-8, and JSON-escaped."""
    escaped = json.dumps(text)[1:-1]
    return [text.encode(), escaped.encode(), escaped.upper().replace("\\U", "\\u").encode()]


def leaks(data: bytes, applicant: Applicant) -> list[str]:
    found = []
    for secret in (applicant.name, applicant.id_number, applicant.phone):
        if any(form in data for form in forms_of(secret)):
            found.append(secret)
    return found


def history_bytes(history: WorkflowHistory) -> bytes:
    return History(events=history.events).SerializeToString() + history.to_json().encode()


def sealed_and_clear_headers(history: WorkflowHistory) -> dict[str, list[str]]:
    """Header fields of the start and of every Update, by whether they are sealed."""
    found: dict[str, list[str]] = {"sealed": [], "clear": []}
    for event in history.events:
        if event.HasField("workflow_execution_started_event_attributes"):
            fields = event.workflow_execution_started_event_attributes.header.fields
        elif event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            fields = request.input.header.fields
        else:
            continue
        for name, payload in fields.items():
            sealed = payload.metadata.get("encoding") == b"binary/encrypted"
            found["sealed" if sealed else "clear"].append(name)
    return found


def files_bytes(folder: Path, prefix: str) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob(f"{prefix}*")))


async def replay(history: WorkflowHistory, converter: DataConverter, *, raise_on_failure: bool):
    replayer = Replayer(
        workflows=[CaseWorkflow], workflow_runner=workflow_runner(), data_converter=converter
    )
    return await replayer.replay_workflow(history, raise_on_replay_failure=raise_on_failure)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def up_process(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """``onechain up --no-tui --headless`` on a fresh data folder and free ports."""
    data = tmp_path / "data"
    port = free_port()
    queue = f"sealed-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "ONECHAIN_DATA_DIR": str(data),
        "ONECHAIN_SIGNIN_URL": f"http://127.0.0.1:{free_port()}",
        "ONECHAIN_TASK_QUEUE": queue,
        "ONECHAIN_DIRECTORY_REFRESH_SECONDS": "0.2",
    }
    env.pop("ONECHAIN_KEYS_DIR", None)
    log = (tmp_path / "up.stderr").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cli.app import main; main()",
            "up",
            "--no-tui",
            "--headless",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield data, f"127.0.0.1:{port}", queue
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def projected_licences(db: Path, case_no: str, timeout: float = 30.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if db.exists():
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                try:
                    rows = conn.execute(
                        "SELECT count(*) FROM licences WHERE case_no = ?", (case_no,)
                    ).fetchone()[0]
                except sqlite3.OperationalError:
                    rows = 0
            if rows or loop.time() > deadline:
                return rows
        elif loop.time() > deadline:
            return 0
        await asyncio.sleep(0.2)


async def started_once_people_are_known(
    driver: CaseDriver, applicant: Applicant, timeout: float = 30.0
) -> str:
    """Start the case once `up`'s worker has read the people registered above (its
    user directory refreshes from the database every ONECHAIN_DIRECTORY_REFRESH_SECONDS)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await driver.start("restaurant", RESTAURANT_FORM, applicant=applicant)
        except CaseError as refused:
            if "unknown user" not in str(refused) or loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def worker_running(log: Path, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while "worker running" not in log.read_text(errors="replace"):
        assert loop.time() < deadline, log.read_text(errors="replace")
        await asyncio.sleep(0.2)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_up_seals_personal_data_and_keeps_its_files_owner_only(
    up_process: tuple[Path, str, str], tmp_path: Path
) -> None:
    data, address, queue = up_process
    await wait_until_serving(address, timeout=60)
    await worker_running(tmp_path / "up.stderr")  # it has made the read model by now
    said = (tmp_path / "up.stderr").read_text()
    assert "created keys p-" in said  # said once
    assert f"export TEMPORAL_ADDRESS={address}" in said  # a non-default port is announced
    # Seal with the keys `up` made for its data folder, and sign as people its worker
    # knows (registered in its read model, tokens signed with its signing key).
    converter = data_converter(data / "keys")
    client = await Client.connect(address, data_converter=converter, plugins=client_plugins())
    signer = ImpersonatingSigner(
        ready_engine(f"sqlite:///{data / 'readmodel.sqlite3'}"), load_signing_keys(data / "keys")
    )
    driver = CaseDriver(client, queue)
    driver.desk = CaseDesk(client, task_queue=queue, credentials=signer)
    driver.read_model_url = f"sqlite:///{data / 'readmodel.sqlite3'}"  # what `up` writes
    for actor in [CLERK, *(reviewer(d) for d in registry.get_chain("restaurant").departments)]:
        signer.register(actor)
    applicant = person()

    case_no = await started_once_people_are_known(driver, applicant)
    outcome = await asyncio.wait_for(driver.run_to_end(case_no), timeout=120)
    assert outcome.status is CaseStatus.APPROVED and outcome.licences
    assert await projected_licences(data / "readmodel.sqlite3", case_no) == len(outcome.licences)

    # Sealed: not in the history's bytes, not in the dev server's SQLite files.
    history = await driver.desk.handle(case_no).fetch_history()
    assert leaks(history_bytes(history), applicant) == []
    # Session tokens travel in headers, which history keeps: sealed too.
    headers = sealed_and_clear_headers(history)
    assert headers["sealed"] and not headers["clear"]
    temporal_files = files_bytes(data, "temporal.sqlite3")
    assert case_no.encode() in temporal_files  # the scan reads the real history rows
    assert leaks(temporal_files, applicant) == []
    # The read model keeps the name for lists, but neither the id nor the phone.
    read_model = files_bytes(data, "readmodel.sqlite3")
    assert applicant.id_number.encode() not in read_model
    assert applicant.phone.encode() not in read_model

    # Still readable by those with the key: Query, `cases show`, replay.
    state = await driver.state(case_no)
    assert state.applicant.name == applicant.name
    assert applicant.id_number not in state.applicant.id_masked
    with environment(
        TEMPORAL_ADDRESS=address,
        ONECHAIN_DATA_DIR=str(data),
        ONECHAIN_SESSION_FILE=str(tmp_path / "session.json"),
    ):
        sign_in_cli(tmp_path / "session.json", "coordinator", user_id="sealed-coord")
        shown = await asyncio.to_thread(
            CliRunner().invoke, app, ["cases", "show", case_no, "--json"]
        )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["applicant"]["name"] == applicant.name
    await replay(history, converter, raise_on_failure=True)
    without_keys = await replay(history, pydantic_data_converter, raise_on_failure=False)
    assert without_keys.replay_failure is not None

    # Owner-only: the data folder and everything `up` made in it (Temporal's SQLite
    # file, the read model, logs, the keys).
    assert mode(data) == 0o700
    files = {str(p.relative_to(data)): mode(p) for p in data.rglob("*") if p.is_file()}
    folders = {str(p.relative_to(data)): mode(p) for p in data.rglob("*") if p.is_dir()}
    assert {"temporal.sqlite3", "readmodel.sqlite3", "keys/keys.json"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)
    assert folders == dict.fromkeys(folders, 0o700)


def client_with(env: WorkflowEnvironment, converter: DataConverter) -> Client:
    """Another client on the same connection, sealing with other keys."""
    return Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=converter,
        plugins=client_plugins(),
    )


def started_kid(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.input.payloads[0].metadata[KEY_ID_METADATA].decode()


async def test_after_rotation_new_cases_use_the_new_key_and_old_cases_still_decode(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    init_keys(keys)
    old_kid = load_payload_keys(keys, {}).active_kid
    queue = f"rotate-{uuid.uuid4().hex[:6]}"
    before = client_with(dev_env, data_converter(keys))
    # No workflow cache (so no sticky queue the next worker would wait out).
    async with build_worker(before, queue, max_cached_workflows=0):
        old_case = await CaseDriver(before, queue).start("kindergarten", KINDERGARTEN_FORM)
        await CaseDriver(before, queue).wait_for_tasks(old_case)

    new_kid = rotate(keys, "payload")
    after = client_with(dev_env, data_converter(keys))
    driver = CaseDriver(after, queue)
    # A fresh worker with the rotated keys replays the old case from its history (its
    # cache starts empty; with no cache at all, every Query of the worker's projector
    # would replay the case again beside each workflow task).
    async with build_worker(after, queue):
        new_case = await driver.start("kindergarten", KINDERGARTEN_FORM)
        assert (await driver.state(old_case)).case_no == old_case
        assert (await driver.run_to_end(old_case)).status is CaseStatus.APPROVED
        assert (await driver.run_to_end(new_case)).status is CaseStatus.APPROVED
        old_history = await driver.desk.handle(old_case).fetch_history()
        new_history = await driver.desk.handle(new_case).fetch_history()
    assert started_kid(old_history) == old_kid
    assert started_kid(new_history) == new_kid
    await replay(old_history, data_converter(keys), raise_on_failure=True)

    # A machine without that key fails on it (its worker log names the key id) ...
    stranger = tmp_path / "other-keys"
    init_keys(stranger)
    failed = await replay(old_history, data_converter(stranger), raise_on_failure=False)
    assert failed.replay_failure is not None
    assert "PayloadKeyError" in str(failed.replay_failure)
    # ... and a client without it is told which key it lacks.
    outsider = CaseDesk(client_with(dev_env, data_converter(stranger)), task_queue=queue)
    async with build_worker(after, queue):  # answers the Query, sealed with new_kid
        with pytest.raises(PayloadKeyError, match=f"key id '{new_kid}'.*not among"):
            await asyncio.wait_for(outsider.state(new_case), timeout=30)
