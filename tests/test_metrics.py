"""``onechain worker --metrics``: the SDK's and onechain's metrics on one Prometheus endpoint."""

from __future__ import annotations

import asyncio
import re
import socket
import urllib.request
import uuid

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.app import app
from client.facade import ActionRejected
from domain.actions import Decide
from domain.calendar import CalendarData
from domain.calendar_sources import calendar_from_schedules
from domain.case import CaseStatus, Verdict
from runtime.connect import client_plugins
from runtime.metrics import MetricsAddressError, check_bind_address, metrics_runtime
from tests.harness import CaseDriver, reviewer, sealing_converter, session_signer
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from workflows import registry


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        return response.read().decode()


def samples(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(rf"{name}(_total)?[{{ ]", line)]


def value(line: str) -> float:
    return float(line.rsplit(" ", 1)[1])


async def test_worker_serves_sdk_and_onechain_metrics(dev_env: WorkflowEnvironment) -> None:
    from worker import build_worker, serve_metrics

    address = f"127.0.0.1:{free_port()}"
    runtime = metrics_runtime(address)
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=sealing_converter(),
        plugins=client_plugins(),
        runtime=runtime,
    )
    session_signer()
    task_queue = f"test-metrics-{uuid.uuid4().hex[:6]}"
    chain = registry.get_chain("kindergarten")
    async with build_worker(client, task_queue), serve_metrics(runtime, gauge_seconds=0.2):
        driver = CaseDriver(dev_env.client, task_queue)
        case_no = await driver.start(chain.code, KINDERGARTEN_FORM)
        state = await driver.wait_for_tasks(case_no)
        task = next(t for t in state.open_tasks if t.parts)
        outsider = next(d for d in chain.departments if d not in task.departments)
        with pytest.raises(ActionRejected):  # a department deciding another's task
            await driver.desk.act(
                case_no,
                Decide(actor=reviewer(outsider), task_id=task.id, verdict=Verdict.APPROVE),
            )
        for _ in range(100):  # the worker reads the read model every gauge_seconds
            running = await asyncio.to_thread(scrape, address)
            open_now = [
                s for s in samples(running, "onechain_open_cases") if 'chain="kindergarten"' in s
            ]
            if open_now and value(open_now[0]) >= 1:
                break
            await asyncio.sleep(0.1)
        assert open_now and value(open_now[0]) >= 1, open_now
        outcome = await driver.run_to_end(case_no)
        assert outcome.status is CaseStatus.APPROVED
        text = await asyncio.to_thread(scrape, address)
        for _ in range(50):  # counters reach the exporter on the core's own schedule
            if samples(text, "onechain_cases_concluded"):
                break
            await asyncio.sleep(0.1)
            text = await asyncio.to_thread(scrape, address)

    assert any(line.startswith("temporal_") for line in text.splitlines())
    started = [s for s in samples(text, "onechain_cases_started") if 'chain="kindergarten"' in s]
    assert started and value(started[0]) == 1
    concluded = samples(text, "onechain_cases_concluded")
    assert any('status="approved"' in s and value(s) == 1 for s in concluded), concluded
    actions = samples(text, "onechain_actions")
    assert any('action="decide"' in s and 'outcome="done"' in s for s in actions), actions
    assert any('action="decide"' in s and 'outcome="refused"' in s for s in actions), actions
    assert samples(text, "onechain_projection_lag_count") or samples(
        text, "onechain_projection_lag_bucket"
    )
    # No personal data in labels: the applicant's id never appears.
    assert "91370800MA3C4XYB7E" not in text


@pytest.mark.parametrize("bad", ["9464", "localhost", "127.0.0.1:99999", "a b:1"])
def test_bad_metrics_address_says_how_to_write_it(bad: str) -> None:
    with pytest.raises(MetricsAddressError, match="--metrics"):
        check_bind_address(bad)
    result = CliRunner().invoke(app, ["worker", "--metrics", bad])
    assert (result.exit_code == 2 and "HOST:PORT" in result.stderr) or "port" in result.stderr


def test_taken_port_is_refused_clearly() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(MetricsAddressError, match=f"cannot serve metrics on {address}"):
            metrics_runtime(address)
        # A taken port passes: exit 3, which the units retry (2 is never retried).
        result = CliRunner().invoke(app, ["worker", "--metrics", address])
        assert result.exit_code == 3 and f"cannot serve metrics on {address}" in result.stderr


