"""Hosts the case workflow and its activities on a task queue.

Run with ``onechain worker``; tests build the same worker with :func:`build_worker`
so that what is tested is what runs.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import chains  # noqa: F401  (registers every chain)
from activities import ALL_ACTIVITIES
from activities.calendar import load_calendar
from workflows.case_workflow import CaseWorkflow

# Pure modules the workflow uses are shared with the sandbox instead of being
# re-imported for every case: pydantic model classes and the chain registry must be
# the worker's own, and re-importing them per workflow costs milliseconds each.
PASSTHROUGH_MODULES = (
    "domain",
    "chains",
    "workflows.registry",
    "workflows.chain",
    "workflows.steps",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every case runs in (also used by replay tests)."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def build_worker(
    client: Client, task_queue: str, *, max_concurrent_activities: int = 32, **options: Any
) -> Worker:
    """The production worker; ``options`` pass through to :class:`Worker` (tests use
    ``max_cached_workflows=0`` to force a replay on every workflow task)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflow],
        activities=[*ALL_ACTIVITIES, load_calendar],
        activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
        max_concurrent_activities=max_concurrent_activities,
        workflow_runner=workflow_runner(),
        **options,
    )


async def run_worker(task_queue: str | None = None) -> None:
    """Connect with the standard settings and run until cancelled."""
    from runtime.connect import connect
    from runtime.settings import get_settings

    client = await connect()
    worker = build_worker(client, task_queue or get_settings().task_queue)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(run_worker())
