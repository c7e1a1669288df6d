"""What `onechain forecast` costs at a city's scale (issue 24's goal: 25,000 open cases,
1,000 futures, 10 working days in under 10 s on this machine).

Run from the project root (the venv active)::

    python bench/bench_forecast.py                      # 25,000 open tasks, 1,000 futures
    python bench/bench_forecast.py --tasks 5000 --futures 2000

A fresh SQLite read model in a temp folder, filled directly with rows shaped as the
projector writes them: ``--tasks`` open review tasks over twelve departments (one in
six joint, with two departments), each started 0–15 working days ago with a 5–20 day
limit, and 40,000 concluded tasks of history over the last six months. Times printed:
reading the read model, simulating, and the whole ``make_forecast`` call: the open tasks
alone, with new cases (the bench's cases are all kindergarten's, so its arrival rate is
the rate that keeps 25,000 open: about 1,200 new cases a working day, drawn through
its four stages), and with a capacity and an arrivals what-if. Nothing asserts on timing.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEPARTMENTS = ["education", "fire", "health", "market", "civil_affairs"] + [
    f"dept{n:02d}" for n in range(5, 12)
]
HISTORY = 40_000
#: The open tasks stand at kindergarten's first stage, so each case has three more to walk.
STEP = "消防安全检查初审"


def fill(engine: object, tasks: int, today: date, rng: random.Random) -> None:
    from sqlalchemy import insert

    from readmodel.database import write_session
    from readmodel.tables import CaseRecord, TaskRecord

    cases, rows = [], []
    noon = lambda d: datetime(d.year, d.month, d.day, 4, tzinfo=UTC)  # noqa: E731  12:00 CST
    for n in range(tasks + HISTORY):
        open_ = n < tasks
        started = today - timedelta(days=rng.randint(0, 21) if open_ else rng.randint(25, 180))
        departments = rng.sample(DEPARTMENTS, 2 if n % 6 == 0 else 1)
        limit = rng.randint(5, 20)
        due = started + timedelta(days=limit * 7 // 5)
        case_no = f"B{n:07d}"
        cases.append({
            "case_no": case_no, "chain": "kindergarten", "chain_version": 1,
            "status": "running" if open_ else "approved", "stage": "review",
            "applicant_name": "某公司", "applicant_id_masked": "9137****",
            "received_at": noon(started), "due_on": due, "provisional": False,
            "statutory_due_on": due, "warning": "none", "case_warning": "none",
            "open_departments": departments if open_ else [], "updated_at": noon(started),
            "last_seq": 1, "warning_rank": 9, "due_sort": due,
        })  # fmt: skip
        took = max(1, int(rng.gammavariate(2.0, limit / 3)))
        rows.append({
            "case_no": case_no, "task_id": "t1", "kind": "review", "name": STEP,
            "stage": "review", "departments": departments,
            "open_departments": departments if open_ else [], "assignees": [],
            "status": "open" if open_ else "approved", "started_at": noon(started),
            "concluded_at": None if open_ else noon(started + timedelta(days=took * 7 // 5)),
            "due_on": due, "provisional": False, "warning": "none", "stopped": False,
            "extension_days": 0,
            "clock": {"limit_days": limit, "warning_on": (due - timedelta(days=2)).isoformat(),
                      "stopped": False},
        })  # fmt: skip
    with write_session(engine) as session:  # type: ignore[arg-type]
        session.exec(insert(CaseRecord), params=cases)  # type: ignore[call-overload]
        session.exec(insert(TaskRecord), params=rows)  # type: ignore[call-overload]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=25_000)
    parser.add_argument("--futures", type=int, default=1000)
    parser.add_argument("--days", type=int, default=10)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="onechain-bench-forecast-") as tmp:
        os.environ["ONECHAIN_DATA_DIR"] = str(Path(tmp) / "data")
        from forecast.forecast import WhatIf, make_forecast
        from forecast.history import open_tasks
        from readmodel.database import create_read_model, ready_engine
        from runtime.settings import get_settings

        url = get_settings().resolved_database_url
        create_read_model(url)
        engine = ready_engine(url)
        today = date(2026, 12, 7)
        began = time.perf_counter()
        fill(engine, args.tasks, today, random.Random(1))
        print(f"filled {args.tasks:,} open + {HISTORY:,} concluded tasks in "
              f"{time.perf_counter() - began:.1f} s")  # fmt: skip
        began = time.perf_counter()
        found = open_tasks(engine, today)
        print(f"read {len(found):,} open tasks in {time.perf_counter() - began:.2f} s")
        runs = (
            ("open tasks only", None, False),
            ("baseline with new cases", None, True),
            ("what-if capacity", WhatIf({"fire": 1.5}), True),
            ("what-if arrivals +30%", WhatIf(arrivals=1.3, said={"arrivals": "+30%"}), True),
        )
        for label, what_if, new_cases in runs:
            began, cpu = time.perf_counter(), time.process_time()
            result = make_forecast(engine, today, days=args.days, futures=args.futures, seed=1,
                                   what_if=what_if, new_cases=new_cases)  # fmt: skip
            took, cpu = time.perf_counter() - began, time.process_time() - cpu
            reds = sum(d.red_total for d in result.departments)
            print(f"{label}: {args.tasks:,} open tasks × {args.futures:,} futures × {args.days} "
                  f"working days in {took:.2f} s (CPU {cpu:.2f} s; expected red cards {reds:.0f})")  # fmt: skip


if __name__ == "__main__":
    main()
