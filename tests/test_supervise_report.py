"""``onechain supervise report --month``: the monthly 效能监察 report.

Real cases driven to their end on a dev server, ``supervise run`` for the findings,
then the report: its case figures are ``onechain report``'s for the same dates, its
findings per rule are the findings table's, the XLSX opens with the sheets and
numbers, the PNG is an image. Known rows pin the definitions the report adds (提前
办结, worst days per department, findings by month in China time, 督办 from
``supervision_items``, ratings per department); bad input is one line.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import Engine, func
from sqlmodel import col, select
from typer.testing import CliRunner, Result

from cli.app import app
from domain.actions import Decide, Rate, RecordSupplement
from domain.case import Verdict
from domain.timezone import CST, cst_date
from readmodel.database import read_session, ready_engine, write_session
from readmodel.supervision import FindingRecord, SupervisionItemRecord
from reporting.supervision_report import MonthError, parse_month
from reporting.supervision_tables import FINDING_COLUMNS
from runtime.settings import get_settings
from tests.harness import CLERK, SUPERVISOR, CaseDriver, reviewer, session_signer, sign_in_cli
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_cli_cases import environment, wide_terminal
from tests.test_cli_report import at, fill

SHEETS = ["按链条 chains", "按部门 departments", "监察规则 rules", "监察发现 findings", "督办 duban", "说明 notes"]  # fmt: skip
TABLES = ("chains", "departments", "rules", "findings", "duban", "notes")


def onechain(*args: str) -> Result:
    with wide_terminal():
        return CliRunner().invoke(app, list(args))


def _engine() -> Engine:
    return ready_engine(get_settings().resolved_database_url)


def _written(out: Path, stem: str) -> dict[str, Path]:
    files = {name: out / f"{stem}-{name}.csv" for name in TABLES}
    files |= {kind: out / f"{stem}.{kind}" for kind in ("xlsx", "png", "pdf")}
    return files


def _check_files(out: Path, stem: str) -> dict[str, Path]:
    from reporting.charts import cjk_font

    files = _written(out, stem)
    if cjk_font() is not None and not files["pdf"].exists():
        del files["pdf"]  # a CJK font the PDF backend cannot embed: the PNG stands
    for path in files.values():
        assert path.is_file() and path.stat().st_mode & 0o777 == 0o600, path
    with Image.open(files["png"]) as image:  # a real image, A4 portrait at 150 dpi
        image.verify()
        width, height = image.size
    assert image.format == "PNG" and height > width >= 1000
    assert "pdf" not in files or files["pdf"].read_bytes().startswith(b"%PDF")
    return files


def _sheet(path: Path, title: str) -> list[dict[str, Any]]:
    book = load_workbook(path)
    assert book.sheetnames == SHEETS
    rows = list(book[title].iter_rows(values_only=True))
    assert all(cell.font.bold for cell in book[title][1])
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


# ---------------------------------------------------------------- real cases
async def _invoke(*args: str) -> Result:
    return await asyncio.to_thread(onechain, *args)


async def _return_twice(driver: CaseDriver, case_no: str) -> str:
    """Ask the applicant twice for corrections: 一次告知 broken (repeated_correction)."""
    state = await driver.wait_for_tasks(case_no)
    task = next(t for t in state.open_tasks if t.parts)
    department = task.parts[0].department
    returned = Decide(
        actor=reviewer(department),
        task_id=task.id,
        verdict=Verdict.RETURN,
        reason="材料不全",
        missing_items=["补充说明"],
    )
    await driver.desk.act(case_no, returned)
    await driver.desk.act(
        case_no, RecordSupplement(actor=CLERK, task_id=task.id, items=["补充说明"])
    )
    await driver.desk.act(case_no, returned)
    await driver.desk.act(
        case_no, RecordSupplement(actor=CLERK, task_id=task.id, items=["补充说明"])
    )
    return department


async def _send_and_close(driver: CaseDriver, case_no: str) -> int:
    """督办 the case's repeated_correction finding: sent and closed through its item
    workflow on the driver's worker; returns the finding's id once its row is closed."""
    from client.supervision_desk import SupervisionDesk

    with read_session(_engine()) as session:
        (finding,) = session.exec(
            select(FindingRecord).where(
                FindingRecord.case_no == case_no, FindingRecord.rule == "repeated_correction"
            )
        ).all()
    assert finding.id is not None
    desk = SupervisionDesk(
        driver.client, session_signer()(SUPERVISOR), task_queue=driver.desk.task_queue
    )
    await desk.send(finding.id, "请说明两次要求补正的原因")
    await desk.close(finding.id, "已整改：一次性告知清单")
    for _ in range(200):
        with read_session(_engine()) as session:
            item = session.get(SupervisionItemRecord, finding.id)
        if item is not None and item.closed_at is not None:
            return finding.id
        await asyncio.sleep(0.05)
    raise AssertionError("the 督办 item's row was never closed")


async def test_report_of_a_month_of_real_cases_agrees_with_onechain_report(
    driver: CaseDriver, tmp_path: Path
) -> None:
    rated = await driver.start("kindergarten", KINDERGARTEN_FORM)
    await driver.run_to_end(rated)
    await driver.desk.act(rated, Rate(actor=CLERK, score=2, comment="等候时间长"))
    await driver.projected(rated)
    corrected = await driver.start("kindergarten", KINDERGARTEN_FORM)
    returned_by = await _return_twice(driver, corrected)
    await driver.run_to_end(corrected)
    running = await driver.start("kindergarten", KINDERGARTEN_FORM)
    await driver.wait_for_tasks(running)
    await driver.projected(running)
    month = f"{datetime.now(CST):%Y-%m}"
    first, last = parse_month(month)
    out = tmp_path / "out"

    with environment(ONECHAIN_SESSION_FILE=str(tmp_path / "session.json")):
        sign_in_cli(tmp_path / "session.json", "supervisor", user_id="sup-report")
        ran = await _invoke("supervise", "run")
        assert ran.exit_code in (0, 1), ran.output  # 1: some other test's rule broke
        finding_id = await _send_and_close(driver, corrected)
        result = await _invoke("supervise", "report", "--month", month, "--out", str(out), "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        plain = await _invoke("report", "--from", f"{first}", "--to", f"{last}", "--json")
        tables = await _invoke("supervise", "report", "--month", month, "--out", str(out))
    assert tables.exit_code == 0 and "效能监察月报" in tables.stdout

    # The case figures are onechain report's for the month, to the last field.
    assert data["performance"] == json.loads(plain.stdout)
    total = data["performance"]["total"]
    assert total["received"] >= 3 and total["concluded"] >= 2 and total["running"] >= 1
    assert total["rated"] >= 1 and total["bad_ratings"] >= 1

    # Findings per rule are the findings table's for the month (China time).
    since = datetime.combine(first, datetime.min.time(), tzinfo=CST)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=CST)
    with read_session(_engine()) as session:
        stored = session.exec(
            select(FindingRecord).where(
                col(FindingRecord.found_at) >= since, col(FindingRecord.found_at) < until
            )
        ).all()
    assert {r["rule"]: r["findings"] for r in data["rules"] if r["findings"]} == Counter(
        f.rule for f in stored
    )
    ours = [f for f in stored if f.case_no == corrected and f.rule == "repeated_correction"]
    assert [f.department for f in ours] == [returned_by]
    by_rule_department = Counter((f.rule, f.department or "") for f in stored)
    listed = Counter()
    for row in data["findings"]:
        listed[(row["rule"], row["department"])] += row["findings"]
    assert listed == by_rule_department
    with read_session(_engine()) as session:
        item = session.get(SupervisionItemRecord, finding_id)
        sent = session.exec(
            select(func.count())
            .select_from(SupervisionItemRecord)
            .where(
                col(SupervisionItemRecord.sent_at) >= since,
                col(SupervisionItemRecord.sent_at) < until,
            )
        ).one()
    assert item is not None and item.closed_at is not None
    duban = data["duban_total"]
    assert duban["opened"] == sent >= 1 and duban["closed"] >= 1
    (ours_closed,) = [d for d in data["duban_departments"] if d["code"] == returned_by]
    assert ours_closed["closed"] >= 1 and ours_closed["max_days_to_close"] is not None

    # The files: CSV per table, the workbook with numbers, the page as PNG and PDF.
    files = _check_files(out, f"supervision-report-{month}")
    chains = _sheet(files["xlsx"], "按链条 chains")
    (summed,) = [r for r in chains if r["链条代码"] == "*"]
    assert summed["办件量"] == total["received"] and summed["办结"] == total["concluded"]
    assert summed["按时办结率"] == total["on_time_rate"] and not isinstance(
        summed["按时办结率"], str
    )
    assert summed["差评"] == total["bad_ratings"]
    book = load_workbook(files["xlsx"])
    header = [c.value for c in book["按链条 chains"][1]]
    rate = book["按链条 chains"].cell(row=2, column=header.index("按时办结率") + 1)
    assert rate.number_format == "0.0%"
    departments = {r["部门代码"]: r for r in _sheet(files["xlsx"], "按部门 departments")}
    assert departments[returned_by]["监察发现"] >= 1
    rules = {r["规则代码"]: r["监察发现"] for r in _sheet(files["xlsx"], "监察规则 rules")}
    assert rules == {r["rule"]: r["findings"] for r in data["rules"]}
    csv_header = files["chains"].read_text(encoding="utf-8-sig").splitlines()[0]
    assert csv_header.startswith("code,name,received,concluded")


# ---------------------------------------------------------------- known rows
@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data folder whose read model holds test_cli_report's known cases (March
    and April 2026), a supervisor signed in."""
    from readmodel.database import create_read_model
    from runtime.keys import init_keys, keys_dir

    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    get_settings.cache_clear()
    init_keys(keys_dir(get_settings()))
    create_read_model(get_settings().resolved_database_url)
    fill(_engine())
    sign_in_cli(tmp_path / "session.json", "supervisor", user_id="sup-1")
    yield tmp_path
    get_settings.cache_clear()


