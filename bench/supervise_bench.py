"""电子监察 evaluation at scale: every supervision rule over 25,000 cases' audit trail.

Builds a fresh SQLite read model (WAL, as ``onechain up``) holding a year of cases as
the engine records them: for each case its ``cases`` row, its ``tasks`` rows, its
``events`` rows and its audit rows, the latter sealed and chained through the real
append path (``readmodel.audit.append``, in trail order across cases). Histories are
realistic in shape (受理, parallel review by 2–5 departments, 补正, 特别程序, 延期,
代为决定, 办结, 七天双公示, 好差评 and 整改, some cases still running and some late)
and seeded, so a run is repeatable. Then:

1. cold: ``supervision.engine.run`` over all of it, every rule, default batches;
2. incremental: ~200 new audit rows (a few new cases and actions), ``run`` again;
3. idle: ``run`` once more with nothing new.

Run from the project root:

    .venv/bin/python bench/supervise_bench.py [--cases 25000] [--seed 11] [--keep]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, insert, select

if TYPE_CHECKING:
    from domain.calendar import WorkCalendar
    from supervision.engine import RunReport

#: A year of cases ending the day before "now" (CST working hours mostly).
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
SPAN_DAYS = 365
#: New cases for the incremental run (about 200 audit rows).
FRESH_CASES = 60
CST = timedelta(hours=8)
CHAINS: dict[str, list[str]] = {
    "kindergarten": ["education", "fire", "health", "market"],
    "restaurant": ["market", "urban", "ecology", "fire"],
    "company": ["market", "public_security", "bank", "tax", "hrss"],
    "construction": ["natural_resources", "fire", "civil_defence", "housing"],
}
COORDINATORS = [f"coord{n}" for n in range(1, 7)]
CLERKS = [f"clerk{n}" for n in range(1, 9)]


@dataclass
class CaseHistory:
    """One generated case: its events (in order) and its read-model rows."""

    case_no: str
    chain: str
    received_at: datetime
    claimed_received_at: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"
    concluded_at: datetime | None = None

    def add(
        self,
        at: datetime,
        kind: str,
        actor: tuple[str, str, str],
        summary: str = "",
        *,
        department: str | None = None,
        task_id: str | None = None,
    ) -> None:
        if self.events and at <= self.events[-1]["at"]:
            at = self.events[-1]["at"] + timedelta(seconds=1)
        self.events.append(
            {
                "case_no": self.case_no,
                "seq": len(self.events) + 1,
                "at": at,
                "kind": kind,
                "actor_id": actor[0],
                "actor_name": actor[1],
                "actor_role": actor[2],
                "department": department,
                "task_id": task_id,
                "summary": summary or kind,
                "reason": "",
            }
        )


SYSTEM = ("system", "系统", "system")


def reviewer(department: str) -> tuple[str, str, str]:
    return (f"rev-{department}", f"{department}审查员", "reviewer")


#: The office calendar (loaded in ``main``); weekends only until then.
OFFICE: WorkCalendar | None = None


def is_working_day(day: Any) -> bool:
    return OFFICE.is_working_day(day) if OFFICE is not None else day.weekday() < 5


def working_hours(rng: random.Random, day: datetime) -> datetime:
    """An instant on ``day``'s CST date, in office hours (rarely in the evening)."""
    local = (day + CST).date()
    while not is_working_day(local) and rng.random() > 0.02:  # rarely on a day off
        local += timedelta(days=1)
    hour = rng.randint(8, 17) if rng.random() > 0.02 else rng.randint(19, 22)
    return datetime(local.year, local.month, local.day, hour, rng.randint(0, 59), tzinfo=UTC) - CST


