"""Read-model projection throughput on SQLite and PostgreSQL, same batches, same run.

Each batch is one case as the console's sample data makes it (``tui.demo.sample_batches``:
a case row, its tasks, its departments, a few events) and is written the way the
``project_case`` activity writes it: ``readmodel.projection.project``, one transaction per
batch. First every case is inserted, then every case gets a newer batch (replace path),
with 1 writer and with 8 writer threads (the worker's activity threads).

PostgreSQL is a real PostgreSQL 16 from the ``pgserver`` wheel (unix socket, default
settings: fsync on), as in the tests. Run from the project root:

    .venv/bin/python bench/bench_projection.py [--batches 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine

from domain.projection import ProjectionBatch
from readmodel.database import create_schema, make_engine
from readmodel.projection import project
from tui.demo import sample_batches

TODAY = date(2026, 5, 20)


def newer(batch: ProjectionBatch) -> ProjectionBatch:
    case = batch.case.model_copy(
        update={
            "last_seq": batch.case.last_seq + 1,
            "updated_at": batch.case.updated_at + timedelta(minutes=1),
        }
    )
    return batch.model_copy(update={"case": case})


def rate(engine: Engine, batches: list[ProjectionBatch], threads: int) -> float:
    """Batches per second, projecting ``batches`` with ``threads`` writers."""
    started = time.perf_counter()
    if threads == 1:
        for batch in batches:
            project(engine, batch)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda b: project(engine, b), batches))
    return len(batches) / (time.perf_counter() - started)


def measure(name: str, make: Callable[[], Engine], count: int) -> list[str]:
    lines = []
    for threads in (1, 8):
        engine = make()
        create_schema(engine)
        first = list(sample_batches(count, TODAY, seed=threads))
        inserted = rate(engine, first, threads)
        replaced = rate(engine, [newer(b) for b in first], threads)
        engine.dispose()
        lines.append(f"| {name} | {threads} | {count} | {inserted:,.0f} | {replaced:,.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onechain-bench-") as folder:
        counter = iter(range(100))

        def sqlite() -> Engine:
            return make_engine(f"sqlite:///{Path(folder) / f'rm{next(counter)}.sqlite3'}")

        rows = measure("SQLite (WAL, synchronous=NORMAL)", sqlite, args.batches)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver  # type: ignore[import-untyped]

            server = pgserver.get_server(Path(folder) / "pg", cleanup_mode="delete")
        try:
            base = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
            names = iter(range(100))

            def postgresql() -> Engine:
                name = f"bench{next(names)}"
                server.psql(f"CREATE DATABASE {name};")
                return make_engine(base.replace("/postgres?", f"/{name}?"))

            rows += measure("PostgreSQL 16 (pgserver, fsync on)", postgresql, args.batches)
        finally:
            server.cleanup()
    print("| database | writers | batches | insert batches/s | replace batches/s |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
