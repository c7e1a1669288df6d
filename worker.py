"""Hosts the case workflow and its activities on a task queue.

Run with ``onechain worker``; tests build the same worker with :func:`build_worker`
so that what is tested is what runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner

import chains  # noqa: F401  (registers every chain)
from activities import ALL_ACTIVITIES
from activities.admission import AdmissionActivities, CalendarSource, rota_reader
from activities.calendar import load_calendar
from activities.projection import read_model_engine
from activities.supervision_items import load_finding, record_supervision_step
from readmodel.calendar_store import RevisedCalendars, calendar_from_store
from runtime.keys import keys_dir, load_signing_keys
from runtime.outside_sweep import OutsideSweep, sweeping
from runtime.projector import Projector, configured_writer, running
from runtime.settings import get_settings
from runtime.supervise_loop import SupervisionLoop, supervising
from trust.audit_log import anchoring, shared_recorder
from trust.directory import shared_directory
from trust.verifier import IdentityVerifier
from trust.workflow_interceptor import IdentityInterceptor
from workflows.case_workflow import CaseWorkflow
from workflows.supervision_item import SupervisionItemWorkflow


def workflow_runner() -> WorkflowRunner:
    """How every case runs (also in replay tests and the bench's bare baselines):
    without Temporal's sandbox.

    The sandbox imported the workflow module afresh for every workflow instance it
    created — every new case, and every case replayed to answer a Query after leaving
    the worker's cache: 44 ms of CPU per such Query with it (69 ms where no ``.pyc``
    is written), 27 ms without (``bench/bench_query.py``). Its checks never reached the chains (passed through, as
    the domain models and the registry must be), so determinism is checked instead
    by ``tests/test_workflow_determinism.py`` (engine, domain and every chain) and by
    replaying the recorded histories (``tests/test_versioning.py``).
    """
    return UnsandboxedWorkflowRunner()


def identity_verifier() -> IdentityVerifier:
    """Checks session tokens with the deployment's public signing keys and the shared
    user directory (refreshed every few seconds from the database)."""
    settings = get_settings()
    keys = load_signing_keys(keys_dir(settings))
    directory = shared_directory(read_model_engine(), settings.directory_refresh_seconds)
    return IdentityVerifier(keys.public_keys, directory)


#: How long a stopping worker waits for its projector to write what it was told.
DRAIN_SECONDS = 15.0


class CaseWorker(Worker):
    """The Temporal worker and, beside it, the projector that writes the read model.

    The projector asks the cases for their state with Queries, so it must finish its
    work while this worker still answers them: ``async with`` drains it before the
    worker shuts down. ``run()`` alone (``onechain worker``) leaves what was not written
    in the projector's journal for the next start. While it runs, it anchors the audit
    chain's head outside the database (``trust.audit_log.anchoring``).
    """

    def __init__(
        self,
        client: Client,
        *,
        projector: Projector,
        sweep: OutsideSweep | None = None,
        supervision: SupervisionLoop | None = None,
        **options: Any,
    ) -> None:
        super().__init__(client, **options)
        self.projector = projector
        #: Looks for cases changed around onechain (``runtime.outside_sweep``).
        self.sweep = sweep
        #: Evaluates the 电子监察 rules on what is new (``runtime.supervise_loop``).
        self.supervision = supervision

    async def run(self) -> None:
        async with (
            running(self.projector),
            sweeping(self.sweep),
            supervising(self.supervision),
            anchoring(read_model_engine),
        ):
            await super().run()

    async def __aexit__(self, exc_type: type[BaseException] | None, *args: Any) -> None:
        await self.projector.drain(DRAIN_SECONDS)
        await super().__aexit__(exc_type, *args)


def projector_for(client: Client, task_queue: str) -> Projector:
    """The read-model projector of a worker on ``task_queue``."""
    sdk_runtime = client.service_client.config.runtime or Runtime.default()
    return Projector(
        client,
        task_queue,
        configured_writer,
        get_settings().data_dir / "projection",
        meter=sdk_runtime.metric_meter,
    )


def outside_sweep_for(client: Client, task_queue: str) -> OutsideSweep | None:
    """The worker's look for cases changed around onechain (None when switched off)."""
    seconds = get_settings().outside_sweep_seconds
    return OutsideSweep(client, task_queue, read_model_engine, seconds) if seconds else None


