"""``onechain report`` and ``reporting.performance``: the figures on a read model with
known cases (SQLite and PostgreSQL), the CLI's outputs (tables, JSON, CSV) and its
bad-input exits, and one real case through a dev server into the report."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.app import app
from domain.calendar import CalendarData, WorkCalendar
from domain.projection import CaseRow, EventRow, ProjectionBatch, TaskRow
from domain.timezone import CST
from readmodel.database import make_engine, read_session, ready_engine, reset_engines
from readmodel.projection import project
from reporting.performance import ChainLimits, build_report, csv_rows
from tests.harness import CaseDriver
from tests.test_cli_cases import environment, wide_terminal

runner = CliRunner()
LIMITS = {
    "kindergarten": ChainLimits(name="我要开幼儿园", promised_days=20, statutory_days=45),
    "restaurant": ChainLimits(name="我要开饭店", promised_days=5, statutory_days=20),
}
WEEKENDS_ONLY = WorkCalendar(CalendarData())


def at(day: str, hour: int = 10) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=CST).replace(
        hour=hour
    )


def case_row(case_no: str, chain: str, status: str, accepted: str | None, **extra: Any) -> CaseRow:
    fields: dict[str, Any] = {
        "case_no": case_no,
        "chain": chain,
        "chain_version": 1,
        "status": status,
        "stage": "x",
        "applicant_name": "某公司",
        "applicant_id_masked": "9137**********YB7E",
        "received_at": at(accepted or "2026-03-03", 9),
        "accepted_on": date.fromisoformat(accepted) if accepted else None,
        "due_on": date(2026, 3, 30),
        "provisional": False,
        "statutory_due_on": date(2026, 5, 4),
        "warning": "none",
        "case_warning": "none",
        "open_departments": [],
        "next_due_on": None,
        "updated_at": at("2026-03-20"),
        "concluded_at": None,
        "last_seq": 1,
    }
    fields.update(extra)
    return CaseRow(**fields)


def task_row(
    case_no: str, task_id: str, departments: list[str], status: str, **extra: Any
) -> TaskRow:
    fields: dict[str, Any] = {
        "case_no": case_no,
        "task_id": task_id,
        "kind": "review",
        "name": "审查",
        "stage": "审查",
        "departments": departments,
        "open_departments": [],
        "assignees": [],
        "status": status,
        "started_at": at("2026-03-02"),
        "concluded_at": None,
        "due_on": date(2026, 3, 6),
        "provisional": False,
        "warning": "none",
        "stopped": False,
        "extension_days": 0,
    }
    fields.update(extra)
    return TaskRow(**fields)


def decided(case_no: str, seq: int, task_id: str, department: str, day: str) -> EventRow:
    return EventRow(
        case_no=case_no,
        seq=seq,
        at=at(day),
        kind="decided",
        actor_id="r",
        actor_name="r",
        actor_role="reviewer",
        department=department,
        task_id=task_id,
        summary="同意",
        reason="",
    )


def fill(engine: Engine) -> None:
    """Known cases; the expected figures are worked out in the tests below."""
    batches = [
        ProjectionBatch(
            case=case_row(
                "K1",
                "kindergarten",
                "approved",
                "2026-03-02",
                concluded_at=at("2026-03-13"),
                rating=5,
            ),
            tasks=[
                task_row(
                    "K1", "T1", ["education", "fire"], "approved", concluded_at=at("2026-03-09")
                )
            ],
            events=[
                decided("K1", 2, "T1", "education", "2026-03-03"),
                decided("K1", 3, "T1", "fire", "2026-03-09"),
            ],
        ),
        ProjectionBatch(
            case=case_row(
                "K2",
                "kindergarten",
                "approved",
                "2026-03-02",
                due_on=date(2026, 3, 4),
                statutory_due_on=date(2026, 3, 5),
                concluded_at=at("2026-03-06"),
                rating=2,
            ),
            tasks=[],
        ),
        ProjectionBatch(
            case=case_row("K3", "kindergarten", "running", "2026-03-10", warning="red"),
            tasks=[task_row("K3", "T1", ["market"], "open", warning="red")],
        ),
        ProjectionBatch(
            case=case_row("K4", "kindergarten", "withdrawn", "2026-03-11"),
            tasks=[task_row("K4", "T1", ["health"], "cancelled")],
        ),
        ProjectionBatch(
            case=case_row(
                "K5", "kindergarten", "approved", "2026-05-06", concluded_at=at("2026-05-08")
            ),
            tasks=[],
        ),
        ProjectionBatch(
            case=case_row(
                "R1",
                "restaurant",
                "not_approved",
                "2026-04-01",
                due_on=date(2026, 4, 8),
                concluded_at=at("2026-04-02"),
            ),
            tasks=[
                task_row(
                    "R1",
                    "T1",
                    ["window"],
                    "approved",
                    kind="applicant_event",
                    concluded_at=at("2026-04-02"),
                )
            ],
        ),
        ProjectionBatch(case=case_row("K6", "kindergarten", "running", None), tasks=[]),
    ]
    for batch in batches:
        project(engine, batch)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The known cases in a fresh read model, on SQLite and on PostgreSQL."""
    from readmodel.database import create_schema

    engine = make_engine(database_url)
    create_schema(engine)
    fill(engine)
    yield engine
    engine.dispose()


