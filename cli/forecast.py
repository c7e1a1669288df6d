"""``onechain forecast``: next working days' yellow and red cards per department, with an
80 % interval, the cases most likely to go red, and what-if assumptions side by side.

Exit codes: 0 ok, 2 bad usage (unknown department or chain, a malformed what-if),
3 the read model unreachable.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import EXIT_USAGE, emit_json, fail, guarded, message, note, table
from domain.timezone import CST


def _engine() -> Any:
    from readmodel.database import ready_engine
    from runtime.settings import get_settings

    return ready_engine(get_settings().resolved_database_url)


def _day(text: str | None, flag: str = "--from") -> date:
    if text is None:
        return datetime.now(CST).date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{flag} {text!r} is not a date YYYY-MM-DD", EXIT_USAGE)


def _backtest(
    engine: Any, day: date, days: int, futures: int, chain: str | None, seed: int, as_json: bool
) -> None:
    from forecast.backtest import backtest

    if day >= datetime.now(CST).date():
        fail(f"--backtest {day}: not in the past (what happened is not known yet)", EXIT_USAGE)
    result = backtest(engine, day, days=days, futures=futures, chain=chain, seed=seed)
    if as_json:
        data = result.model_dump(mode="json")
        data["coverage"] = round(result.coverage, 3)
        data["total_coverage"] = round(result.total_coverage, 3)
        emit_json(data)
        return
    span = f"{result.days[0]} – {result.days[-1]}" if result.days else "—"
    rows = [[f"{d.name}（{d.department}）", f"{d.red_expected:.1f}", d.red_actual,
             f"{d.red_error:+.1f}", f"{d.yellow_expected:.1f}", d.yellow_actual,
             f"{d.covered:.1f}/{d.cells}" if d.cells else "—"]
            for d in sorted(result.departments, key=lambda d: -d.red_actual)]  # fmt: skip
    table(f"回测（backtest made on {day}, {span}）",
          ["department", "red expected", "red actual", "error", "yellow expected",
           "yellow actual", "inside 80 %"], rows)  # fmt: skip
    message(f"80 % 区间覆盖率（coverage, randomized PIT for counts）：{result.coverage * 100:.0f}% "
            f"of {result.cells} department-day cells (quiet ones, with nothing drawn or seen, "
            "left out); "
            f"of the horizon totals: {result.total_coverage * 100:.0f}% of "
            f"{result.total_cells}")  # fmt: skip
    for line in result.assumptions:
        message(f"假设（assumed）：{line}")


def _interval(mean: float, low: int, high: int) -> str:
    return f"{mean:.1f} [{low}–{high}]"


@guarded
def forecast(
    days: Annotated[int, typer.Option(min=1, max=60, help="Working days ahead.")] = 10,
    chain: Annotated[str | None, typer.Option(help="Only this chain's cases.")] = None,
    department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
    capacity: Annotated[
        list[str] | None,
        typer.Option(
            "--capacity",
            help="What if: DEPARTMENT=-N reviewers fewer, or DEPARTMENT=-P% capacity "
            "(repeat for several); shown beside the baseline.",
        ),
    ] = None,
    arrivals: Annotated[
        str | None,
        typer.Option(
            "--arrivals",
            help="What if: new cases +P% / -P% of each chain's recent rate, or N new cases "
            "per working day in all.",
        ),
    ] = None,
    holiday: Annotated[
        list[str] | None,
        typer.Option(
            "--holiday",
            help="What if: extra days off FIRST:LAST (e.g. 2026-12-31:2027-01-03); limits "
            "running over them end later, as the working-day rules count.",
        ),
    ] = None,
    backtest_day: Annotated[
        str | None,
        typer.Option(
            "--backtest",
            help="Make the forecast as it would have been made on this past day and "
            "compare it with what happened.",
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Forecast as of this day (default today, CST).")
    ] = None,
    futures: Annotated[int, typer.Option(min=100, max=100_000, help="Simulated futures.")] = 1000,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same numbers).")] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the table here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Forecast yellow and red cards per department for the next working days (Monte
    Carlo over the open tasks, each department's measured decision times, the office
    calendar); the cases most likely to go red, so they can be chased today."""
    from cli.users import require_role
    from forecast.forecast import (
        ForecastError,
        WhatIf,
        make_forecast,
        parse_arrivals,
        parse_capacity,
        parse_holidays,
        reviewers_of,
    )
    from workflows import registry

    require_role("coordinator", "supervisor", "administrator")
    if chain is not None and chain not in {c.code for c in registry.all_chains()}:
        known = ", ".join(c.code for c in registry.all_chains())
        fail(f"--chain {chain!r}: no such chain (known: {known})", EXIT_USAGE)
    known = {d for c in registry.all_chains() for d in c.departments}
    if department is not None and department not in known:
        fail(f"--department {department!r}: no such department (known: {', '.join(sorted(known))})")
    engine = _engine()
    seed = seed if seed is not None else int(datetime.now().timestamp())
    if backtest_day is not None:
        if capacity or arrivals or holiday or start:
            fail("--backtest compares the plain forecast with what happened: leave out "
                 "--capacity, --arrivals, --holiday and --from", EXIT_USAGE)  # fmt: skip
        _backtest(engine, _day(backtest_day, "--backtest"), days, futures, chain, seed, as_json)
        return
    today = _day(start)
    options: dict[str, Any] = dict(
        days=days, futures=futures, chain=chain, department=department, seed=seed
    )
    assumption = WhatIf()
    try:
        if capacity:
            assumption = assumption.merged(parse_capacity(capacity, reviewers_of(engine), known))
        if arrivals is not None:
            assumption = assumption.merged(parse_arrivals(arrivals))
        if holiday:
            assumption = assumption.merged(parse_holidays(holiday))
        baseline = make_forecast(engine, today, **options)
        what_if = None
        if assumption.said:
            what_if = make_forecast(engine, today, what_if=assumption, **options)
    except ForecastError as error:
        fail(str(error), EXIT_USAGE)
    if csv_file is not None:
        _write_csv(csv_file, baseline, what_if)
    if as_json:
        emit_json({"baseline": baseline.model_dump(mode="json"),
                   "what_if": what_if.model_dump(mode="json") if what_if else None,
                   "seed": seed})  # fmt: skip
        return
    _show(baseline, what_if)
    note(f"seed {seed}: the same seed gives the same numbers")


