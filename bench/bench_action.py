"""What one coordinator action costs on an idle system, and what proving who sent it adds.

Run from the project root (the venv active)::

    python bench/bench_action.py             # 300 urges per worker
    python bench/bench_action.py --actions 100
    python bench/bench_action.py --pause 0   # back to back

One fresh dev server (SQLite file, the embedded default's pragmas) and a fresh read
model in a temp folder. Three workers on three task queues, in this process:

* **signed** — the production worker (``worker.build_worker``): every Update's session
  token is verified by the identity interceptor before the validator;
* **unverified** — the same workflow and activities without the interceptor (built here
  only, to measure the difference; the client still sends the same headers);
* **bare** — bare Temporal's floor for the same exchange: ``BenchIdleWorkflow``, one
  Update with a validator that counts it and answers, on a third worker with the same
  runner and converter (no read model, memo, audit or notification).

One kindergarten case per worker; the coordinator urges an open task ``--actions``
times on one worker, then on the other. (Alternating urge by urge between the two workers
in one process put one of them at a steady ~40 ms and the other at ~10 ms, a different
one in each run; one worker alone, as in production, answers in ~12 ms.) ``--pause`` seconds pass between
two urges (default 0.5), so each meets an idle system: the previous urge's notification,
the workflow task for its result and the projector's read are over. ``--pause 0`` sends
them back to back, each then queueing behind the previous one's follow-ups. Printed:
latency p50/p95/max of one Update (``CaseDesk.act`` → result), the history size after,
and the CPU time of one token verification. Nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio import workflow
from temporalio.exceptions import ApplicationError


@workflow.defn(name="BenchIdleWorkflow")
class BenchIdleWorkflow:
    """The least one action costs in Temporal: an Update with a validator to a running
    workflow, which records it and answers."""

    def __init__(self) -> None:
        self._urges = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: False)
        return self._urges

    @workflow.update
    def urge(self, reason: str) -> int:
        self._urges += 1
        return self._urges

    @urge.validator
    def _check_urge(self, reason: str) -> None:
        if not reason:
            raise ApplicationError("a reason is required", non_retryable=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(actions: int, pause: float, workdir: Path) -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    import chains  # noqa: F401
    from activities import ALL_ACTIVITIES
    from activities.admission import AdmissionActivities
    from activities.calendar import load_calendar
    from activities.projection import read_model_engine
    from bench.dev_server import start_dev_server
    from client.facade import CaseDesk, CaseRequest
    from domain.actions import Urge
    from domain.case import Applicant
    from domain.roles import Actor, Role
    from readmodel.calendar_store import calendar_from_store
    from runtime.settings import get_settings
    from trust.signer import signer_from_settings
    from worker import build_worker, identity_verifier, workflow_runner
    from workflows import registry
    from workflows.case_workflow import CaseWorkflow
    from workflows.form_samples import sample_values

    env = await start_dev_server(workdir / "temporal.sqlite3", pydantic_data_converter)
    signer = signer_from_settings()
    clerk = Actor(user_id="clerk1", name="窗口张三", role=Role.WINDOW_CLERK, department="window")
    coordinator = Actor(user_id="coord1", name="协调李四", role=Role.COORDINATOR)
    settings = get_settings()
    verifier = identity_verifier()
    calendars = functools.partial(calendar_from_store, read_model_engine())
    admission = AdmissionActivities(verifier, calendars, settings.warning_fraction)
    queues = {"signed": f"sig-{uuid.uuid4().hex[:6]}", "unverified": f"raw-{uuid.uuid4().hex[:6]}"}
    bare_queue = f"bare-{uuid.uuid4().hex[:6]}"
    bare = Worker(
        env.client,
        task_queue=bare_queue,
        workflows=[BenchIdleWorkflow],
        workflow_runner=workflow_runner(),
    )
    unverified = Worker(
        env.client,
        task_queue=queues["unverified"],
        workflows=[CaseWorkflow],
        activities=[
            *ALL_ACTIVITIES,
            load_calendar,
            admission.admit_case,
            admission.reload_calendar_from_store,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=8),
        workflow_runner=workflow_runner(),
    )
    chain = registry.get_chain("kindergarten")
    try:
        async with build_worker(env.client, queues["signed"]), unverified, bare:
            desks = {
                m: CaseDesk(env.client, task_queue=q, credentials=signer) for m, q in queues.items()
            }
            cases: dict[str, str] = {}
            for mode, desk in desks.items():
                case_no = f"BA{uuid.uuid4().hex[:8].upper()}"
                await desk.start_case(
                    CaseRequest(
                        case_no=case_no,
                        chain="kindergarten",
                        applicant=Applicant(
                            kind="organisation",
                            name="济宁市阳光教育咨询有限公司",
                            id_number="91370800MA3C4XYB7E",
                        ),
                        form=sample_values(chain.form),
                        materials=[m.code for m in chain.materials],
                        accepted_by=clerk,
                    )
                )
                state = await desk.state(case_no)
                while not state.open_tasks:
                    await asyncio.sleep(0.05)
                    state = await desk.state(case_no)
                cases[mode] = case_no
            tasks = {m: (await desks[m].state(c)).open_tasks[0].id for m, c in cases.items()}
            latencies: dict[str, list[float]] = {m: [] for m in desks}
            for mode, desk in desks.items():  # one worker after the other (see the notes)
                for _ in range(actions):
                    action = Urge(actor=coordinator, task_id=tasks[mode], reason="请加快")
                    began = time.perf_counter()
                    await desk.act(cases[mode], action)
                    latencies[mode].append((time.perf_counter() - began) * 1000)
                    await asyncio.sleep(pause)
            bare_handle = await env.client.start_workflow(
                BenchIdleWorkflow.run, id=f"bare-{uuid.uuid4().hex[:8]}", task_queue=bare_queue
            )
            latencies["bare"] = []
            for _ in range(actions):
                began = time.perf_counter()
                await bare_handle.execute_update(BenchIdleWorkflow.urge, "请加快")
                latencies["bare"].append((time.perf_counter() - began) * 1000)
                await asyncio.sleep(pause)
            handles = {m: desks[m].handle(c) for m, c in cases.items()} | {"bare": bare_handle}
            print(f"\none coordinator action (urge), {actions} per worker, {pause:g} s apart, ms")
            print(f"{'worker':<12}{'p50':>8}{'p95':>8}{'max':>8}{'history bytes':>16}")
            for mode, values in latencies.items():
                history = await handles[mode].fetch_history()
                size = sum(e.ByteSize() for e in history.events)
                print(
                    f"{mode:<12}{statistics.median(values):8.1f}{percentile(values, 0.95):8.1f}"
                    f"{max(values):8.1f}{size:16,}"
                )
        from domain.actions import Urge
        from trust.action_proof import update_binding

        credentials = signer.sign(coordinator)
        urge = Urge(actor=coordinator, task_id="T1", reason="催办")
        rounds = 2000
        began = time.process_time()
        for _ in range(rounds):
            verifier.verify(credentials.token, "coordinator", datetime.now(UTC))
        per = (time.process_time() - began) / rounds * 1e6
        print(f"\none token verification (signature, expiry, directory): {per:.0f} µs CPU")
        began = time.process_time()
        for n in range(rounds):
            binding = update_binding("case-X", "urge", str(n), [urge])
            credentials.proof_for(binding)
        per = (time.process_time() - began) / rounds * 1e6
        print(f"one action proof signed (digest of the arguments + Ed25519): {per:.0f} µs CPU")
        began = time.process_time()
        for _ in range(rounds):
            binding = update_binding("case-X", "urge", "fixed", [urge])
            verifier.verify_action(
                credentials.token,
                "coordinator",
                credentials.proof_for(binding),
                binding,
                datetime.now(UTC),
            )
        per = (time.process_time() - began) / rounds * 1e6
        print(
            f"one action verified (proof signed, then token + proof + directory): {per:.0f} µs CPU"
        )
    finally:
        await env.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=300)
    parser.add_argument(
        "--pause", type=float, default=0.5, help="seconds between two urges (0: back to back)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onechain-bench-action-") as tmp:
        os.environ["ONECHAIN_DATA_DIR"] = str(Path(tmp) / "data")
        asyncio.run(bench(args.actions, args.pause, Path(tmp)))
        os._exit(0)  # the client's threads can abort interpreter shutdown (sdk-python#300)


if __name__ == "__main__":
    main()