def supervision_for(client: Client) -> SupervisionLoop | None:
    """The worker's 电子监察 rounds (None when switched off)."""
    seconds = get_settings().supervise_seconds
    return SupervisionLoop(read_model_engine, seconds, client) if seconds else None


def build_worker(
    client: Client,
    task_queue: str,
    *,
    max_concurrent_activities: int = 32,
    verifier: IdentityVerifier | None = None,
    calendars: CalendarSource | None = None,
    **options: Any,
) -> CaseWorker:
    """The production worker; ``options`` pass through to :class:`Worker` (tests use
    ``max_cached_workflows=0`` to force a replay on every workflow task; by default it
    is ``ONECHAIN_WORKER_CACHE``).

    Every Update is verified by :class:`IdentityInterceptor` before its validator; case
    starts and calendar reloads are admitted by :class:`AdmissionActivities`, with the
    office's schedules from the shared database unless ``calendars`` says otherwise.
    Cases reach the read model through the worker's :class:`Projector`.
    """
    settings = get_settings()
    options.setdefault("max_cached_workflows", settings.worker_cache)
    verifier = verifier or identity_verifier()
    revised = None if calendars else RevisedCalendars(read_model_engine())
    calendars = calendars or functools.partial(calendar_from_store, read_model_engine())
    admission = AdmissionActivities(
        verifier,
        calendars,
        settings.warning_fraction,
        revised,
        rota=rota_reader(read_model_engine),
    )
    return CaseWorker(
        client,
        projector=projector_for(client, task_queue),
        sweep=outside_sweep_for(client, task_queue),
        supervision=supervision_for(client),
        task_queue=task_queue,
        workflows=[CaseWorkflow, SupervisionItemWorkflow],
        activities=[
            *ALL_ACTIVITIES,
            load_calendar,
            admission.admit_case,
            admission.reload_calendar_from_store,
            load_finding,
            record_supervision_step,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
        max_concurrent_activities=max_concurrent_activities,
        workflow_runner=workflow_runner(),
        interceptors=[IdentityInterceptor(verifier, shared_recorder(read_model_engine()).record)],
        **options,
    )


@contextlib.asynccontextmanager
async def serve_metrics(
    sdk_runtime: Runtime | None,
    gauge_seconds: float = 30.0,
    *,
    namespace: str | None = None,
    task_queue: str | None = None,
) -> AsyncIterator[None]:
    """While the worker runs: the worker-side gauges on ``runtime``'s metrics endpoint,
    and, given the worker's namespace and task queue, every case counter at zero from
    the start (``runtime.metrics_catalog``)."""
    if sdk_runtime is None:
        yield
        return
    from runtime.metrics_catalog import declare_case_metrics
    from runtime.open_cases_gauge import report_anchor_age, report_open_cases

    if namespace is not None and task_queue is not None:
        declare_case_metrics(sdk_runtime.metric_meter, namespace, task_queue)
    gauges = asyncio.gather(
        report_open_cases(sdk_runtime.metric_meter, read_model_engine(), gauge_seconds),
        report_anchor_age(sdk_runtime.metric_meter, get_settings().audit_anchors_file),
    )
    try:
        yield
    finally:
        gauges.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gauges


async def run_worker(task_queue: str | None = None) -> None:
    """Connect with the standard settings and run until cancelled."""
    from runtime.connect import connect

    client = await connect()
    worker = build_worker(client, task_queue or get_settings().task_queue)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(run_worker())