async def test_warnings_and_overdue_are_counted_once_each(
    skipping_env: WorkflowEnvironment,
) -> None:
    """On the time-skipping server: every warning and overdue event the case records
    is counted exactly once on the endpoint (the clock loop runs through replays)."""
    from tests.harness import LONG_SESSION, signed_desk
    from tests.test_deadlines_timers import SCHEDULE_2030, cst, sleep_until, start_case
    from worker import build_worker, serve_metrics

    def calendars(first: int, last: int) -> CalendarData:
        return calendar_from_schedules({2030: SCHEDULE_2030}, first, last)

    address = f"127.0.0.1:{free_port()}"
    runtime = metrics_runtime(address)
    client = await Client.connect(
        skipping_env.client.service_client.config.target_host,
        namespace=skipping_env.client.namespace,
        data_converter=sealing_converter(),
        plugins=client_plugins(),
        runtime=runtime,
    )
    session_signer()
    task_queue = f"test-metrics-{uuid.uuid4().hex[:6]}"
    # No workflow cache: every workflow task replays the whole history, so a counter
    # that counted on replay would show it.
    worker = build_worker(client, task_queue, calendars=calendars, max_cached_workflows=0)
    async with worker, serve_metrics(runtime):
        desk = signed_desk(
            skipping_env.client, task_queue, LONG_SESSION, skipping_env.get_current_time
        )
        await start_case(skipping_env, desk, "MT-1")
        await sleep_until(skipping_env, cst(2030, 11, 5))
        state = await desk.state("MT-1")
        text = await asyncio.to_thread(scrape, address)
    fired = {
        kind: sum(1 for e in state.events if e.kind == kind)
        for kind in ("task_warning", "task_overdue", "case_warning", "case_overdue")
    }
    assert all(fired.values()), fired  # the case did run past every deadline
    counted = {
        kind: sum(
            value(s)
            for s in samples(text, "onechain_deadlines_fired")
            if f'kind="{kind}"' in s and 'chain="kindergarten"' in s
        )
        for kind in fired
    }
    assert counted == fired


async def test_every_onechain_series_is_there_from_the_start(dev_env: WorkflowEnvironment) -> None:
    """Before any case: each case counter at 0 for every registered chain (an alert on
    `increase()` needs the series), the projector's backlog gauges and the audit anchor's
    age; after a case, the lag histogram's buckets reach hours."""
    from worker import build_worker, serve_metrics

    address = f"127.0.0.1:{free_port()}"
    runtime = metrics_runtime(address)
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=sealing_converter(),
        plugins=client_plugins(),
        runtime=runtime,
    )
    session_signer()
    task_queue = f"test-metrics-{uuid.uuid4().hex[:6]}"
    async with (
        build_worker(client, task_queue),
        serve_metrics(runtime, namespace=client.namespace, task_queue=task_queue),
    ):
        text = ""
        for _ in range(100):
            text = await asyncio.to_thread(scrape, address)
            if samples(text, "onechain_projection_backlog"):
                break
            await asyncio.sleep(0.1)
        for chain in registry.all_chains():
            started = [s for s in samples(text, "onechain_cases_started")
                       if f'chain="{chain.code}"' in s and f'task_queue="{task_queue}"' in s]  # fmt: skip
            assert started and value(started[0]) == 0, (chain.code, started)
            overdue = [s for s in samples(text, "onechain_deadlines_fired")
                       if f'chain="{chain.code}"' in s and 'kind="case_overdue"' in s]  # fmt: skip
            assert overdue, chain.code
        assert value(samples(text, "onechain_projection_backlog")[0]) == 0
        assert samples(text, "onechain_projection_oldest_seconds")
        assert samples(text, "onechain_audit_anchor_age_seconds")

        driver = CaseDriver(dev_env.client, task_queue)
        case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
        await driver.projected(case_no)
        for _ in range(50):
            text = await asyncio.to_thread(scrape, address)
            if samples(text, "onechain_projection_lag_bucket"):
                break
            await asyncio.sleep(0.1)
    buckets = samples(text, "onechain_projection_lag_bucket")
    assert any('le="10800000"' in b for b in buckets), buckets[:3]
