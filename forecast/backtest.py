"""The backtest: the forecast as it would have been made on a past day, from the data then
available, against what happened.

"Then available": the tasks open at the end of that day (started by then, not concluded
by then), the decisions concluded by then, the cases accepted by then
(``make_forecast(as_of=True)``). "What happened": every task's yellow card on its warning
day if it was still open then, and its red card the working day after its due day if it
was still open after it — counted per department and day exactly as the forecast counts
them, including the cases that arrived after the day.

Coverage: the share of (department, day, card colour) cells whose count fell inside the
forecast's 80 % interval. Cells where the forecast was certain of nothing (interval
[0, 0]) and nothing happened are left out: any forecast covers those, and counting them
would make a forecast look calibrated by the number of quiet departments.
"""

from __future__ import annotations

from datetime import date

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
    covered: int

    @property
    def red_error(self) -> float:
        return self.red_expected - self.red_actual


class Backtest(BaseModel):
    made_on: date
    days: list[date]
    futures: int
    departments: list[DepartmentBacktest]
    cells: int
    covered: int
    assumptions: list[str]
    #: The same for each department's totals over the horizon (red and yellow), the
    #: numbers the forecast's table shows: whole-horizon sums, where a bias adds up.
    total_cells: int = 0
    total_covered: int = 0

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


def backtest(
    engine: Engine,
    made_on: date,
    *,
    days: int = 10,
    futures: int = 1000,
    chain: str | None = None,
    seed: int | None = None,
) -> Backtest:
    forecast: Forecast = make_forecast(
        engine, made_on, days=days, futures=futures, chain=chain, seed=seed, as_of=True
    )
    ruler = _ruler(engine, made_on, days, [])
    actual = actual_cards(engine, ruler, forecast.days, chain)
    rows: list[DepartmentBacktest] = []
    total_cells = total_covered = 0
    for d in forecast.departments:
        cells = covered = 0
        red_actual = yellow_actual = 0
        for c in d.days:
            yellow, red = actual.get((d.department, c.day), (0, 0))
            red_actual += red
            yellow_actual += yellow
            for truth, low, high in ((yellow, c.yellow_low, c.yellow_high),
                                     (red, c.red_low, c.red_high)):  # fmt: skip
                if high == 0 and truth == 0:
                    continue
                cells += 1
                covered += low <= truth <= high
        for truth, low, high in ((red_actual, d.red_total_low, d.red_total_high),
                                 (yellow_actual, d.yellow_total_low, d.yellow_total_high)):  # fmt: skip
            if high or truth:
                total_cells += 1
                total_covered += low <= truth <= high
        rows.append(
            DepartmentBacktest(
                department=d.department,
                name=d.name,
                red_expected=round(sum(c.red for c in d.days), 2),
                red_actual=red_actual,
                yellow_expected=round(sum(c.yellow for c in d.days), 2),
                yellow_actual=yellow_actual,
                cells=cells,
                covered=covered,
            )
        )
    return Backtest(
        made_on=made_on,
        days=forecast.days,
        futures=futures,
        departments=rows,
        cells=sum(r.cells for r in rows),
        covered=sum(r.covered for r in rows),
        assumptions=forecast.assumptions,
        total_cells=total_cells,
        total_covered=total_covered,
    )