def generate(index: int, received: datetime, rng: random.Random) -> CaseHistory:
    chain = rng.choice(list(CHAINS))
    departments = sorted(rng.sample(CHAINS[chain], rng.randint(2, len(CHAINS[chain]))))
    backdated = rng.random() < 0.01
    claimed = received - timedelta(days=rng.randint(2, 6)) if backdated else received
    case = CaseHistory(f"B{index:07d}", chain, received, claimed)
    clerk = rng.choice(CLERKS)
    case.add(received, "received", (clerk, "窗口人员", "window_clerk"), "收件")
    case.add(received + timedelta(seconds=1), "accepted", SYSTEM, "受理")
    opened = received + timedelta(seconds=2)
    case.add(opened, "task_opened", SYSTEM, "T1 审查", task_id="T1")
    review = {
        "task_id": "T1",
        "kind": "review",
        "name": "并联审查",
        "stage": "审查",
        "departments": departments,
        "started_at": opened,
        "due_on": (received + CST).date() + timedelta(days=14),
        "stopped": False,
        "extension_days": 0,
    }
    case.tasks.append(review)
    clock = received
    # 特别程序: more often in ecology's cases (its share fires), a few run long.
    special_odds = 0.30 if "ecology" in departments else 0.05
    special_end: datetime | None = None
    if rng.random() < special_odds:
        started = clock + timedelta(days=rng.randint(1, 3))
        length = rng.randint(1, 10) if rng.random() > 0.1 else rng.randint(30, 45)
        case.add(
            working_hours(rng, started),
            "special_started",
            reviewer(departments[0]),
            "特别程序开始",
            task_id="T1",
        )
        special_end = started + timedelta(days=length)
        clock = special_end
    if rng.random() < 0.06:  # 延期; coord3 grants many
        who = "coord3" if rng.random() < 0.4 else rng.choice(COORDINATORS)
        case.add(
            working_hours(rng, clock + timedelta(days=1)),
            "extended",
            (who, "协调员", "coordinator"),
            "T1 延期",
            task_id="T1",
        )
        review["extension_days"] = 5
    if special_end is not None and special_end < NOW:
        case.add(
            working_hours(rng, special_end),
            "special_ended",
            reviewer(departments[0]),
            "特别程序结束",
            task_id="T1",
        )
    elif special_end is not None:
        review["stopped"] = True
    decided_all = True
    for department in departments:
        when = clock + timedelta(days=rng.randint(1, 9), hours=rng.random())
        if when >= NOW:
            decided_all = False
            continue
        if rng.random() < 0.05:  # 退回补正 (and sometimes twice: 一次告知 broken)
            for _ in range(2 if rng.random() < 0.2 else 1):
                case.add(
                    working_hours(rng, when),
                    "returned",
                    reviewer(department),
                    department=department,
                    task_id="T1",
                )
                when += timedelta(days=rng.randint(1, 3))
                case.add(
                    working_hours(rng, when),
                    "supplemented",
                    (clerk, "窗口人员", "window_clerk"),
                    task_id="T1",
                )
                when += timedelta(days=1)
            if when >= NOW:
                decided_all = False
                continue
        behalf_odds = 0.2 if department == "civil_defence" else 0.01
        if rng.random() < behalf_odds:
            case.add(
                working_hours(rng, when),
                "decided_on_behalf",
                ("super1", "督办人员", "supervisor"),
                department=department,
                task_id="T1",
            )
        else:
            case.add(
                working_hours(rng, when),
                "decided",
                reviewer(department),
                department=department,
                task_id="T1",
            )
        clock = max(clock, when)
    if not decided_all or clock >= NOW:
        review.update(status="open", concluded_at=None)
        return case
    concluded = case.events[-1]["at"] + timedelta(seconds=1)
    review.update(status="approved", concluded_at=concluded, stopped=False)
    case.add(concluded, "task_concluded", SYSTEM, task_id="T1")
    case.status = "approved" if rng.random() > 0.05 else "not_approved"
    case.concluded_at = concluded
    case.add(concluded, "concluded", SYSTEM, "办结")
    case.add(concluded, "task_opened", SYSTEM, "T2 公示", task_id="T2")
    publication = {
        "task_id": "T2",
        "kind": "publication",
        "name": "公示",
        "stage": "公示",
        "departments": departments[:1],
        "started_at": concluded,
        "due_on": (concluded + CST).date() + timedelta(days=9),
        "stopped": False,
        "extension_days": 0,
    }
    case.tasks.append(publication)
    roll = rng.random()  # 2 % published late, 0.5 % never (the platform refused them)
    late = timedelta(days=rng.randint(12, 20)) if roll < 0.02 else timedelta(seconds=5)
    published = concluded + late
    if published >= NOW or 0.02 <= roll < 0.025:
        publication.update(status="open", concluded_at=None)
    else:
        publication.update(status="approved", concluded_at=published)
        case.add(published, "published", SYSTEM, "已公示", task_id="T2")
    if rng.random() < 0.10:
        rated = concluded + timedelta(days=rng.randint(0, 5), hours=1)
        if rated < NOW:
            score = rng.choices([1, 2, 3, 4, 5], [4, 6, 10, 30, 50])[0]
            case.add(rated, "rated", (clerk, "窗口人员", "window_clerk"), f"好差评：{score} 分")
            if score <= 2:
                case.add(rated, "task_opened", SYSTEM, "T3 差评整改", task_id="T3")
                done = rated + timedelta(days=rng.randint(2, 30))
                rectification = {
                    "task_id": "T3",
                    "kind": "rectification",
                    "name": "差评整改",
                    "stage": "整改",
                    "departments": ["window"],
                    "started_at": rated,
                    "due_on": (rated + CST).date() + timedelta(days=21),
                    "stopped": False,
                    "extension_days": 0,
                }
                case.tasks.append(rectification)
                if done < NOW:
                    rectification.update(status="approved", concluded_at=done)
                    case.add(done, "rectified", ("coord1", "协调员", "coordinator"), task_id="T3")
                else:
                    rectification.update(status="open", concluded_at=None)
    return case


