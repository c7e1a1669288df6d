"""The backtest: the forecast as it would have been made on a past day, from the data then
available, against what happened.

"Then available": the tasks open at the end of that day (started by then, not concluded
by then), the decisions concluded by then, the cases accepted by then
(``make_forecast(as_of=True)``). "What happened": every task's yellow card on its warning
day if it was still open then, and its red card the working day after its due day if it
was still open after it — counted per department and day exactly as the forecast counts
them, including the cases that arrived after the day.

Coverage: per (department, day, card colour) cell, the share of the truth inside the
central 80 % of the forecast's distribution by the randomized PIT for counts
(``covered_share``: 80 % on average exactly when the forecast is right, however small the
counts), averaged over the cells. Cells where every future drew nothing and nothing
happened are left out: they score 80 % whatever the model, and counting them would pull
the score towards 80 % by the number of quiet departments.
"""

from __future__ import annotations

from datetime import date

import numpy as np
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import col, select

from domain.timezone import cst_date
from forecast.days import WorkingDays
from forecast.forecast import Forecast, _ruler, make_forecast
from readmodel.database import read_session
from readmodel.tables import CaseRecord, TaskRecord


class DepartmentBacktest(BaseModel):
    department: str
    name: str
    red_expected: float
    red_actual: int
    yellow_expected: float
    yellow_actual: int
    cells: int  # (day, colour) cells scored
    covered: float  # expected covered cells (randomized PIT: see covered_share)

    @property
    def red_error(self) -> float:
        return self.red_expected - self.red_actual


class Backtest(BaseModel):
    made_on: date
    days: list[date]
    futures: int
    departments: list[DepartmentBacktest]
    cells: int
    covered: float  # expected covered cells (randomized PIT: see covered_share)
    assumptions: list[str]
    #: The same for each department's totals over the horizon (red and yellow), the
    #: numbers the forecast's table shows: whole-horizon sums, where a bias adds up.
    total_cells: int = 0
    total_covered: float = 0.0

    @property
    def coverage(self) -> float:
        return self.covered / self.cells if self.cells else 1.0

    @property
    def total_coverage(self) -> float:
        return self.total_covered / self.total_cells if self.total_cells else 1.0


def actual_cards(
    engine: Engine, ruler: WorkingDays, days: list[date], chain: str | None = None
) -> dict[tuple[str, date], tuple[int, int]]:
    """(department, day) → (yellow, red) cards that happened on the days in ``days``."""
    wanted = set(days)
    found: dict[tuple[str, date], list[int]] = {}
    query = select(TaskRecord, CaseRecord.chain).join(
        CaseRecord, col(CaseRecord.case_no) == TaskRecord.case_no
    )
    if chain is not None:
        query = query.where(CaseRecord.chain == chain)
    with read_session(engine) as session:
        for task, _ in session.exec(query.where(col(TaskRecord.due_on).is_not(None))):
            assert task.due_on is not None
            ended = cst_date(task.concluded_at) if task.concluded_at else None
            clock = task.clock or {}
            warning = clock.get("warning_on")
            cards: list[tuple[date, int]] = []
            if warning:  # on the desk from the first working day of the warning
                index = ruler.on_or_after(date.fromisoformat(warning))
                warning_on = ruler.at(index) if index <= len(ruler.days) else None
                if warning_on in wanted and (ended is None or ended >= warning_on):
                    cards.append((warning_on, 0))
            red_index = ruler.index(task.due_on) + 1
            if red_index <= len(ruler.days) and (ended is None or ended > task.due_on):
                red_on = ruler.at(red_index)
                if red_on in wanted:
                    cards.append((red_on, 1))
            for day, colour in cards:
                for department in task.departments:
                    found.setdefault((department, day), [0, 0])[colour] += 1
    return {k: (v[0], v[1]) for k, v in found.items()}


def covered_share(futures: np.ndarray, truth: int, low: float = 0.1, high: float = 0.9) -> float:
    """How much of the truth falls inside the central 80 % of the forecast's distribution,
    by the randomized PIT (probability integral transform) for counts.

    A count's forecast distribution F has steps: the truth ``y`` stands for the whole
    stretch of probability [F(y−1), F(y)] it shares with the other futures that drew the
    same count. The randomized PIT is a uniform point of that stretch; it is uniform on
    [0, 1] exactly when the forecast is right, so the share of the stretch inside
    [0.1, 0.9] averages 80 % for a right forecast — unlike "the truth inside the 10th to
    90th percentile, both ends included", which for small counts holds far more than 80 %
    even when the model is right (mean 1: the interval 0–2 holds 92 %). The expected share
    is used rather than a random draw, so the score does not depend on a seed."""
    below = float(np.count_nonzero(futures < truth)) / futures.size
    at_most = float(np.count_nonzero(futures <= truth)) / futures.size
    if at_most == below:  # no future drew this count: a point of the PIT
        return float(low <= below <= high)
    inside = max(0.0, min(at_most, high) - max(below, low))
    return inside / (at_most - below)


def backtest(
    engine: Engine,
    made_on: date,
    *,
    days: int = 10,
    futures: int = 1000,
    chain: str | None = None,
    seed: int | None = None,
) -> Backtest:
    samples: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    forecast: Forecast = make_forecast(
        engine, made_on, days=days, futures=futures, chain=chain, seed=seed, as_of=True,
        samples=samples,
    )  # fmt: skip
    ruler = _ruler(engine, made_on, days, [])
    actual = actual_cards(engine, ruler, forecast.days, chain)
    rows: list[DepartmentBacktest] = []
    total_cells = 0
    total_covered = 0.0
    for d in forecast.departments:
        yellow_futures, red_futures = samples[d.department]
        cells = 0
        covered = 0.0
        truths = [actual.get((d.department, c.day), (0, 0)) for c in d.days]
        yellow_actual = sum(t[0] for t in truths)
        red_actual = sum(t[1] for t in truths)
        for k, (yellow, red) in enumerate(truths):
            for truth, drawn in ((yellow, yellow_futures[:, k]), (red, red_futures[:, k])):
                if truth == 0 and not drawn.any():
                    continue  # sure of nothing, and nothing happened: scores 80 % whatever
                cells += 1
                covered += covered_share(drawn, truth)
        for truth, drawn in ((red_actual, red_futures.sum(axis=1)),
                             (yellow_actual, yellow_futures.sum(axis=1))):  # fmt: skip
            if truth or drawn.any():
                total_cells += 1
                total_covered += covered_share(drawn, truth)
        rows.append(
            DepartmentBacktest(
                department=d.department,
                name=d.name,
                red_expected=round(sum(c.red for c in d.days), 2),
                red_actual=red_actual,
                yellow_expected=round(sum(c.yellow for c in d.days), 2),
                yellow_actual=yellow_actual,
                cells=cells,
                covered=round(covered, 3),
            )
        )
    return Backtest(
        made_on=made_on,
        days=forecast.days,
        futures=futures,
        departments=rows,
        cells=sum(r.cells for r in rows),
        covered=round(sum(r.covered for r in rows), 3),
        assumptions=forecast.assumptions,
        total_cells=total_cells,
        total_covered=round(total_covered, 3),
    )