def _finding(key: str, rule: str, case_no: str | None, department: str | None, found: datetime) -> FindingRecord:  # fmt: skip
    return FindingRecord(
        key=key,
        rule=rule,
        case_no=case_no,
        department=department,
        severity="medium",
        sentence="测试发现",
        evidence={},
        found_at=found,
    )


def _item(finding_id: int, department: str, sent: datetime, **steps: datetime) -> SupervisionItemRecord:  # fmt: skip
    last = max([sent, *steps.values()])
    status = (
        "closed" if "closed_at" in steps else "escalated" if "escalated_at" in steps else "sent"
    )
    return SupervisionItemRecord(
        finding_id=finding_id, status=status, rule="repeated_correction", department=department,
        steps=1 + len(steps), sent_by="sup-1", sent_at=sent, updated_at=last, **steps,
    )  # fmt: skip


def _seed(engine: Engine) -> None:
    """Findings on both sides of the month's end in China time, and 督办 items."""
    late_march = datetime(2026, 3, 31, 23, 30, tzinfo=CST)  # 15:30 UTC: still March in China
    early_april = datetime(2026, 4, 1, 0, 10, tzinfo=CST)  # 16:10 UTC on March 31st
    with write_session(engine) as session:
        for finding in [
            _finding("a", "repeated_correction", "K1", "fire", late_march),
            _finding("b", "repeated_correction", "K3", "market", at("2026-03-12")),
            _finding("c", "outside_change", None, None, at("2026-03-05")),
            _finding("d", "repeated_correction", "K1", "fire", early_april),
        ]:
            session.add(finding)
    with read_session(engine) as session:
        ids = {f.key: f.id for f in session.exec(select(FindingRecord))}
    with write_session(engine) as session:
        for item in [
            # sent Tue 03-10, answered 03-11, closed Fri 03-13: 3 working days
            _item(
                ids["a"],
                "fire",
                at("2026-03-10"),
                responded_at=at("2026-03-11"),
                closed_at=at("2026-03-13"),
            ),
            _item(ids["b"], "market", at("2026-03-16"), escalated_at=at("2026-03-24")),
            _item(ids["d"], "fire", early_april),  # April's
        ]:
            session.add(item)