def _show(baseline: Any, what_if: Any) -> None:
    span = f"{baseline.days[0]} – {baseline.days[-1]}" if baseline.days else "—"
    headers = ["department", "open tasks", "history", f"red cards {span}"]
    if what_if is not None:
        headers.append(f"what-if red cards {what_if.days[0]} – {what_if.days[-1]}")
    other = {d.department: d for d in what_if.departments} if what_if else {}
    rows = []
    for d in sorted(baseline.departments, key=lambda d: -d.red_total):
        history = "assumed" if d.assumed else f"{d.measured} decisions"
        row = [f"{d.name}（{d.department}）", d.open_tasks, history,
               _interval(d.red_total, d.red_total_low, d.red_total_high)]  # fmt: skip
        if what_if is not None:
            w = other.get(d.department)
            row.append(_interval(w.red_total, w.red_total_low, w.red_total_high) if w else "—")
        rows.append(row)
    table(f"红牌预测（forecast, {baseline.futures} futures, 80 % interval）", headers, rows)
    if baseline.at_risk:
        table(
            "最可能超期的事项（most likely to go red）",
            ["case", "task", "departments", "due", "chance"],
            [[r.case_no, r.task, ", ".join(r.departments), r.due_on.isoformat(),
              f"{r.probability * 100:.0f}%"] for r in baseline.at_risk],
        )  # fmt: skip
    if baseline.arrivals_per_day:
        rates = ", ".join(f"{k} {v:g}" for k, v in sorted(baseline.arrivals_per_day.items()) if v)
        message(f"新收件（new cases per working day, last 20）：{rates or 'none'}")
    if what_if is not None:
        said = "; ".join(f"{k} {v}" for k, v in what_if.what_if.items())
        message(f"假设情景（what-if）：{said}")
    for line in dict.fromkeys(baseline.assumptions + (what_if.assumptions if what_if else [])):
        message(f"假设（assumed）：{line}")


def _write_csv(path: Path, baseline: Any, what_if: Any) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8-sig") as out:
            writer = csv.writer(out)
            writer.writerow(["scenario", "department", "day", "yellow", "yellow_low",
                             "yellow_high", "red", "red_low", "red_high"])  # fmt: skip
            for scenario, result in (("baseline", baseline), ("what_if", what_if)):
                if result is None:
                    continue
                for d in result.departments:
                    for c in d.days:
                        writer.writerow([scenario, d.department, c.day.isoformat(),
                                         round(c.yellow, 2), c.yellow_low, c.yellow_high,
                                         round(c.red, 2), c.red_low, c.red_high])  # fmt: skip
    except OSError as error:
        fail(f"--csv {path}: {error.strerror or error}", EXIT_USAGE)
