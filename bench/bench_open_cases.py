"""Open work at rest, and at the turn of a working day (issue 10): N cases waiting on their
timers — what they cost while they wait, and how late their warnings fire when the day turns.

Run from the project root (the venv active)::

    python bench/bench_open_cases.py                      # 20,000 cases, both phases
    python bench/bench_open_cases.py -n 2000 --phase warnings

**rest** — one dev server (a SQLite file with the embedded default's WAL pragmas) and the
production worker in this process, with its default cache. N kindergarten cases are started
through the facade and left waiting for their first reviews (each with its deadline timer
armed). Printed: this process's resident memory before the starts and once all are in the
read model (the worker and its cache; the drivers keep only case numbers), the dev server's
database and the read model on disk, and how long the starts and the projection took.

**warnings** — the time-skipping test server and the production worker, with the 2030
official schedule of ``tests/test_deadlines_timers.py``. N cases are received at the same
instant (Fri 27 Sep 2030 10:00 CST), so the four review tasks of every case turn yellow at
00:00 CST on Thu 10 Oct 2030. The server's clock is moved to that instant; from then on it
runs at real speed while the worker handles N timers at once. Printed: how late each
warning was recorded (its time in the case's events minus the instant: p50, p95, max; the
goal is all within 1 s) and how long after the instant the read model showed every case
yellow (goal: 5 s). Nothing asserts on timing.

**bare** — the floor for **warnings**: N bare Temporal workflows on the same kind of server
and worker, each waking at the same instant to run one local activity (``bench/bare_turn.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_reconcile import count_cases, log, resident_mib  # noqa: E402
from domain.timezone import CST  # noqa: E402

#: The instant the review tasks of a case received at ``RECEIVED`` of
#: ``tests/test_deadlines_timers.py`` turn yellow under its ``SCHEDULE_2030`` (five
#: working days across National Day 2030).
WARNING_INSTANT = datetime(2030, 10, 10, 0, 0, tzinfo=CST)


def request(case_no: str, received_at: datetime | None) -> Any:
    from bench.bench_cases import case_request

    return case_request(case_no).model_copy(update={"received_at": received_at})


async def start_all(desk: Any, n: int, concurrency: int, received_at: datetime | None) -> float:
    """Start ``n`` cases, ``concurrency`` at once; returns the seconds it took."""
    prefix = f"O{uuid.uuid4().hex[:4].upper()}"
    gate = asyncio.Semaphore(concurrency)
    done = 0
    began = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal done
        async with gate:
            await desk.start_case(request(f"{prefix}{i:05d}", received_at))
        done += 1
        if done % 2000 == 0:
            log(f"  {done:,}/{n:,} started")

    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - began


async def wait_until(check: Any, wanted: int, timeout: float) -> tuple[int, float]:
    """Poll ``check()`` (a count) until it reaches ``wanted``; (count, seconds waited)."""
    began = time.perf_counter()
    while True:
        count = await asyncio.to_thread(check)
        if count >= wanted or time.perf_counter() - began > timeout:
            return count, time.perf_counter() - began
        await asyncio.sleep(0.25)


def file_mib(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / (1 << 20)


async def at_rest(args: argparse.Namespace, workdir: Path) -> None:
    from bench.dev_server import start_dev_server
    from client.facade import CaseDesk
    from runtime.connect import data_converter
    from runtime.keys import keys_dir
    from runtime.settings import get_settings
    from trust.signer import signer_from_settings
    from worker import build_worker

    settings = get_settings()
    server_db = workdir / "temporal.sqlite3"
    env = await start_dev_server(server_db, data_converter(keys_dir(settings)))
    try:
        task_queue = f"bench-open-{uuid.uuid4().hex[:6]}"
        desk = CaseDesk(env.client, task_queue=task_queue, credentials=signer_from_settings())
        async with build_worker(env.client, task_queue):
            await asyncio.sleep(1)
            before = resident_mib()
            log(f"rest: starting {args.cases:,} cases; this process holds {before:,.0f} MiB")
            seconds = await start_all(desk, args.cases, args.concurrency, None)
            url = settings.resolved_database_url
            projected, waited = await wait_until(lambda: count_cases(url), args.cases, args.timeout)
            after = resident_mib()
            read_model = settings.data_dir / "readmodel.sqlite3"
            print(
                f"\nrest: {args.cases:,} open cases, worker cache {settings.worker_cache:,}\n"
                f"  started in {seconds:.0f} s ({args.cases / seconds:.0f}/s); "
                f"{projected:,} in the read model {waited:.0f} s later\n"
                f"  this process (worker): {before:,.0f} → {after:,.0f} MiB resident\n"
                f"  dev server database: "
                f"{file_mib(server_db, Path(f'{server_db}-wal')):,.0f} MiB "
                f"({file_mib(server_db, Path(f'{server_db}-wal')) * 1024 / args.cases:.1f} "
                "KiB a case)\n"
                f"  read model: {file_mib(read_model, Path(f'{read_model}-wal')):,.0f} MiB"
            )
    finally:
        await env.shutdown()


def warned(url: str, kind: str = "task_warning") -> list[datetime]:
    """When each warning of ``kind`` was recorded, from the read model's events."""
    from sqlmodel import select

    from readmodel.database import read_session, ready_engine
    from readmodel.tables import EventRecord

    with read_session(ready_engine(url)) as session:
        return list(session.exec(select(EventRecord.at).where(EventRecord.kind == kind)))