def test_known_month_on_sqlite_and_postgresql(database_url: str) -> None:
    """提前办结, worst days, findings by month in China time, 督办 and ratings per
    department, from known rows, on both databases."""
    from readmodel.database import create_read_model, reset_engines
    from reporting.office import chain_limits
    from reporting.supervision_report import build_monthly_report

    create_read_model(database_url)
    engine = ready_engine(database_url)
    try:
        fill(engine)
        _seed(engine)
        march = build_monthly_report(engine, chain_limits(), "2026-03")
        april = build_monthly_report(engine, chain_limits(), "2026-04")
    finally:
        reset_engines()
    (kindergarten,) = march.performance.chains
    # K1 concluded 03-13, due 03-30: early; K2 03-06 after its due 03-04: late.
    assert (kindergarten.on_time, kindergarten.early, kindergarten.early_rate) == (1, 1, 0.5)
    departments = {d.department: d for d in march.performance.departments}
    # education decided 03-03, fire 03-09 on a task started 03-02: 1 and 5 working days.
    assert (departments["fire"].max_working_days, departments["fire"].early) == (5, 0)
    assert (departments["education"].early, departments["education"].early_rate) == (1, 1.0)

    rules = {r.rule: r.findings for r in march.rules}
    assert rules["repeated_correction"] == 2 and rules["outside_change"] == 1
    per = {(f.department, f.chain): f.findings for f in march.findings}
    assert per == {("fire", "kindergarten"): 1, ("market", "kindergarten"): 1, ("", ""): 1}
    assert {r.rule: r.findings for r in april.rules}["repeated_correction"] == 1

    total = march.duban_total
    assert (total.opened, total.responded, total.escalated) == (2, 1, 1)
    assert (total.closed, total.still_open) == (1, 1)
    assert (total.avg_days_to_close, total.max_days_to_close) == (3.0, 3)
    by_department = {d.code: d for d in march.duban_departments}
    assert (by_department["fire"].closed, by_department["market"].escalated) == (1, 1)
    assert (april.duban_total.opened, april.duban_total.closed) == (1, 0)
    # K1 (rated 5) had education and fire; K2 (rated 2) had no department task.
    assert march.department_ratings["fire"].model_dump() == {
        "rated": 1,
        "avg_rating": 5.0,
        "bad_ratings": 0,
    }


