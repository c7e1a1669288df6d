"""The Monte Carlo core of the forecast: open tasks, drawn forward, counted per day.

Pure numpy over working-day indices (day ``k`` is the k-th working day of the office
calendar; see ``forecast.days``), so one simulated future of 25,000 open tasks is a few
vector operations, not a loop over cases.

Each open task has, per department still deciding it, an elapsed number of working
days; its department's measured decision times (``forecast.history``: shares of each
task's own time, start to due day) say how long such a task takes. A future draws, for
every open (task, department), a share from that department's shares **longer than what
has already elapsed** (a task open for 6 days of 10 is not one of the quick ones), times
the task's own time, and the task ends when its last department ends.
It gets a yellow card on its warning day and a red card the working day after its due
day if it is still open then (DOMAIN.md rule 3: overdue after the end of the due day).
A department with too little history draws from the task's own limit instead (it ends
on its due day: the chain's stated limit, marked as an assumption by the caller).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class OpenWork:
    """One row per (open task, department still deciding it), sorted by task; tasks are
    numbered 0..n-1 with no gaps."""

    task: IntArray  # index of the task (0..tasks-1): several rows of a joint task share it
    department: IntArray  # index into the departments' duration tables
    elapsed: IntArray  # working days since the task started, as of day 0
    due: IntArray  # working-day index of the due day (relative to day 0)
    warning: IntArray  # working-day index of the warning day (relative), or -1 for none
    limit: IntArray  # the task's limit in working days (for departments without history)
    #: Rows whose department may already have decided (a backtest's joint task: the read
    #: model keeps only who is deciding now); None: every row is still deciding.
    maybe_done: npt.NDArray[np.bool_] | None = None


@dataclass(frozen=True)
class Durations:
    """Each department's measured decision times as shares of each task's own time
    (``forecast.history.decision_times``), sorted; empty arrays for departments with too
    little history (they take the task's own limit)."""

    by_department: list[npt.NDArray[np.float64]]
    #: Per department, the share of its decisions that were rejections (ends the case).
    rejected: npt.NDArray[np.float64] | None = None
    #: (department, limit in working days) → its shares on tasks of that limit, where it
    #: has enough of them: a 1-day check and a 20-day review differ in more than scale.
    by_step: dict[tuple[int, int], npt.NDArray[np.float64]] = field(default_factory=dict)

    def table(self, department: int, limit: int) -> npt.NDArray[np.float64]:
        """The shares a task of this limit at this department is drawn from."""
        found = self.by_step.get((department, limit))
        return found if found is not None else self.by_department[department]


@dataclass(frozen=True)
class Simulated:
    """Per future, per task: the working day (relative to day 0) its last department ends."""

    task_end: IntArray  # shape (futures, tasks)


def simulate(
    work: OpenWork,
    durations: Durations,
    tasks: int,
    futures: int,
    rng: np.random.Generator,
    slowdown: npt.NDArray[np.float64] | None = None,
) -> Simulated:
    """Draw ``futures`` futures. ``slowdown[d]`` (default 1) stretches department d's
    remaining time (the what-if of fewer reviewers: 2 of 6 gone is 6/4 = 1.5)."""
    rows = len(work.task)
    ends = np.zeros((futures, rows), dtype=np.int64)
    # Each row draws from its department's shares on tasks of its limit where measured,
    # else from all its department's shares.
    tables = list(durations.by_department)
    row_table = work.department.copy()
    for (d, limit), step_table in durations.by_step.items():
        chosen = (work.department == d) & (work.limit == limit)
        if chosen.any():
            row_table[chosen] = len(tables)
            tables.append(step_table)
    for t, table in enumerate(tables):
        mine = np.flatnonzero(row_table == t)
        if mine.size == 0:
            continue
        elapsed = work.elapsed[mine]
        if table.size == 0:  # no history: the task's own limit, as the chain states it
            total = np.maximum(work.limit[mine], elapsed + 1)
            remaining = np.broadcast_to(total - elapsed, (futures, mine.size)).astype(np.int64)
        else:
            # The task's own time (start to due day) scales the department's measured
            # shares; draw among the shares longer than what has elapsed; past the
            # longest ever measured, one more day at a time (geometric, mean 2 days).
            # Shares are of the task's own clock time (``history.own_share``): the days
            # its clock stood still (its due day beyond its limit) come on top.
            whole = work.due[mine] + elapsed
            own = work.limit[mine]
            stopped = np.where(own > 0, np.maximum(whole - own, 0), 0)
            allowed = np.where(own > 0, own, np.maximum(whole, 1))
            first = np.searchsorted(table, (elapsed - stopped) / allowed, side="right")
            done = None
            if work.maybe_done is not None and work.maybe_done[mine].any():
                # Not known to be still deciding: drawn from all its times; one already
                # past is done (the task then ends with its other departments).
                done = work.maybe_done[mine]
                first = np.where(done, 0, first)
            longer = table.size - first
            u = rng.random((futures, mine.size))
            pick = first + np.floor(u * np.maximum(longer, 1)).astype(np.int64)
            share = table[np.minimum(pick, table.size - 1)]
            total = np.maximum(stopped + np.rint(share * allowed).astype(np.int64), elapsed + 1)
            past = np.flatnonzero(longer == 0)  # only these draw the extra days
            if past.size:
                total[:, past] = elapsed[past] + rng.geometric(0.5, size=(futures, past.size))
            remaining = total - elapsed
            if done is not None:
                drawn = stopped + np.rint(share * allowed).astype(np.int64) - elapsed
                remaining = np.where(done, np.maximum(drawn, 0), remaining)
        if slowdown is not None:
            stretch = slowdown[work.department[mine]]
            if (stretch != 1).any():
                remaining = np.ceil(remaining * stretch).astype(np.int64)
        ends[:, mine] = remaining
    # A joint task ends with its last department (rows are sorted by task: see OpenWork).
    starts = np.flatnonzero(np.r_[True, work.task[1:] != work.task[:-1]]) if rows else starts_none()
    task_end = np.maximum.reduceat(ends, starts, axis=1) if rows else np.zeros((futures, 0), int)
    task_end = np.maximum(task_end, 1)  # open at the end of day 0: ends on day 1 at the soonest
    assert task_end.shape[1] == tasks, "OpenWork rows must be sorted by task, tasks 0..n-1"
    return Simulated(task_end=task_end)


def starts_none() -> IntArray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Cards:
    """Per future, per day 1..days, per department: yellow and red cards."""

    yellow: IntArray  # shape (futures, days, departments)
    red: IntArray
    red_probability: npt.NDArray[np.float64]  # per task: goes red within the horizon


def count_cards(work: OpenWork, simulated: Simulated, days: int, departments: int) -> Cards:
    """A task's red card falls on the working day after its due day if it is open then,
    a yellow on its warning day if open then; both are counted for every department
    still deciding it (each sees the card on its own desk)."""
    futures = simulated.task_end.shape[0]
    end = simulated.task_end[:, work.task]  # (futures, rows): its task's end, per row
    red_day = work.due + 1
    goes_red = (end > work.due) & (red_day >= 1) & (red_day <= days)
    goes_yellow = (work.warning >= 1) & (work.warning <= days) & (end >= work.warning)
    future = np.arange(futures)[:, None]
    size = futures * (days + 1) * departments

    def tally(mask: npt.NDArray[np.bool_], day: IntArray) -> IntArray:
        cell = (future * (days + 1) + day) * departments + work.department
        counts = np.bincount(cell[mask], minlength=size)
        return counts.reshape(futures, days + 1, departments)[:, 1:, :]

    first_row = np.flatnonzero(np.r_[True, work.task[1:] != work.task[:-1]])
    return Cards(
        yellow=tally(goes_yellow, np.broadcast_to(work.warning, end.shape)),
        red=tally(goes_red, np.broadcast_to(red_day, end.shape)),
        red_probability=goes_red[:, first_row].mean(axis=0),
    )


# --------------------------------------------------------------------------- arrivals
@dataclass(frozen=True)
class ArrivalStep:
    departments: IntArray  # department indices deciding it
    limit: int  # working days


@dataclass(frozen=True)
class Arrivals:
    """One chain's new cases: ``count`` accepted over the last ``window`` working days,
    and the stages (steps side by side) each new case goes through."""

    count: int
    window: int
    stages: list[list[ArrivalStep]]
    factor: float = 1.0  # what-if: arrivals times this


def draw_durations(
    table: npt.NDArray[np.float64], limit: int, shape: tuple[int, ...], rng: np.random.Generator
) -> IntArray:
    """A new task's working days at a department: one of its measured shares of the
    step's limit, or (too little history) the step's stated limit."""
    if table.size == 0:
        return np.full(shape, limit, dtype=np.int64)
    share = table[rng.integers(0, table.size, size=shape)]
    if limit == 0:  # a same-day step: a share within its time is the same day
        return np.rint(np.maximum(share - 1, 0)).astype(np.int64)
    return np.rint(share * limit).astype(np.int64)


def arrival_counts(
    arrivals: Arrivals,
    futures: int,
    days: int,
    rng: np.random.Generator,
    extra: np.random.Generator,
) -> IntArray:
    """New cases per future and day. The rate itself is uncertain (``count`` cases in
    ``window`` days): each future draws its own rate from the Gamma posterior, then Poisson
    arrivals per day. A what-if factor above 1 adds a second Poisson stream on top of the
    same baseline draws; below 1 it thins them: the baseline's cases stay where they were."""
    rate = rng.gamma(arrivals.count + 0.5, 1.0 / max(arrivals.window, 1), size=(futures, 1))
    base = rng.poisson(np.broadcast_to(rate, (futures, days)))
    if arrivals.factor > 1:
        return base + extra.poisson(np.broadcast_to(rate * (arrivals.factor - 1), (futures, days)))
    if arrivals.factor < 1:
        return extra.binomial(base, arrivals.factor)
    return base


def simulate_arrivals(
    chains: list[Arrivals],
    durations: Durations,
    futures: int,
    days: int,
    departments: int,
    rng: np.random.Generator,
    extra: np.random.Generator,
    slowdown: npt.NDArray[np.float64] | None = None,
    warning_fraction: float = 0.2,
) -> tuple[IntArray, IntArray]:
    """Yellow and red cards (futures, days, departments) of cases not yet received: each
    starts its first stage on its arrival day, each stage when the previous one ends."""
    cards = StageCards(futures, days, departments)
    for chain in chains:
        if not chain.stages:
            continue
        counts = arrival_counts(chain, futures, days, rng, extra)
        future, day = np.nonzero(counts)
        reps = counts[future, day]
        future, start = np.repeat(future, reps), np.repeat(day + 1, reps)  # days are 1-based
        cards.walk(future, start, chain.stages, durations, rng, slowdown, warning_fraction)
    return cards.result()


class StageCards:
    """Cards of cases walked through stages of steps (new cases, and open cases' later
    stages), tallied per future, day and department."""

    def __init__(self, futures: int, days: int, departments: int) -> None:
        self.futures, self.days, self.departments = futures, days, departments
        self.size = futures * (days + 1) * departments
        self.yellow = np.zeros(self.size, dtype=np.int64)
        self.red = np.zeros(self.size, dtype=np.int64)

    def walk(
        self,
        future: IntArray,
        start: IntArray,
        stages: list[list[ArrivalStep]],
        durations: Durations,
        rng: np.random.Generator,
        slowdown: npt.NDArray[np.float64] | None = None,
        warning_fraction: float = 0.2,
    ) -> None:
        """One case per (future, start day) through ``stages``, in order."""
        days, departments, size = self.days, self.departments, self.size
        for stage in stages:
            live = start <= days
            if not live.any():
                break
            future, start = future[live], start[live]
            stage_end = start.copy()
            goes_on = 1.0  # the chance no step of the stage rejects the case
            for step in stage:
                end = start.copy()
                for d in step.departments:
                    took = draw_durations(
                        durations.table(d, step.limit), step.limit, start.shape, rng
                    )
                    if slowdown is not None and slowdown[d] != 1:
                        took = np.ceil(took * slowdown[d]).astype(np.int64)
                    end = np.maximum(end, start + took)
                due = start + step.limit
                threshold = max(1, int(step.limit * warning_fraction))
                warning = np.maximum(due - threshold + 1, start + 1)
                goes_red = (end > due) & (due + 1 <= days)
                goes_yellow = (end >= warning) & (warning <= days)
                base = future * (days + 1) * departments
                for d in step.departments:
                    self.red += np.bincount(
                        (base + (due + 1) * departments + d)[goes_red], minlength=size
                    )
                    self.yellow += np.bincount(
                        (base + warning * departments + d)[goes_yellow], minlength=size
                    )
                stage_end = np.maximum(stage_end, end)
                if durations.rejected is not None:  # each department decides on its own
                    goes_on *= float(np.prod(1 - durations.rejected[step.departments]))
            # A rejected case ends: its later stages never come.
            kept = rng.random(start.shape) < goes_on
            future, start = future[kept], stage_end[kept]

    def result(self) -> tuple[IntArray, IntArray]:
        shape = (self.futures, self.days + 1, self.departments)
        return self.yellow.reshape(shape)[:, 1:, :], self.red.reshape(shape)[:, 1:, :]
