"""What answering a Query costs the worker for a case that is not in its cache — the
cost that bounds ``onechain reconcile`` and the projector after a restart: every such
Query replays the case from its history first.

Run from the project root (the venv active)::

    python bench/bench_query.py                      # onechain's runner (no sandbox)
    python bench/bench_query.py --runner sandbox     # Temporal's sandbox, as before

One fresh dev server; ``--cases`` kindergarten cases are started and left waiting for
their first reviews; then a worker with ``max_cached_workflows=0`` (so every Query
replays) answers ``--queries`` ``reconciliation`` Queries, ``--concurrency`` at a time.
Prints Queries per second and the bench process's CPU per Query (worker and client
are this process). Nothing asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The sandbox configuration cases ran with before (``worker.py`` until 2026-12-02).
SANDBOX_PASSTHROUGH = (
    "domain",
    "chains",
    "workflows.registry",
    "workflows.chain",
    "workflows.steps",
    "workflows.projection_feed",
    "trust",
    "cryptography",
    "jwt",
)


def runner_named(name: str) -> Any:
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from worker import workflow_runner

    if name == "sandbox":
        restrictions = SandboxRestrictions.default.with_passthrough_modules(*SANDBOX_PASSTHROUGH)
        return SandboxedWorkflowRunner(restrictions=restrictions)
    return workflow_runner()


async def bench(args: argparse.Namespace, workdir: Path) -> None:
    from temporalio.testing import WorkflowEnvironment

    import worker
    from bench.bench_reconcile import start_cases
    from client.facade import CaseDesk
    from runtime.binaries import find_binary
    from runtime.connect import data_converter
    from runtime.keys import init_keys, keys_dir
    from runtime.settings import get_settings
    from trust.signer import signer_from_settings
    from workflows import search_attributes as sa

    settings = get_settings()
    init_keys(keys_dir(settings))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"),
        data_converter=data_converter(keys_dir(settings)),
        search_attributes=sa.ALL_KEYS,
        dev_server_database_filename=str(workdir / "temporal.sqlite3"),
    )
    chosen = runner_named(args.runner)
    worker.workflow_runner = lambda: chosen  # build_worker asks for it by name
    try:
        task_queue = f"bench-query-{uuid.uuid4().hex[:6]}"
        desk = CaseDesk(env.client, task_queue=task_queue, credentials=signer_from_settings())
        async with worker.build_worker(env.client, task_queue):
            case_nos = await start_cases(desk, args.cases, 16)
            for case_no in case_nos:
                await desk.state(case_no)  # admitted and waiting
        async with worker.build_worker(env.client, task_queue, max_cached_workflows=0):
            await desk.reconciliation(case_nos[0])  # the worker's first poll
            gate = asyncio.Semaphore(args.concurrency)

            async def one(i: int) -> None:
                async with gate:
                    await desk.reconciliation(case_nos[i % len(case_nos)])

            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(args.queries)))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"runner {args.runner}: {args.queries} Queries on uncached cases in {wall:.1f} s "
            f"= {args.queries / wall:.1f}/s; bench-process CPU {cpu / args.queries * 1000:.1f} "
            "ms per Query"
        )
    finally:
        await env.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runner", choices=("onechain", "sandbox"), default="onechain")
    parser.add_argument("--cases", type=int, default=40, help="cases to query (40)")
    parser.add_argument("--queries", type=int, default=400, help="Queries (400)")
    parser.add_argument("--concurrency", type=int, default=16, help="Queries at once (16)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="onechain-bench-query-"))
    os.environ["ONECHAIN_DATA_DIR"] = str(workdir / "data")
    os.environ.pop("ONECHAIN_DATABASE_URL", None)
    try:
        asyncio.run(bench(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