def yellow_cases(url: str) -> int:
    from sqlalchemy import text

    from readmodel.database import ready_engine

    with ready_engine(url).connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM cases WHERE warning IN ('yellow', 'red')")
            ).scalar_one()
        )


async def at_the_turn(args: argparse.Namespace) -> None:
    from client.facade import CaseDesk
    from domain.calendar_sources import calendar_from_schedules
    from runtime.settings import get_settings
    from tests.harness import LONG_SESSION, start_time_skipping_env
    from tests.test_deadlines_timers import RECEIVED, SCHEDULE_2030
    from trust.signer import signer_from_settings
    from worker import build_worker

    settings = get_settings()
    url = settings.resolved_database_url
    env = await start_time_skipping_env()
    try:

        def calendars(first: int, last: int) -> Any:  # 2030 loaded, for this worker only
            return calendar_from_schedules({2030: SCHEDULE_2030}, first, last)

        task_queue = f"bench-turn-{uuid.uuid4().hex[:6]}"
        desk = CaseDesk(
            env.client, task_queue=task_queue, credentials=signer_from_settings(LONG_SESSION)
        )
        async with build_worker(env.client, task_queue, calendars=calendars):
            now = await env.get_current_time()
            await env.sleep(RECEIVED - now)
            log(f"warnings: starting {args.cases:,} cases received at {RECEIVED.isoformat()}")
            seconds = await start_all(desk, args.cases, args.concurrency, RECEIVED)
            projected, waited = await wait_until(lambda: count_cases(url), args.cases, args.timeout)
            log(f"  started in {seconds:.0f} s; {projected:,} projected {waited:.0f} s later")
            now = await env.get_current_time()
            log(f"  moving the server's clock from {now.isoformat()} to the instant")
            turned = time.perf_counter()  # the skip itself takes no real time to speak of
            await env.sleep(WARNING_INSTANT - now)
            shown, _ = await wait_until(lambda: yellow_cases(url), args.cases, args.timeout)
            showing = time.perf_counter() - turned
            moments = await asyncio.to_thread(warned, url)
            late = sorted((m - WARNING_INSTANT).total_seconds() for m in moments)
            wanted = args.cases * 4
            print(
                f"\nwarnings: {args.cases:,} cases, {wanted:,} task warnings due at "
                f"{WARNING_INSTANT.isoformat()}; {len(late):,} recorded"
            )
            if late:
                print(
                    f"  late by p50 {statistics.median(late):.2f} s, "
                    f"p95 {late[int(0.95 * (len(late) - 1))]:.2f} s, max {late[-1]:.2f} s; "
                    f"{sum(s <= 1.0 for s in late):,} within 1 s"
                )
            print(
                f"  the read model showed {shown:,} cases yellow {showing:.1f} s after the instant"
            )
    finally:
        await env.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", "-n", type=int, default=20_000, help="cases (20,000)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent starts (32)")
    parser.add_argument(
        "--phase",
        choices=("rest", "warnings", "bare", "both"),
        default="both",
        help="what to run (both: rest and warnings; bare: the bare-Temporal floor of warnings)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds to wait for the read model"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="onechain-bench-open-"))
    try:
        if args.phase == "bare":
            from bench.bare_turn import bare_at_the_turn

            os.environ["ONECHAIN_DATA_DIR"] = str(workdir / "bare")
            asyncio.run(bare_at_the_turn(args.cases, args.concurrency, args.timeout))
            return
        for phase in ("rest", "warnings"):
            if args.phase not in (phase, "both"):
                continue
            # A fresh data folder (read model, keys) per phase; settings are cached.
            os.environ["ONECHAIN_DATA_DIR"] = str(workdir / phase)
            os.environ.pop("ONECHAIN_DATABASE_URL", None)
            from runtime.keys import init_keys, keys_dir
            from runtime.settings import get_settings

            get_settings.cache_clear()
            init_keys(keys_dir(get_settings()))
            if phase == "rest":
                asyncio.run(at_rest(args, workdir))
            else:
                asyncio.run(at_the_turn(args))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