def histories(
    count: int, seed: int, first: int = 1, start: datetime | None = None
) -> list[CaseHistory]:
    rng = random.Random(seed)
    start = start or NOW - timedelta(days=SPAN_DAYS)
    step = (NOW - start) / max(count, 1)
    return [generate(first + n, working_hours(rng, start + step * n), rng) for n in range(count)]


def write(engine: Engine, cases: list[CaseHistory], chunk: int = 5000) -> int:
    """The cases' rows, and their events on the audit trail in time order; returns rows."""
    from readmodel.audit import AuditEntry, append
    from readmodel.database import write_session
    from readmodel.tables import CaseRecord, EventRecord, TaskRecord, table_of

    with write_session(engine) as session:
        connection = session.connection()
        case_rows = []
        for case in cases:
            open_tasks = [t for t in case.tasks if t.get("status") == "open"]
            case_rows.append(
                {
                    "case_no": case.case_no,
                    "chain": case.chain,
                    "chain_version": 1,
                    "status": case.status,
                    "stage": "办结" if case.concluded_at else "审查",
                    "applicant_name": "申请单位",
                    "applicant_id_masked": "9137********",
                    "received_at": case.claimed_received_at,
                    "accepted_on": (case.claimed_received_at + CST).date(),
                    "acceptance": "accepted",
                    "rating": None,
                    "due_on": (case.received_at + CST).date() + timedelta(days=28),
                    "provisional": False,
                    "statutory_due_on": (case.received_at + CST).date() + timedelta(days=63),
                    "warning": "none",
                    "case_warning": "none",
                    "open_departments": sorted({d for t in open_tasks for d in t["departments"]}),
                    "updated_at": case.events[-1]["at"],
                    "concluded_at": case.concluded_at,
                    "last_seq": len(case.events),
                }
            )
        connection.execute(insert(table_of(CaseRecord)), case_rows)
        task_rows = [
            {
                "case_no": case.case_no,
                "open_departments": task["departments"] if task.get("status") == "open" else [],
                "assignees": [],
                "warning": "none",
                "provisional": False,
                "clock": None,
                **task,
            }
            for case in cases
            for task in case.tasks
        ]
        connection.execute(insert(table_of(TaskRecord)), task_rows)
        event_rows = [e for case in cases for e in case.events]
        connection.execute(insert(table_of(EventRecord)), event_rows)
    ordered = sorted(event_rows, key=lambda e: (e["at"], e["case_no"], e["seq"]))
    for offset in range(0, len(ordered), chunk):
        entries = [
            AuditEntry(
                at=e["at"],
                kind=e["kind"],
                actor_id=e["actor_id"],
                actor_name=e["actor_name"],
                actor_role=e["actor_role"],
                case_no=e["case_no"],
                seq=e["seq"],
                summary=e["summary"],
                data={"department": e["department"], "task_id": e["task_id"]},
            )
            for e in ordered[offset : offset + chunk]
        ]
        with write_session(engine) as session:
            append(session, entries)
    return len(ordered)


