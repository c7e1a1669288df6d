"""``onechain doctor``: each check's ok and failure path, on real servers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.app import app
from doctor.findings import Finding, Level, exit_code
from doctor.run import Deployment, examine
from domain.calendar_sources import load_schedule_file
from readmodel.calendar_store import store_schedule
from readmodel.database import create_schema, make_engine, make_sqlite_file
from readmodel.schema import head_revision, migrate
from runtime.keys import init_keys, keys_dir
from runtime.settings import get_settings
from tests.harness import session_signer, start_dev_env, worker_for
from trust.accounts import bootstrap
from workflows import search_attributes as sa

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_2027 = REPO / "docs" / "calendar-2027.example.json"
SUMMER = date(2026, 6, 1)  # the next 120 days lie in 2026, whose schedule is builtin
DECEMBER = date(2026, 12, 2)  # ... reach into 2027, which needs loading


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A read model at head with a first administrator."""
    url = f"sqlite:///{tmp_path / 'rm.sqlite3'}"
    engine = make_engine(url)
    create_schema(engine)
    bootstrap(engine, user_id="doc-admin", name="管理员")
    engine.dispose()
    yield url


@pytest.fixture
def deployment(dev_env: WorkflowEnvironment, database: str) -> Deployment:
    session_signer()  # the session's keys exist
    return Deployment(
        connect_options={
            "target_host": dev_env.client.service_client.config.target_host,
            "namespace": dev_env.client.namespace,
        },
        task_queue="no-worker-here",
        database_url=database,
        keys_dir=keys_dir(get_settings()),
        today=SUMMER,
    )


def test_exit_code_rule() -> None:
    def f(level: Level) -> Finding:
        return Finding("x", level, "")

    assert exit_code([f(Level.OK), f(Level.SKIP)]) == 0
    assert exit_code([f(Level.OK), f(Level.WARN)]) == 1
    assert exit_code([f(Level.WARN), f(Level.FAIL), f(Level.OK)]) == 2


async def test_a_healthy_deployment_is_all_ok(
    dev_env: WorkflowEnvironment, deployment: Deployment
) -> None:
    async with worker_for(dev_env.client) as task_queue:
        # A worker that has just started may not have sent its first activity poll yet
        # (seen on a loaded machine): healthy means all OK once it has.
        for _ in range(50):
            findings = await examine(replace(deployment, task_queue=task_queue))
            if by_check(findings)["worker"].level is Level.OK:
                break
            await asyncio.sleep(0.2)
    assert [f.level for f in findings] == [Level.OK] * len(findings), findings
    assert set(by_check(findings)) == {
        "temporal",
        "namespace",
        "search attributes",
        "worker",
        "database",
        "users",
        "keys",
        "calendar",
        "calendar revision",
        "cases",
        "outside changes",
    }
    assert exit_code(findings) == 0


async def test_no_worker_polling_fails(deployment: Deployment) -> None:
    found = by_check(await examine(deployment))["worker"]
    assert found.level is Level.FAIL and "no-worker-here" in found.message
    assert "onechain worker" in found.message


async def test_stopped_temporal_is_unreachable(deployment: Deployment) -> None:
    env = await start_dev_env()
    address = env.client.service_client.config.target_host
    await env.shutdown()
    findings = by_check(
        await examine(replace(deployment, connect_options={"target_host": address}))
    )
    assert findings["temporal"].level is Level.FAIL and address in findings["temporal"].message
    for check in ("namespace", "search attributes", "worker"):
        assert findings[check].level is Level.SKIP
    assert findings["database"].level is Level.OK  # the rest is still checked


async def test_missing_namespace_fails(deployment: Deployment) -> None:
    options = {**deployment.connect_options, "namespace": "no-such-namespace"}
    findings = by_check(await examine(replace(deployment, connect_options=options)))
    assert findings["namespace"].level is Level.FAIL
    assert "no-such-namespace" in findings["namespace"].message
    assert findings["search attributes"].level is Level.SKIP


async def test_missing_search_attributes_fail_with_the_command(
    dev_env: WorkflowEnvironment, deployment: Deployment
) -> None:
    name = f"doctor-{uuid.uuid4().hex[:6]}"
    await dev_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=timedelta(days=1)
        )
    )
    options = {**deployment.connect_options, "namespace": name}
    for _ in range(100):  # a new namespace reaches the frontend's cache within seconds
        findings = by_check(await examine(replace(deployment, connect_options=options)))
        if findings["namespace"].level is Level.OK:
            break
        await asyncio.sleep(0.1)
    found = findings["search attributes"]
    assert found.level is Level.FAIL
    assert all(key.name in found.message for key in sa.ALL_KEYS)
    assert "temporal operator search-attribute create" in found.message


async def test_schema_behind_or_empty(deployment: Deployment, tmp_path: Path) -> None:
    behind = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    engine = make_engine(behind)
    migrate(engine, "0002_people_sessions_audit")
    engine.dispose()
    findings = by_check(await examine(replace(deployment, database_url=behind)))
    assert findings["database"].level is Level.FAIL
    assert "onechain db upgrade" in findings["database"].message
    assert head_revision() in findings["database"].message
    assert findings["users"].level is Level.SKIP

    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    make_sqlite_file(tmp_path / "empty.sqlite3")
    found = by_check(await examine(replace(deployment, database_url=empty)))["database"]
    assert found.level is Level.FAIL and "empty" in found.message
    assert "onechain db upgrade" in found.message and "restore" in found.message

    missing = tmp_path / "missing.sqlite3"
    found = by_check(await examine(replace(deployment, database_url=f"sqlite:///{missing}")))[
        "database"
    ]
    assert found.level is Level.FAIL and str(missing) in found.message
    assert not missing.exists()  # doctor looks, never creates


