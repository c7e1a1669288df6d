"""Bare Temporal at the turn of a working day: the floor ``bench_open_cases.py --phase
bare`` compares onechain's warnings with.

N bare workflows on the same kind of server (the time-skipping test server), the same
sealing converter, the same runner (no sandbox) and the same worker cache size as the
production worker. Each sleeps until the warning instant, then, in that timer's workflow
task, runs one local activity (a "notification": it notes how late the task began) and
ends. That is the least Temporal itself can do per case when a day turns: one timer and
one workflow task, most of them a replay for a worker whose cache holds fewer workflows.
No read model, no memo, no search attributes: what onechain adds is what the comparison
shows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity, workflow

#: How late each bare workflow's notification began (seconds after the instant), in the
#: order they ran; appended by the local activity in this process.
LATENESS: list[float] = []
#: Workflows that have begun their sleep (counted live, not on replay): the clock is moved
#: once all have, as onechain's phase moves it once every case is set up.
ARMED = [0]


@activity.defn(name="bare_notify")
def bare_notify(late_by: float) -> None:
    LATENESS.append(late_by)


@workflow.defn(name="BareTurn", sandboxed=False)
class BareTurn:
    """Sleep until the instant, notify once, end."""

    @workflow.run
    async def run(self, instant: datetime) -> None:
        if not workflow.unsafe.is_replaying():
            ARMED[0] += 1
        await workflow.sleep(instant - workflow.now())
        late_by = (workflow.now() - instant).total_seconds()
        await workflow.execute_local_activity(
            bare_notify, late_by, start_to_close_timeout=timedelta(seconds=30)
        )


async def start_bare(client: Any, task_queue: str, n: int, concurrency: int, at: datetime) -> None:
    gate = asyncio.Semaphore(concurrency)
    prefix = f"bare-{uuid.uuid4().hex[:4]}"

    async def one(i: int) -> None:
        async with gate:
            await client.start_workflow(
                BareTurn.run, at, id=f"{prefix}-{i:05d}", task_queue=task_queue
            )

    await asyncio.gather(*(one(i) for i in range(n)))


async def bare_at_the_turn(cases: int, concurrency: int, timeout: float) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.worker import Worker

    from bench.bench_open_cases import WARNING_INSTANT
    from bench.bench_reconcile import log
    from runtime.settings import get_settings
    from tests.harness import start_time_skipping_env
    from tests.test_deadlines_timers import RECEIVED
    from worker import workflow_runner

    LATENESS.clear()
    ARMED[0] = 0
    env = await start_time_skipping_env()
    try:
        task_queue = f"bench-bare-{uuid.uuid4().hex[:6]}"
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[BareTurn],
            activities=[bare_notify],
            activity_executor=ThreadPoolExecutor(max_workers=8),
            workflow_runner=workflow_runner(),
            max_cached_workflows=get_settings().worker_cache,
        ):
            now = await env.get_current_time()
            await env.sleep(RECEIVED - now)
            log(f"bare: starting {cases:,} workflows that sleep until the instant")
            began = time.perf_counter()
            await start_bare(env.client, task_queue, cases, concurrency, WARNING_INSTANT)
            log(f"  started in {time.perf_counter() - began:.0f} s")
            while ARMED[0] < cases and time.perf_counter() - began < timeout:
                await asyncio.sleep(0.25)
            await asyncio.sleep(2)  # the last workflow tasks' completions reach the server
            log(f"  all asleep {time.perf_counter() - began:.0f} s after the first start")
            now = await env.get_current_time()
            turned = time.perf_counter()
            await env.sleep(WARNING_INSTANT - now)
            while len(LATENESS) < cases and time.perf_counter() - turned < timeout:
                await asyncio.sleep(0.25)
            all_done = time.perf_counter() - turned
            late = sorted(LATENESS)
            print(
                f"\nbare: {cases:,} workflows, one timer each due at "
                f"{WARNING_INSTANT.isoformat()}; {len(late):,} notified"
            )
            if late:
                print(
                    f"  late by p50 {late[len(late) // 2]:.2f} s, "
                    f"p95 {late[int(0.95 * (len(late) - 1))]:.2f} s, max {late[-1]:.2f} s; "
                    f"{sum(s <= 1.0 for s in late):,} within 1 s; "
                    f"all notified {all_done:.1f} s after the instant"
                )
    finally:
        await env.shutdown()