def test_the_files_of_a_known_month(office: Path) -> None:
    _seed(_engine())
    result = onechain("supervise", "report", "--month", "2026-03", "--out", str(office), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    plain = json.loads(
        onechain("report", "--from", "2026-03-01", "--to", "2026-03-31", "--json").stdout
    )
    assert data["performance"] == plain
    assert sorted(Path(f).name for f in data["files"]) == sorted(
        p.name for p in _written(office, "supervision-report-2026-03").values()
    )

    files = _check_files(office, "supervision-report-2026-03")
    rows = {r["部门代码"]: r for r in _sheet(files["xlsx"], "按部门 departments")}
    assert rows["fire"]["最长用时（工作日）"] == 5 and rows["fire"]["督办办结"] == 1
    assert rows["fire"]["提前办结率"] == 0 and rows["education"]["提前办结率"] == 1
    assert rows["market"]["监察发现"] == 1 and rows["market"]["任务"] == 1
    assert rows["market"]["按时办结率"] is None  # nothing concluded: empty, not 0
    duban = {(r["范围"], r["代码"]): r for r in _sheet(files["xlsx"], "督办 duban")}
    assert duban[("合计", "*")]["平均办结用时（工作日）"] == 3.0
    findings = _sheet(files["xlsx"], "监察发现 findings")
    assert sum(r["监察发现"] for r in findings) == 3
    csv_rows = files["findings"].read_text(encoding="utf-8-sig").splitlines()
    assert csv_rows[0] == ",".join(c.key for c in FINDING_COLUMNS) and len(csv_rows) == 4


def test_filters_narrow_departments_findings_and_files(office: Path) -> None:
    with write_session(_engine()) as session:
        session.add(_finding("a", "repeated_correction", "K1", "fire", at("2026-03-20")))
        session.add(_finding("b", "repeated_correction", "R1", "market", at("2026-04-02")))
    result = onechain(
        "supervise", "report", "--month", "2026-03", "--department", "fire",
        "--out", str(office), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["department"] for d in data["performance"]["departments"]] == ["fire"]
    assert [f["department"] for f in data["findings"]] == ["fire"]
    assert data["performance"]["total"]["received"] == 4  # per-chain figures: the whole office
    _check_files(office, "supervision-report-2026-03-fire")

    april = onechain(
        "supervise", "report", "--month", "2026-04", "--chain", "restaurant",
        "--out", str(office), "--json",
    )  # fmt: skip
    data = json.loads(april.stdout)
    assert [c["chain"] for c in data["performance"]["chains"]] == ["restaurant"]
    assert [(f["chain"], f["findings"]) for f in data["findings"]] == [("restaurant", 1)]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--month", "2026-13"), 2, "--month '2026-13' is not a month YYYY-MM"),
        (("--month", "2026/11"), 2, "is not a month YYYY-MM"),
        (("--month", "11-2026"), 2, "is not a month YYYY-MM"),
        (("--month", "2031-01"), 1, "2031-01 无数据 (no cases or findings in that month)"),
        (("--month", "2026-05", "--chain", "restaurant"), 1, "2026-05 restaurant 无数据"),
        (("--month", "2026-04", "--department", "fire"), 1, "2026-04 fire 无数据"),
        (("--month", "2026-03", "--chain", "spaceport"), 2, "--chain: unknown chain 'spaceport'"),
        (("--month", "2026-03", "--department", "nowhere"), 2, "unknown department 'nowhere'"),
    ],
)
def test_bad_input_is_one_line(office: Path, args: tuple[str, ...], code: int, says: str) -> None:
    out = office / "empty"
    result = onechain("supervise", "report", *args, "--out", str(out))
    assert result.exit_code == code, result.output
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == "" and not out.exists()  # nothing written


