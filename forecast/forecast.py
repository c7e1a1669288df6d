"""The forecast a director reads on Monday: per department and working day, the yellow
and red cards to expect, with an 80 % interval, and the cases most likely to go red.

Built from the read model (``forecast.history``) and drawn forward by
``forecast.model``; a what-if (fewer reviewers in a department) is the same draw with
that department slowed down, from the same random seed, so the difference is the
assumption's and not the dice's. What is assumed rather than measured is said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import select

from domain.calendar import WorkCalendar
from domain.departments import department_name
from forecast.days import WorkingDays
from forecast.history import (
    ARRIVAL_WINDOW,
    MIN_HISTORY,
    OpenTask,
    arrivals,
    decision_history,
    open_tasks,
    similar_steps,
)
from forecast.model import (
    Arrivals,
    ArrivalStep,
    Durations,
    OpenWork,
    StageCards,
    count_cards,
    simulate,
    simulate_arrivals,
)
from forecast.plans import chain_plan, registered_chains
from readmodel.accounts import UserRecord
from readmodel.calendar_store import calendar_from_store
from readmodel.database import read_session

LOW, HIGH = 10, 90  # the 80 % interval's percentiles
ARRIVAL_FUTURES = 250  # futures drawn for the new cases (see make_forecast)


class ForecastError(ValueError):
    """Bad what-if input: one line naming what is wrong."""


class DayCards(BaseModel):
    day: date
    yellow: float
    yellow_low: int
    yellow_high: int
    red: float
    red_low: int
    red_high: int


class DepartmentForecast(BaseModel):
    department: str
    name: str
    measured: int  # decisions measured in the history window
    assumed: bool  # too few: times assumed from the limits
    open_tasks: int
    yellow_total: float
    yellow_total_low: int
    yellow_total_high: int
    red_total: float
    red_total_low: int
    red_total_high: int
    days: list[DayCards]


class AtRisk(BaseModel):
    case_no: str
    task_id: str
    task: str
    departments: list[str]
    due_on: date
    probability: float


class Forecast(BaseModel):
    made_on: date
    days: list[date]
    futures: int
    departments: list[DepartmentForecast]
    at_risk: list[AtRisk]
    assumptions: list[str]
    arrivals_per_day: dict[str, float] = {}  # chain → measured new cases per working day
    what_if: dict[str, str] = {}  # as the user wrote it


@dataclass(frozen=True)
class WhatIf:
    """The assumptions of a what-if. ``slowdown``: department → how many times slower its
    decisions are (1 = as measured); ``arrivals``: new cases times this share, or
    ``arrivals_rate`` new cases per working day in all; ``holidays``: extra days off."""

    slowdown: dict[str, float] = field(default_factory=dict)
    said: dict[str, str] = field(default_factory=dict)  # as the user wrote it
    arrivals: float | None = None
    arrivals_rate: float | None = None
    holidays: frozenset[date] = frozenset()

    def merged(self, other: WhatIf) -> WhatIf:
        return WhatIf(
            {**self.slowdown, **other.slowdown},
            {**self.said, **other.said},
            other.arrivals if other.arrivals is not None else self.arrivals,
            other.arrivals_rate if other.arrivals_rate is not None else self.arrivals_rate,
            self.holidays | other.holidays,
        )


def parse_arrivals(text: str) -> WhatIf:
    """``+30%`` / ``-20%`` (a share of the measured rate) or ``12`` (new cases per
    working day in all, shared among the chains as measured)."""
    value = text.strip()
    try:
        amount = float(value.removesuffix("%"))
    except ValueError:
        raise ForecastError(
            f"--arrivals {text!r}: write +P% / -P% or new cases per working day, e.g. 12"
        ) from None
    if value.endswith("%"):
        if amount <= -100:
            raise ForecastError(f"--arrivals {text!r}: at most -100% (no new cases)")
        return WhatIf(arrivals=1 + amount / 100, said={"arrivals": value})
    if amount < 0 or value.startswith("+"):
        raise ForecastError(
            f"--arrivals {text!r}: a rate is new cases per working day (0 or more); "
            "a change is written with %, e.g. +30%"
        )
    return WhatIf(arrivals_rate=amount, said={"arrivals": value})


def parse_holidays(texts: list[str]) -> WhatIf:
    """``2026-12-31:2027-01-03`` (both days included) or one day ``2026-12-31``."""
    days: set[date] = set()
    for text in texts:
        first_text, _, last_text = text.strip().partition(":")
        try:
            first = date.fromisoformat(first_text.strip())
            last = date.fromisoformat((last_text or first_text).strip())
        except ValueError:
            raise ForecastError(
                f"--holiday {text!r}: write FIRST:LAST as dates, e.g. 2026-12-31:2027-01-03"
            ) from None
        if last < first:
            raise ForecastError(f"--holiday {text!r}: ends before it starts")
        if (last - first).days > 60:
            raise ForecastError(f"--holiday {text!r}: longer than 60 days")
        days |= {first + timedelta(n) for n in range((last - first).days + 1)}
    return WhatIf(holidays=frozenset(days), said={"holiday": ", ".join(texts)})


def reviewers_of(engine: Engine) -> dict[str, int]:
    """Enabled people holding a reviewer grant, per department."""
    counts: dict[str, int] = {}
    with read_session(engine) as session:
        for grants, enabled in session.exec(select(UserRecord.grants, UserRecord.enabled)):
            if not enabled:
                continue
            for grant in grants:
                role, _, department = grant.partition(":")
                if role == "reviewer" and department:
                    counts[department] = counts.get(department, 0) + 1
    return counts


def parse_capacity(texts: list[str], reviewers: dict[str, int], known: set[str]) -> WhatIf:
    """``fire=-2`` (two reviewers fewer) or ``fire=-30%`` (30 % less capacity)."""
    slowdown: dict[str, float] = {}
    said: dict[str, str] = {}
    for text in texts:
        department, sep, change = text.partition("=")
        department, change = department.strip(), change.strip()
        if not sep or not department or not change:
            raise ForecastError(f"--capacity {text!r}: write DEPARTMENT=-N or DEPARTMENT=-P%")
        if department not in known:
            raise ForecastError(
                f"--capacity {text!r}: unknown department {department!r} "
                f"(known: {', '.join(sorted(known))})"
            )
        try:
            amount = float(change.removesuffix("%"))
        except ValueError:
            raise ForecastError(f"--capacity {text!r}: {change!r} is not a number") from None
        if change.endswith("%"):
            share = 1 + amount / 100
        else:
            people = reviewers.get(department, 0)
            if people == 0:
                raise ForecastError(
                    f"--capacity {text!r}: nobody holds reviewer:{department}; give a share "
                    f"instead, e.g. {department}=-30%"
                )
            share = (people + amount) / people
        if share <= 0:
            raise ForecastError(f"--capacity {text!r}: leaves {department} with no capacity")
        slowdown[department] = 1 / share
        said[department] = change
    return WhatIf(slowdown, said)


def _ruler(
    engine: Engine,
    today: date,
    days: int,
    tasks: list[OpenTask],
    off: frozenset[date] = frozenset(),
) -> WorkingDays:
    earliest = min([t.started_on for t in tasks] + [today - timedelta(days=200)])
    last = max([t.due_on for t in tasks] + [today]) + timedelta(days=days * 3 + 120)
    calendar = WorkCalendar(calendar_from_store(engine, earliest.year, last.year))
    return WorkingDays(calendar, earliest, last, off)


def _interval(values: np.ndarray) -> tuple[float, int, int]:
    return (
        float(values.mean()),
        int(np.percentile(values, LOW)),
        int(np.percentile(values, HIGH)),
    )


def _arrivals(
    engine: Engine,
    ruler: WorkingDays,
    today: date,
    chain: str | None,
    index: dict[str, int],
    what_if: WhatIf | None,
    assumptions: list[str],
) -> tuple[list[Arrivals], dict[str, float]]:

    counts = arrivals(engine, ruler, today)
    chains = [c for c in registered_chains() if chain is None or c.code == chain]
    measured = {c.code: counts.get(c.code, 0) for c in chains}
    factor = 1.0
    if what_if is not None and what_if.arrivals is not None:
        factor = what_if.arrivals
    if what_if is not None and what_if.arrivals_rate is not None:
        total = sum(measured.values()) / ARRIVAL_WINDOW
        if total == 0:
            raise ForecastError(
                f"--arrivals {what_if.said.get('arrivals')}: no cases accepted in the last "
                f"{ARRIVAL_WINDOW} working days to share that rate among; give a share, e.g. +30%"
            )
        factor = what_if.arrivals_rate / total
    found = []
    for c in chains:
        plan = chain_plan(c)
        if not plan.stages:
            if measured[c.code]:
                assumptions.append(
                    f"{c.code}: its flow cannot be drawn; its new cases are left out"
                )
            continue
        stages = _step_arrays(plan.stages, index)
        found.append(Arrivals(measured[c.code], ARRIVAL_WINDOW, stages, factor))
    return found, {k: round(v / ARRIVAL_WINDOW, 2) for k, v in measured.items()}


#: Above this many (future, case) pairs, open cases' later stages are walked in fewer
#: futures and paired in turn (memory: a city's 25,000 cases × 1,000 futures).
LATER_STAGE_PAIRS = 4_000_000


def _step_arrays(stages: Any, index: dict[str, int]) -> list[list[ArrivalStep]]:
    return [
        [ArrivalStep(np.asarray([index[d] for d in s.departments], np.int64), s.limit)
         for s in stage]
        for stage in stages
    ]  # fmt: skip


def _later_stages(
    tasks: list[OpenTask],
    simulated: Any,
    index: dict[str, int],
    durations: Durations,
    days: int,
    rng: np.random.Generator,
    slowdown: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cards of the open cases' stages after the one open now: each case's next stage
    starts, in each future, the day its open tasks end (found by the open task's name
    among the chain's steps; a task the chain's sample flow does not name walks no
    further)."""
    futures = simulated.task_end.shape[0]
    plans = {c.code: chain_plan(c) for c in registered_chains()}
    by_case: dict[str, list[int]] = {}
    for n, task in enumerate(tasks):
        by_case.setdefault(task.case_no, []).append(n)
    groups: dict[tuple[str, int], list[list[int]]] = {}
    for members in by_case.values():
        plan = plans.get(tasks[members[0]].chain)
        if plan is None or tasks[members[0]].case_rejected:
            continue
        found = [s for s in (plan.stage_of(tasks[n].name) for n in members) if s is not None]
        if found and max(found) + 1 < len(plan.stages):
            groups.setdefault((plan.chain, max(found)), []).append(members)
    cases = sum(len(c) for c in groups.values())
    drawn = futures if cases * futures <= LATER_STAGE_PAIRS else max(
        50, LATER_STAGE_PAIRS // max(cases, 1))  # fmt: skip
    drawn = min(drawn, futures)
    cards = StageCards(drawn, days, len(index))
    for (chain, stage), members in groups.items():
        order = np.asarray([n for m in members for n in m], dtype=np.int64)
        offsets = np.cumsum([0] + [len(m) for m in members[:-1]])
        ends = np.maximum.reduceat(simulated.task_end[:drawn][:, order], offsets, axis=1)
        future = np.repeat(np.arange(drawn), ends.shape[1])
        # The open stage may still reject the case (each department still deciding may):
        # only the cases it lets through walk on.
        through = np.asarray([_goes_on([index[d] for n in m for d in tasks[n].departments],
                                       durations) for m in members])  # fmt: skip
        kept = (rng.random(ends.shape) < through).ravel()
        future, ends = future[kept], ends.ravel()[kept]
        stages = _step_arrays(plans[chain].stages[stage + 1 :], index)
        cards.walk(future, ends, stages, durations, rng, slowdown)
    yellow, red = cards.result()
    pairing = np.arange(futures) % drawn
    return yellow[pairing], red[pairing]


def _step_tables(
    tasks: list[OpenTask],
    chains: list[Any],
    by_step: dict[tuple[str, int], list[float]],
    index: dict[str, int],
    tables: list[np.ndarray],
) -> dict[tuple[int, int], np.ndarray]:
    """(department, limit) → the shares its tasks of that limit are drawn from, for every
    limit an open task or a chain's step has, where measured on enough tasks of about
    that limit (``similar_steps``); elsewhere the department's own shares."""
    wanted = {(d, t.limit_days) for t in tasks for d in t.departments}
    wanted |= {(d, s.limit) for c in chains for st in chain_plan(c).stages for s in st
               for d in s.departments}  # fmt: skip
    found: dict[tuple[int, int], np.ndarray] = {}
    for department, limit in wanted:
        if department not in index or not tables[index[department]].size:
            continue  # too little history at all: the stated limit (said)
        shares = similar_steps(by_step, department, limit)
        if shares is not None:
            found[(index[department], limit)] = np.asarray(sorted(shares), dtype=np.float64)
    return found


def _goes_on(departments: list[int], durations: Durations) -> float:
    """The chance none of these departments rejects (each decides on its own)."""
    if durations.rejected is None:
        return 1.0
    return float(np.prod(1 - durations.rejected[departments]))


def make_forecast(
    engine: Engine,
    today: date,
    *,
    days: int = 10,
    futures: int = 1000,
    chain: str | None = None,
    department: str | None = None,
    what_if: WhatIf | None = None,
    seed: int | None = None,
    at_risk: int = 20,
    as_of: bool = False,
    new_cases: bool = True,
    samples: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Forecast:
    """The forecast as of the end of ``today``. ``as_of``: from the tasks as they stood
    then (a backtest) rather than as they stand now; ``new_cases``: with the cases still
    to come, drawn from each chain's recent rate. ``samples``: filled with each
    department's simulated (yellow, red) counts, shape (futures, days) — the backtest
    scores the whole distribution, not only its interval."""

    tasks = open_tasks(engine, today, chain, as_of=as_of)
    holidays = what_if.holidays if what_if is not None else frozenset()
    ruler = _ruler(engine, today, days, tasks)
    # A what-if holiday: the same working-day arithmetic (indices from the office
    # calendar), dated by a calendar with the extra days off, so every limit running over
    # them ends that many working days later, as the statutory rules count.
    dated = _ruler(engine, today, days, tasks, holidays) if holidays else ruler
    times, rejected, by_step = decision_history(engine, ruler, today)
    chains = [c for c in registered_chains() if chain is None or c.code == chain]
    planned = {d for c in chains if new_cases for st in chain_plan(c).stages for s in st
               for d in s.departments}  # fmt: skip
    names = sorted({d for t in tasks for d in t.departments} | set(times) | planned)
    index = {d: i for i, d in enumerate(names)}
    assumptions: list[str] = []
    tables = []
    for name in names:
        measured = sorted(times.get(name, []))
        if len(measured) < MIN_HISTORY:
            tables.append(np.zeros(0, dtype=np.float64))
            assumptions.append(
                f"{name}: only {len(measured)} decision(s) measured in the last 180 days: "
                "its tasks are assumed to take their chain's stated limit"
            )
        else:
            tables.append(np.asarray(measured, dtype=np.float64))
    today_index = ruler.index(today)
    rows = [(n, t, d) for n, t in enumerate(tasks) for d in t.departments]
    work = OpenWork(
        task=np.asarray([n for n, _, _ in rows], dtype=np.int64),
        department=np.asarray([index[d] for _, _, d in rows], dtype=np.int64),
        elapsed=np.asarray([today_index - ruler.index(t.started_on) for _, t, _ in rows],
                           dtype=np.int64),
        due=np.asarray([ruler.index(t.due_on) - today_index for _, t, _ in rows], dtype=np.int64),
        warning=np.asarray(
            [ruler.on_or_after(t.warning_on) - today_index if t.warning_on else -1
             for _, t, _ in rows],
            dtype=np.int64,
        ),
        limit=np.asarray([t.limit_days for _, t, _ in rows], dtype=np.int64),
        maybe_done=np.asarray([not t.known_open for _, t, _ in rows], dtype=bool)
        if as_of else None,
    )  # fmt: skip
    slowdown = None
    if what_if is not None and what_if.slowdown:
        slowdown = np.ones(len(names))
        for name, factor in what_if.slowdown.items():
            if name in index:
                slowdown[index[name]] = factor
    sequence = np.random.SeedSequence(seed)
    open_rng, arrival_rng, extra_rng = (np.random.default_rng(s) for s in sequence.spawn(3))
    durations = Durations(
        tables, np.asarray([rejected.get(n, 0.0) if len(times.get(n, [])) >= MIN_HISTORY
                            else 0.0 for n in names]),
        _step_tables(tasks, chains if new_cases else [], by_step, index, tables),
    )  # fmt: skip
    simulated = simulate(work, durations, len(tasks), futures, open_rng, slowdown)
    cards = count_cards(work, simulated, days, len(names))
    yellow_all, red_all = cards.yellow, cards.red
    rates: dict[str, float] = {}
    if new_cases:
        later_yellow, later_red = _later_stages(tasks, simulated, index, durations, days,
                                                arrival_rng, slowdown)  # fmt: skip
        yellow_all, red_all = yellow_all + later_yellow, red_all + later_red
        coming, rates = _arrivals(engine, ruler, today, chain, index, what_if, assumptions)
        # New cases are independent of the open tasks' futures: drawn for at most
        # ARRIVAL_FUTURES futures and paired with the open tasks' futures in turn (each
        # sum is still one draw of the total; a fifth of the work at a city's rate).
        drawn = min(futures, ARRIVAL_FUTURES)
        new_yellow, new_red = simulate_arrivals(
            coming, durations, drawn, days, len(names), arrival_rng, extra_rng, slowdown
        )
        pairing = np.arange(futures) % drawn
        yellow_all, red_all = yellow_all + new_yellow[pairing], red_all + new_red[pairing]
    horizon = dated.after(today, days)
    for year in dated.provisional_years(horizon):
        assumptions.append(
            f"{year}: no official holiday schedule loaded; its working days are provisional"
        )
    departments = []
    for name in names:
        if department is not None and name != department:
            continue
        d = index[name]
        red, yellow = red_all[:, :, d], yellow_all[:, :, d]
        if samples is not None:
            samples[name] = (yellow, red)
        red_mean, red_low, red_high = _interval(red.sum(axis=1))
        yellow_mean, yellow_low, yellow_high = _interval(yellow.sum(axis=1))
        day_cards = []
        for k in range(len(horizon)):
            y, y_low, y_high = _interval(yellow[:, k])
            r, r_low, r_high = _interval(red[:, k])
            day_cards.append(DayCards(day=horizon[k], yellow=y, yellow_low=y_low,
                                      yellow_high=y_high, red=r, red_low=r_low, red_high=r_high))  # fmt: skip
        departments.append(
            DepartmentForecast(
                department=name,
                name=department_name(name),
                measured=len(times.get(name, [])),
                assumed=len(times.get(name, [])) < MIN_HISTORY,
                open_tasks=int(np.count_nonzero(work.department == d)),
                yellow_total=yellow_mean,
                yellow_total_low=yellow_low,
                yellow_total_high=yellow_high,
                red_total=red_mean,
                red_total_low=red_low,
                red_total_high=red_high,
                days=day_cards,
            )
        )
    order = np.argsort(-cards.red_probability, kind="stable")
    risky = [
        AtRisk(
            case_no=tasks[n].case_no,
            task_id=tasks[n].task_id,
            task=tasks[n].name,
            departments=list(tasks[n].departments),
            due_on=tasks[n].due_on,
            probability=round(float(cards.red_probability[n]), 3),
        )
        for n in order[:at_risk]
        if cards.red_probability[n] > 0
        and (department is None or department in tasks[n].departments)
    ]
    return Forecast(
        made_on=today,
        days=horizon,
        futures=futures,
        departments=departments,
        at_risk=risky,
        assumptions=assumptions,
        arrivals_per_day=rates,
        what_if=dict(what_if.said) if what_if else {},
    )