def test_figures_per_chain_and_department(engine: Engine) -> None:
    with read_session(engine) as session:
        report = build_report(
            session, WEEKENDS_ONLY, LIMITS, start=date(2026, 3, 1), end=date(2026, 4, 30)
        )
    kindergarten, restaurant = report.chains
    assert kindergarten.chain == "kindergarten" and kindergarten.name == "我要开幼儿园"
    assert (kindergarten.received, kindergarten.concluded, kindergarten.withdrawn) == (4, 2, 1)
    assert kindergarten.running == 1 and kindergarten.overdue_open == 1
    assert kindergarten.concluded_rate == 0.5
    assert (kindergarten.on_time, kindergarten.concluded_late) == (1, 1)
    assert kindergarten.on_time_rate == 0.5 and kindergarten.past_statutory == 1
    # K1: 03-02 → 03-13 is 9 working days; K2: 03-02 → 03-06 is 4.
    assert kindergarten.avg_working_days == 6.5 and kindergarten.max_working_days == 9
    assert (kindergarten.promised_days, kindergarten.statutory_days) == (20, 45)
    assert (kindergarten.rated, kindergarten.avg_rating, kindergarten.bad_ratings) == (2, 3.5, 1)
    assert restaurant.rated == 0 and restaurant.avg_rating is None
    assert (report.total.rated, report.total.avg_rating) == (2, 3.5)
    assert (restaurant.received, restaurant.concluded, restaurant.not_approved) == (1, 1, 1)
    assert restaurant.on_time_rate == 1.0 and restaurant.avg_working_days == 1
    assert (report.total.received, report.total.concluded, report.total.on_time) == (5, 3, 2)
    assert report.total.concluded_rate == 0.6
    assert report.awaiting_materials == 1 and any("waiting" in n for n in report.notes)

    departments = {d.department: d for d in report.departments}
    assert set(departments) == {"education", "fire", "market"}  # no cancelled, no waits
    education, fire, market = departments["education"], departments["fire"], departments["market"]
    assert (education.tasks, education.concluded, education.on_time) == (1, 1, 1)
    assert education.avg_working_days == 1 and education.avg_limit_days == 4
    assert (fire.concluded, fire.concluded_late, fire.on_time_rate) == (1, 1, 0.0)
    assert fire.avg_working_days == 5
    assert (market.tasks, market.open, market.overdue_open, market.concluded_rate) == (1, 1, 1, 0.0)


def test_period_and_chain_filters(engine: Engine) -> None:
    with read_session(engine) as session:
        everything = build_report(session, WEEKENDS_ONLY, LIMITS)
        may = build_report(session, WEEKENDS_ONLY, LIMITS, start=date(2026, 5, 1))
        restaurant = build_report(session, WEEKENDS_ONLY, LIMITS, chain="restaurant")
        empty = build_report(session, WEEKENDS_ONLY, LIMITS, end=date(2025, 12, 31))
    assert everything.total.received == 6
    assert [(c.chain, c.received) for c in may.chains] == [("kindergarten", 1)]
    assert [c.chain for c in restaurant.chains] == ["restaurant"]
    assert restaurant.departments == [] and restaurant.awaiting_materials == 0
    assert empty.chains == [] and empty.total.received == 0 and empty.total.concluded_rate is None
    rows = csv_rows(everything)
    assert [r["scope"] for r in rows].count("total") == 1
    assert {r["code"] for r in rows if r["scope"] == "department"} == {
        "education",
        "fire",
        "market",
    }


@pytest.fixture
def report_db(database_url: str, tmp_path: Path) -> Iterator[Path]:
    """A read model with the known cases as the configured database (SQLite, PostgreSQL)."""
    from readmodel.database import create_read_model

    create_read_model(database_url)  # as `onechain db upgrade`
    fill(ready_engine(database_url))
    with environment(ONECHAIN_DATABASE_URL=database_url):
        yield tmp_path
    reset_engines()


def test_cli_report_json_csv_and_tables(report_db: Path) -> None:
    args = ["report", "--from", "2026-03-01", "--to", "2026-04-30"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["period_from"] == "2026-03-01" and data["total"]["received"] == 5
    assert [c["chain"] for c in data["chains"]] == ["kindergarten", "restaurant"]

    from tests.test_private_files import loose_umask

    target = report_db / "report.csv"
    with wide_terminal(), loose_umask():
        result = runner.invoke(app, [*args, "--chain", "kindergarten", "--csv", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_mode & 0o777 == 0o600  # owner-only, whatever the umask
    assert "50.0%" in result.stdout and "我要开幼儿园" in result.stdout
    assert "市场监管局" in result.stdout or "market" in result.stdout
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["code"] == "kindergarten" and rows[0]["received"] == "4"
    assert rows[0]["on_time_rate"] == "0.5"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "2026-13-01"], "not a valid date"),
        (["--to", "yesterday"], "not a date"),
        (["--from", "2026-05-01", "--to", "2026-04-01"], "before"),
        (["--chain", "spaceport"], "unknown chain"),
        (["--csv", "/nonexistent-dir/x.csv"], "--csv"),
    ],
)
def test_cli_report_bad_input(report_db: Path, args: list[str], says: str) -> None:
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 2, result.output
    assert says in result.stderr and result.stdout == ""


async def test_report_counts_a_real_case(driver: CaseDriver) -> None:
    """A case run on a dev server shows up in the report from the shared read model."""
    form = {
        "shop_name": "老王饭店",
        "address": "济宁市任城区古槐路 2 号",
        "floor_area_m2": 80,
        "seats": 20,
        "signboard_text": "老王饭店",
    }
    case_no = await driver.start("restaurant", form)
    await driver.run_to_end(case_no)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        result = await asyncio.to_thread(
            runner.invoke, app, ["report", "--chain", "restaurant", "--json"]
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        if data["total"]["concluded"] >= 1 or loop.time() > deadline:
            break
        await asyncio.sleep(0.2)
    (restaurant,) = data["chains"]
    assert restaurant["received"] >= 1 and restaurant["concluded"] >= 1
    assert restaurant["on_time"] >= 1 and restaurant["promised_days"] == 5
    assert {"market", "urban", "ecology"} <= {d["department"] for d in data["departments"]}