def timed_run(engine: Engine, now: datetime) -> tuple[float, RunReport]:
    from supervision.engine import run

    started = time.perf_counter()
    report = run(engine, now=now)
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="onechain-supervise-bench-"))
    os.environ["ONECHAIN_DATA_DIR"] = str(folder / "data")
    from readmodel.database import create_read_model, ready_engine
    from readmodel.supervision import FindingRecord
    from runtime.keys import init_keys, keys_dir
    from runtime.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    init_keys(keys_dir(settings))
    url = settings.resolved_database_url
    create_read_model(url)
    engine = ready_engine(url)
    global OFFICE
    from domain.calendar import WorkCalendar
    from readmodel.calendar_store import calendar_from_store

    OFFICE = WorkCalendar(calendar_from_store(engine, NOW.year - 2, NOW.year + 1))
    try:
        started = time.perf_counter()
        cases = histories(args.cases, args.seed)
        rows = write(engine, cases)
        built = time.perf_counter() - started
        print(f"built: {len(cases):,} cases, {rows:,} audit rows in {built:.1f} s ({folder})")

        cold, first = timed_run(engine, NOW)
        print(
            f"cold run (all rules): {cold:.2f} s, {rows / cold:,.0f} rows/s, "
            f"failed: {first.failed or 'none'}"
        )

        recent = NOW - timedelta(days=2)
        fresh = histories(FRESH_CASES, args.seed + 1, first=args.cases + 1, start=recent)
        added = write(engine, fresh)
        later = NOW + timedelta(hours=1)
        warm, second = timed_run(engine, later)
        print(
            f"incremental run: {added} new rows ({len(fresh)} new cases) in {warm:.2f} s, "
            f"new findings {sum(second.new.values())}, failed: {second.failed or 'none'}"
        )
        idle, third = timed_run(engine, later)
        print(f"idle run (nothing new): {idle:.2f} s, new findings {sum(third.new.values())}")

        with engine.connect() as connection:
            stored = Counter(
                dict(
                    connection.execute(
                        select(FindingRecord.rule, func.count()).group_by(FindingRecord.rule)  # type: ignore[arg-type]
                    ).all()
                )
            )
        print()
        print(
            "| rule | findings (cold) | + incremental | stored | s in rule (cold) | s (incremental) |"
        )
        print("|---|---|---|---|---|---|")
        for code, count in first.new.items():
            print(
                f"| `{code}` | {count:,} | {second.new.get(code, 0)} | {stored.get(code, 0):,} "
                f"| {first.seconds.get(code, 0):.2f} | {second.seconds.get(code, 0):.3f} |"
            )
        shared = cold - sum(first.seconds.values())
        print(f"\nreading the trail once (shared by all rules) and the calendar: {shared:.2f} s")
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