def test_an_unwritable_out_is_one_line(office: Path) -> None:
    blocker = office / "a-file"
    blocker.write_text("x")
    for out, says in ((blocker, "not a folder"), (blocker / "below", "Not a directory")):
        result = onechain("supervise", "report", "--month", "2026-03", "--out", str(out))
        assert result.exit_code == 2, result.output
        assert f"--out {out}: {says}" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_only_supervisors_and_administrators(office: Path) -> None:
    sign_in_cli(office / "session.json", "reviewer:fire", user_id="rev-1")
    refused = onechain("supervise", "report", "--month", "2026-03", "--out", str(office))
    assert refused.exit_code == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert not list(office.glob("supervision-report-*"))
    sign_in_cli(office / "session.json", "administrator", user_id="admin-1")
    assert (
        onechain("supervise", "report", "--month", "2026-03", "--out", str(office)).exit_code == 0
    )


def test_names_never_become_formulas_in_the_files(office: Path) -> None:
    from readmodel.departments import rename_department

    rename_department(_engine(), "fire", '=HYPERLINK("http://x")', "admin")
    assert (
        onechain("supervise", "report", "--month", "2026-03", "--out", str(office)).exit_code == 0
    )
    rows = _sheet(office / "supervision-report-2026-03.xlsx", "按部门 departments")
    (fire,) = [r for r in rows if r["部门代码"] == "fire"]
    assert fire["部门"].startswith("'=")
    text = (office / "supervision-report-2026-03-departments.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_parse_month() -> None:
    assert parse_month("2026-11") == (date(2026, 11, 1), date(2026, 11, 30))
    assert parse_month("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert parse_month("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    for bad in ("2026-00", "2026-1", "26-11", "2026-11-01", ""):
        with pytest.raises(MonthError):
            parse_month(bad)
    assert cst_date(datetime(2026, 3, 31, 16, tzinfo=UTC)) == date(2026, 4, 1)


def test_the_summary_page_in_chinese_when_a_cjk_font_is_there(office: Path) -> None:
    """Where a CJK family is installed the page's labels are Chinese; drawn here with a
    stand-in family (this machine may have none), the page is still one valid image."""
    import warnings

    from reporting.charts import cjk_font, summary_figure, write_summary
    from reporting.office import chain_limits
    from reporting.supervision_report import build_monthly_report

    report = build_monthly_report(_engine(), chain_limits(), "2026-03")
    assert cjk_font() is None or isinstance(cjk_font(), str)
    texts = [t.get_text() for t in summary_figure(report, "DejaVu Sans").texts]
    assert texts[0] == "效能监察月报 2026-03" and "按时办结率 50.0%" in texts[1]
    assert "Monthly supervision report 2026-03" in summary_figure(report, None).texts[0].get_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs missing from the stand-in family
        (png,) = write_summary(report, office / "zh.png", None, "DejaVu Sans")
    with Image.open(png) as image:
        image.verify()


def test_a_missing_read_model_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from readmodel.database import reset_engines

    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    get_settings.cache_clear()
    sign_in_cli(tmp_path / "session.json", "supervisor", user_id="sup-1")
    monkeypatch.setenv("ONECHAIN_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    get_settings.cache_clear()
    try:
        result = onechain("supervise", "report", "--month", "2026-03", "--out", str(tmp_path))
        assert result.exit_code == 3, result.output
        assert "no read model" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not list(tmp_path.glob("supervision-report-*"))
    finally:
        reset_engines()
        get_settings.cache_clear()
