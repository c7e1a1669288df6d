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

import numpy as np
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import select

from domain.calendar import WorkCalendar
from domain.departments import department_name
from forecast.days import WorkingDays
from forecast.history import MIN_HISTORY, OpenTask, decision_times, open_tasks
from forecast.model import Durations, OpenWork, count_cards, simulate
from readmodel.accounts import UserRecord
from readmodel.calendar_store import calendar_from_store
from readmodel.database import read_session

LOW, HIGH = 10, 90  # the 80 % interval's percentiles


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
    what_if: dict[str, float] = {}


@dataclass(frozen=True)
class WhatIf:
    """Department → how many times slower its remaining decisions are (1 = as measured)."""

    slowdown: dict[str, float] = field(default_factory=dict)
    said: dict[str, str] = field(default_factory=dict)  # as the user wrote it


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


def _ruler(engine: Engine, today: date, days: int, tasks: list[OpenTask]) -> WorkingDays:
    earliest = min([t.started_on for t in tasks] + [today - timedelta(days=200)])
    last = max([t.due_on for t in tasks] + [today]) + timedelta(days=days * 3 + 60)
    calendar = WorkCalendar(calendar_from_store(engine, earliest.year, last.year))
    return WorkingDays(calendar, earliest, last)


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
) -> Forecast:
    tasks = open_tasks(engine, today, chain)
    ruler = _ruler(engine, today, days, tasks)
    times = decision_times(engine, ruler, today)
    names = sorted({d for t in tasks for d in t.departments} | set(times))
    index = {d: i for i, d in enumerate(names)}
    assumptions: list[str] = []
    tables = []
    for name in names:
        measured = sorted(times.get(name, []))
        if len(measured) < MIN_HISTORY:
            tables.append(np.zeros(0, dtype=np.int64))
            assumptions.append(
                f"{name}: only {len(measured)} decision(s) measured in the last 180 days: "
                "its tasks are assumed to take their full limit"
            )
        else:
            tables.append(np.asarray(measured, dtype=np.int64))
    today_index = ruler.index(today)
    rows = [(n, t, d) for n, t in enumerate(tasks) for d in t.departments]
    work = OpenWork(
        task=np.asarray([n for n, _, _ in rows], dtype=np.int64),
        department=np.asarray([index[d] for _, _, d in rows], dtype=np.int64),
        elapsed=np.asarray([today_index - ruler.index(t.started_on) for _, t, _ in rows]),
        due=np.asarray([ruler.index(t.due_on) - today_index for _, t, _ in rows]),
        warning=np.asarray(
            [ruler.index(t.warning_on) - today_index if t.warning_on else -1 for _, t, _ in rows]
        ),
        limit=np.asarray([t.limit_days for _, t, _ in rows]),
    )
    slowdown = None
    if what_if is not None and what_if.slowdown:
        slowdown = np.ones(len(names))
        for name, factor in what_if.slowdown.items():
            if name in index:
                slowdown[index[name]] = factor
    rng = np.random.default_rng(seed)
    simulated = simulate(work, Durations(tables), len(tasks), futures, rng, slowdown)
    cards = count_cards(work, simulated, days, len(names))
    horizon = ruler.after(today, days)
    departments = []
    for name in names:
        if department is not None and name != department:
            continue
        d = index[name]
        red, yellow = cards.red[:, :, d], cards.yellow[:, :, d]
        total = red.sum(axis=1)
        departments.append(
            DepartmentForecast(
                department=name,
                name=department_name(name),
                measured=len(times.get(name, [])),
                assumed=len(times.get(name, [])) < MIN_HISTORY,
                open_tasks=int(np.count_nonzero(work.department == d)),
                red_total=float(total.mean()),
                red_total_low=int(np.percentile(total, LOW)),
                red_total_high=int(np.percentile(total, HIGH)),
                days=[
                    DayCards(
                        day=horizon[k],
                        yellow=float(yellow[:, k].mean()),
                        yellow_low=int(np.percentile(yellow[:, k], LOW)),
                        yellow_high=int(np.percentile(yellow[:, k], HIGH)),
                        red=float(red[:, k].mean()),
                        red_low=int(np.percentile(red[:, k], LOW)),
                        red_high=int(np.percentile(red[:, k], HIGH)),
                    )
                    for k in range(len(horizon))
                ],
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
        what_if=dict(what_if.slowdown) if what_if else {},
    )