async def test_no_users_fails_and_no_administrator_warns(
    deployment: Deployment, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'people.sqlite3'}"
    engine = make_engine(url)
    create_schema(engine)
    found = by_check(await examine(replace(deployment, database_url=url)))["users"]
    assert found.level is Level.FAIL and "onechain users bootstrap" in found.message

    from trust.accounts import add_user

    add_user(engine, user_id="clerk", name="窗口", grants=["window_clerk"], by="test")
    engine.dispose()
    found = by_check(await examine(replace(deployment, database_url=url)))["users"]
    assert found.level is Level.WARN and "administrator" in found.message


async def test_keys_missing_fail_and_readable_by_others_warn(
    deployment: Deployment, tmp_path: Path
) -> None:
    folder = tmp_path / "keys"
    found = by_check(await examine(replace(deployment, keys_dir=folder)))["keys"]
    assert found.level is Level.FAIL and str(folder) in found.message

    init_keys(folder)
    found = by_check(await examine(replace(deployment, keys_dir=folder)))["keys"]
    assert found.level is Level.OK
    for pem in folder.rglob("*.pem"):
        pem.chmod(0o644)
    found = by_check(await examine(replace(deployment, keys_dir=folder)))["keys"]
    assert found.level is Level.WARN and "chmod 600" in found.message


async def test_calendar_warns_in_december_until_next_year_is_loaded(
    deployment: Deployment,
) -> None:
    december = replace(deployment, today=DECEMBER)
    found = by_check(await examine(december))["calendar"]
    assert found.level is Level.WARN
    assert "2027" in found.message and "provisional" in found.message
    assert "onechain calendar load" in found.message

    engine = make_engine(deployment.database_url)
    example = load_schedule_file(EXAMPLE_2027)
    store_schedule(engine, example, by="doc-admin")
    found = by_check(await examine(december))["calendar"]
    assert found.level is Level.WARN and "example" in found.message, found  # not the notice

    official = example.model_copy(update={"source": "国办发明电〔2026〕7号"})
    store_schedule(engine, official, by="doc-admin")
    engine.dispose()
    found = by_check(await examine(december))["calendar"]
    assert found.level is Level.OK, found


def test_a_poller_not_seen_within_a_long_poll_is_not_a_live_worker() -> None:
    """Temporal lists pollers seen in the last minutes, a killed worker among them."""
    from google.protobuf.timestamp_pb2 import Timestamp
    from temporalio.api.taskqueue.v1 import PollerInfo

    from doctor.pollers import LIVE_WITHIN, live_identities

    now = datetime.now(UTC)

    def seen(identity: str, ago: timedelta) -> PollerInfo:
        stamp = Timestamp()
        stamp.FromDatetime(now - ago)
        return PollerInfo(identity=identity, last_access_time=stamp)

    pollers = [seen("alive@a", timedelta(seconds=5)), seen("alive@b", LIVE_WITHIN / 2),
               seen("killed@c", LIVE_WITHIN + timedelta(seconds=30))]  # fmt: skip
    assert live_identities(pollers, now) == {"alive@a", "alive@b"}


async def test_cli_prints_one_line_per_check_and_json(
    dev_env: WorkflowEnvironment,
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    database: str,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", deployment.connect_options["target_host"])
    monkeypatch.setenv("ONECHAIN_DATABASE_URL", database)
    monkeypatch.setenv("ONECHAIN_KEYS_DIR", str(deployment.keys_dir))
    get_settings.cache_clear()
    try:
        async with worker_for(dev_env.client) as task_queue:
            runner = CliRunner()
            text = await asyncio.to_thread(
                runner.invoke, app, ["doctor", "--task-queue", task_queue]
            )
            data = await asyncio.to_thread(
                runner.invoke, app, ["doctor", "--task-queue", task_queue, "--json"]
            )
    finally:
        get_settings.cache_clear()
    lines = text.stdout.strip().splitlines()
    report = json.loads(data.stdout)
    assert len(lines) == len(report["checks"]) == 11, lines
    assert all(line.split()[0] in {"ok", "warn"} for line in lines), lines
    levels = {c["level"] for c in report["checks"]}
    assert report["exit_code"] == data.exit_code == text.exit_code == (1 if "warn" in levels else 0)


def test_cases_check_names_missing_cases_and_waits_for_new_ones_to_be_projected() -> None:
    from datetime import UTC, datetime

    from doctor.lost_cases import TemporalCases, lost_cases

    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    held = TemporalCases(
        count=8,
        started={f"C{i}": now - timedelta(hours=1) for i in range(7)} | {"NEW": now},
    )
    grace = timedelta(minutes=1)
    found = lost_cases(held, {"C0"}, grace=grace, now=now)
    assert found.level is Level.FAIL
    assert "6 of 8 case(s)" in found.message and "C1, C2, C3, C4, C5 …" in found.message
    assert "NEW" not in found.message  # started a moment ago: not projected yet, not lost
    assert "backup restore" in found.message and "never `onechain users bootstrap`" in found.message
    assert lost_cases(held, {f"C{i}" for i in range(7)}, grace=grace, now=now).level is Level.OK
