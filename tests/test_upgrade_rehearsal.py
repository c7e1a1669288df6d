"""The upgrade rehearsal (docs/deploy.md, "Upgrading onechain"): a database and running
cases made by the previous release, taken through the documented order.

1. The previous release's code (its tree from git, run in a subprocess with its own
   worker) makes the read model at its schema head and fills it: a running case, a case
   with decisions taken (audit rows), a concluded one.
2. Its worker stops; `onechain db upgrade` brings the schema to this release's head.
3. The reads and the audit chain work on the old rows; `doctor` counts the old running
   cases as on an older calendar revision (they recorded none).
4. This release's worker takes over the same task queue: old histories replay on the new
   code (its ``workflow.patched`` branches), the cases continue to their end, and a
   `calendar load` moves the old running case onto the current revision.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from cli.app import app
from client.facade import CaseDesk
from doctor.calendar_revision import calendar_revision_check
from doctor.findings import Level
from domain.case import CaseStatus
from readmodel.calendar_revisions import running_behind
from readmodel.calendar_store import calendar_revision
from readmodel.database import make_engine, read_session
from readmodel.queries import case_events, get_case, list_cases
from readmodel.schema import head_revision, status_of
from runtime.keys import keys_dir, load_signing_keys
from runtime.settings import get_settings
from tests.harness import CaseDriver, sign_in_cli
from tests.test_shared_calendar import EXAMPLE_2027
from trust.signer import ImpersonatingSigner

REPO = Path(__file__).resolve().parent.parent
#: The release before this one (the commit this release's changes start from). Move it
#: forward when a release is cut, so each release rehearses the step from the last one.
PREVIOUS_RELEASE = "2ab6fc0e63a7333f2097c5479ee25c13f3e43115"
PREVIOUS_HEAD = "0009_supervision_items"

#: Runs inside the previous release's tree: its worker, its read model, three cases.
FILL = """
import asyncio, json, os, sys
import chains  # noqa: F401
from readmodel.database import create_read_model
from runtime.connect import connect
from runtime.settings import get_settings
from tests.harness import CaseDriver, worker_for
from tests.test_chains_end_to_end import KINDERGARTEN_FORM

async def main(task_queue):
    create_read_model(get_settings().resolved_database_url)
    client = await connect()
    async with worker_for(client, task_queue):
        driver = CaseDriver(client, task_queue)
        cases = {k: await driver.start("kindergarten", KINDERGARTEN_FORM)
                 for k in ("running", "decided", "done")}
        for case_no in cases.values():
            await driver.wait_for_tasks(case_no)
        await driver.approve_open(cases["decided"])
        await driver.run_to_end(cases["done"])
        for case_no in cases.values():
            await driver.projected(case_no)
    print(json.dumps(cases), flush=True)

asyncio.run(main(sys.argv[1]))
os._exit(0)
"""


def _previous_tree(target: Path) -> Path:
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE],
            check=True,
            capture_output=True,
            timeout=120,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"the previous release {PREVIOUS_RELEASE[:8]} is not in this checkout: {error}")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


@pytest.fixture
def deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev_env: WorkflowEnvironment
) -> Iterator[dict[str, str]]:
    """The environment both releases run with: one data folder, database, keys, Temporal."""
    env = {
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": dev_env.client.namespace,
        "ONECHAIN_DATA_DIR": str(tmp_path / "data"),
        "ONECHAIN_DATABASE_URL": f"sqlite:///{tmp_path / 'onechain.sqlite3'}",
        "ONECHAIN_KEYS_DIR": str(keys_dir(get_settings())),
        "ONECHAIN_SESSION_FILE": str(tmp_path / "session.json"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def own_driver(client: Client, task_queue: str, database_url: str) -> CaseDriver:
    """A driver signing with this deployment's database, not the session signer's (which
    is cached with whichever database the first test to ask had configured)."""
    engine = make_engine(database_url)
    driver = CaseDriver.__new__(CaseDriver)
    driver.client = client
    signer = ImpersonatingSigner(engine, load_signing_keys(keys_dir(get_settings())))
    driver.desk = CaseDesk(client, task_queue=task_queue, credentials=signer)
    driver.read_model_url = database_url
    return driver


def onechain(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


async def test_a_database_and_cases_of_the_previous_release_upgrade_in_the_documented_order(
    deployment: dict[str, str], dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    from worker import build_worker

    previous = _previous_tree(tmp_path / "previous")
    task_queue = f"upgrade-{uuid.uuid4().hex[:6]}"
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", FILL, task_queue],
        cwd=previous,
        env={**os.environ, **deployment, "PYTHONPATH": str(previous)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    cases = json.loads(made.stdout.strip().splitlines()[-1])
    engine = make_engine(deployment["ONECHAIN_DATABASE_URL"])
    try:
        assert status_of(engine).revision == PREVIOUS_HEAD  # as the previous release left it

        # 2. the schema
        upgraded = onechain("db", "upgrade")
        assert upgraded.exit_code == 0, upgraded.output
        assert status_of(engine).revision == head_revision()

        # 3. reads and the audit chain on the old rows
        with read_session(engine) as session:
            rows = {k: get_case(session, c) for k, c in cases.items()}
            assert all(rows.values()), rows
            assert rows["done"].status == "approved"  # type: ignore[union-attr]
            assert {c.case_no for c in list_cases(session)} >= set(cases.values())
            assert len(case_events(session, cases["decided"])) > 2
        sign_in_cli(Path(deployment["ONECHAIN_SESSION_FILE"]), "administrator")
        verified = onechain("audit", "verify", "--json")
        assert verified.exit_code == 0, verified.output
        report = json.loads(verified.stdout)
        assert report["rows"] > 0 and report["problems"] == []
        behind = calendar_revision_check(engine)
        assert behind.level is Level.WARN and "2 running case(s)" in behind.message

        # 4. the new worker on the same queue: old histories replay and continue
        async with build_worker(dev_env.client, task_queue, max_cached_workflows=0):
            driver = own_driver(dev_env.client, task_queue, deployment["ONECHAIN_DATABASE_URL"])
            outcome = await driver.run_to_end(cases["decided"])
            assert outcome.status is CaseStatus.APPROVED
            loaded = await asyncio.to_thread(onechain, "calendar", "load", str(EXAMPLE_2027))
            assert loaded.exit_code == 0, loaded.output
            revision = calendar_revision(engine)
            state = await driver.state(cases["running"])
            for _ in range(200):
                if state.calendar_revision == revision:
                    break
                await asyncio.sleep(0.05)
                state = await driver.state(cases["running"])
            assert state.calendar_revision == revision and not state.statutory.provisional
            await driver.projected(cases["running"])
        assert running_behind(engine, revision) == 0
        assert calendar_revision_check(engine).level is Level.OK
        again = onechain("audit", "verify", "--json")
        assert again.exit_code == 0 and json.loads(again.stdout)["rows"] > report["rows"]
    finally:
        engine.dispose()
