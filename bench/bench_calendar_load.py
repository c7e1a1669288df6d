"""What `onechain calendar load` costs for many running cases (issue 23, point 1).

Run from the project root (the venv active)::

    python bench/bench_calendar_load.py               # 2,000 running cases
    python bench/bench_calendar_load.py --cases 500

One fresh dev server (SQLite file, the embedded default's flags), a fresh read model and
the production worker in this process. It starts ``--cases`` kindergarten cases, waits
until the read model holds them all, then measures:

* **one at a time** — the reload signal sent case after case (how `calendar load` sent it
  before) to the first 200 cases, extrapolated;
* **at once** — a new schedule (docs/calendar-2027.example.json) stored as `calendar
  load` stores it, then ``CaseDesk.broadcast_calendar_reload`` with its default number
  of signals in flight and the new revision, to every case: the time until every case
  was told, and the time until the read model shows every running case on the new
  calendar revision (the worker's side: a workflow task and a local activity per case).
  This is the number the goal "20,000 open cases in under 2 minutes" is about.

``ONECHAIN_WORKER_CACHE`` (default 1,000 cases) decides how many of the told cases the
worker still holds; the others are replayed from their history first.

Printed, not asserted: the machine is shared and its load varies.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEQUENTIAL_SAMPLE = 200

from bench.sampler import Sampler  # noqa: E402


def _reloaded_count(engine: object) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    from readmodel.database import read_session
    from readmodel.tables import EventRecord

    with read_session(engine) as session:  # type: ignore[arg-type]
        return int(
            session.exec(select(func.count()).where(EventRecord.kind == "calendar_reloaded")).one()
        )


def _running_count(engine: object) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    from readmodel.database import read_session
    from readmodel.tables import CaseRecord

    with read_session(engine) as session:  # type: ignore[arg-type]
        return int(session.exec(select(func.count()).where(CaseRecord.status == "running")).one())


async def bench(cases: int, workdir: Path, profile: bool = False) -> None:
    import chains  # noqa: F401
    from bench.dev_server import start_dev_server
    from client.facade import CaseDesk, CaseRequest
    from domain.actions import CalendarReload
    from domain.calendar_sources import load_schedule_file
    from domain.case import Applicant
    from domain.roles import Actor, Role
    from readmodel.calendar_revisions import running_behind
    from readmodel.calendar_store import calendar_revision, store_schedule
    from readmodel.database import create_read_model, ready_engine
    from runtime.connect import data_converter
    from runtime.keys import init_keys, keys_dir
    from runtime.settings import get_settings
    from simulator.people import credit_code
    from trust.credentials import acting_as
    from trust.signer import signer_from_settings
    from worker import build_worker
    from workflows import registry
    from workflows.case_workflow import CaseWorkflow
    from workflows.form_samples import sample_values

    settings = get_settings()
    init_keys(keys_dir(settings))
    create_read_model(settings.resolved_database_url)
    engine = ready_engine(settings.resolved_database_url)
    env = await start_dev_server(workdir / "temporal.sqlite3", data_converter(keys_dir(settings)))
    signer = signer_from_settings()
    clerk = Actor(user_id="clerk1", name="窗口张三", role=Role.WINDOW_CLERK, department="window")
    admin = Actor(user_id="admin1", name="管理员", role=Role.ADMINISTRATOR)
    chain = registry.get_chain("kindergarten")
    task_queue = f"cal-{uuid.uuid4().hex[:6]}"
    try:
        async with build_worker(env.client, task_queue):
            desk = CaseDesk(env.client, task_queue=task_queue, credentials=signer)
            gate = asyncio.Semaphore(32)
            began = time.perf_counter()

            async def start(n: int) -> None:
                async with gate:
                    await desk.start_case(
                        CaseRequest(
                            case_no=f"CL{n:06d}",
                            chain=chain.code,
                            applicant=Applicant(
                                kind="organisation",
                                name="某某幼儿园有限公司",
                                id_number=credit_code(random.Random(n)),
                            ),
                            form=sample_values(chain.form),
                            materials=[m.code for m in chain.materials],
                            accepted_by=clerk,
                        )
                    )

            await asyncio.gather(*(start(n) for n in range(cases)))
            while await asyncio.to_thread(_running_count, engine) < cases:
                await asyncio.sleep(0.5)
            print(f"{cases} cases started and projected in {time.perf_counter() - began:.0f} s")

            as_admin = CaseDesk(env.client, task_queue=task_queue, credentials=signer.sign(admin))
            numbers = await as_admin.running_case_numbers()
            began = time.perf_counter()
            with acting_as(signer.sign(admin)):
                for case_no in numbers[:SEQUENTIAL_SAMPLE]:
                    await as_admin.handle(case_no).signal(
                        CaseWorkflow.reload_calendar, CalendarReload()
                    )
            one = (time.perf_counter() - began) / min(SEQUENTIAL_SAMPLE, len(numbers))
            print(
                f"one at a time: {one * 1000:.1f} ms per case → {one * cases:.0f} s for {cases}, "
                f"{one * 20_000 / 60:.1f} min for 20,000 (extrapolated)"
            )
            while await asyncio.to_thread(_reloaded_count, engine) < min(SEQUENTIAL_SAMPLE, cases):
                await asyncio.sleep(0.5)

            example = Path(__file__).resolve().parent.parent / "docs/calendar-2027.example.json"
            sampler = Sampler()
            if profile:
                sampler.__enter__()
            began = time.perf_counter()
            store_schedule(engine, load_schedule_file(example), by=admin.user_id)
            revision = calendar_revision(engine)
            told = await as_admin.broadcast_calendar_reload(revision=revision)
            sent = time.perf_counter() - began
            while (behind := await asyncio.to_thread(running_behind, engine, revision)) > 0:
                await asyncio.sleep(0.25)
            done = time.perf_counter() - began
            if profile:
                sampler.__exit__()
                print(sampler.report())
            print(
                f"at once: {told} cases told in {sent:.1f} s ({told / sent:.0f}/s); every "
                f"running case on revision {revision} in the read model after {done:.1f} s "
                f"({told / done:.0f}/s; 20,000 at this rate: {20_000 / (told / done) / 60:.1f} "
                f"min; worker cache {settings.worker_cache}, {behind} behind)"
            )
    finally:
        await env.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument(
        "--profile", action="store_true", help="sample this process's threads during the load"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onechain-bench-calendar-") as tmp:
        os.environ["ONECHAIN_DATA_DIR"] = str(Path(tmp) / "data")
        asyncio.run(bench(args.cases, Path(tmp), args.profile))
        os._exit(0)  # the client's threads can abort interpreter shutdown (sdk-python#300)


if __name__ == "__main__":
    main()
