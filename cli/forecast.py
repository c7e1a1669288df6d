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


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(CST).date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"--from {text!r} is not a date YYYY-MM-DD", EXIT_USAGE)


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
    from forecast.forecast import ForecastError, make_forecast, parse_capacity, reviewers_of
    from workflows import registry

    require_role("coordinator", "supervisor", "administrator")
    if chain is not None and chain not in {c.code for c in registry.all_chains()}:
        known = ", ".join(c.code for c in registry.all_chains())
        fail(f"--chain {chain!r}: no such chain (known: {known})", EXIT_USAGE)
    known = {d for c in registry.all_chains() for d in c.departments}
    if department is not None and department not in known:
        fail(f"--department {department!r}: no such department (known: {', '.join(sorted(known))})")
    engine = _engine()
    today = _day(start)
    seed = seed if seed is not None else int(datetime.now().timestamp())
    options: dict[str, Any] = dict(
        days=days, futures=futures, chain=chain, department=department, seed=seed
    )
    baseline = make_forecast(engine, today, **options)
    what_if = None
    if capacity:
        try:
            assumption = parse_capacity(capacity, reviewers_of(engine), known)
        except ForecastError as error:
            fail(str(error), EXIT_USAGE)
        what_if = make_forecast(engine, today, what_if=assumption, **options)
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
        headers.append("what-if red cards")
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
    for line in baseline.assumptions:
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
