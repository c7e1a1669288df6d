"""What the monthly 效能监察 report costs on a busy month: ``--cases`` cases accepted in
one month (every registered chain, two review tasks of two departments each, decisions,
ratings) and ``--findings`` findings, in a fresh SQLite read model; then the report is
built and written (CSV, XLSX, PNG, PDF), each phase timed.

Run from the project root (the venv active)::

    python bench/bench_supervise_report.py                  # 25,000 cases, 5,000 findings
    python bench/bench_supervise_report.py --cases 2000 --keep

Nothing asserts on timing; the figures are printed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MONTH = "2026-11"


def fill(engine: object, cases: int, findings: int, seed: int) -> None:
    from readmodel.database import write_session
    from readmodel.supervision import FindingRecord
    from readmodel.tables import CaseRecord, EventRecord, TaskRecord
    from reporting.office import chain_limits
    from supervision.registry import all_rules

    rng = random.Random(seed)
    chains = sorted(chain_limits())
    departments = ["market", "fire", "urban", "ecology", "health", "education", "culture"]
    rules = [r.code for r in all_rules()]
    first = date(2026, 11, 2)

    def at(day: date, hour: int = 10) -> datetime:
        from domain.timezone import CST

        return datetime(day.year, day.month, day.day, hour, tzinfo=CST)

    with write_session(engine) as session:  # type: ignore[arg-type]
        for n in range(cases):
            case_no = f"B{n:06d}"
            accepted = first + timedelta(days=rng.randrange(28))
            status = rng.choices(
                ["approved", "running", "not_approved", "withdrawn"], [7, 2, 1, 0.3]
            )[0]
            concluded = (
                accepted + timedelta(days=rng.randrange(1, 30))
                if status in ("approved", "not_approved")
                else None
            )
            session.add(
                CaseRecord(
                    case_no=case_no, chain=rng.choice(chains), chain_version=1, status=status,
                    stage="x", applicant_name="某公司", applicant_id_masked="9137**********YB7E",
                    received_at=at(accepted, 9), accepted_on=accepted,
                    rating=rng.choice([None, None, 5, 4, 3, 2, 1]) if concluded else None,
                    due_on=accepted + timedelta(days=20), provisional=False,
                    statutory_due_on=accepted + timedelta(days=40),
                    warning=rng.choice(["none", "yellow", "red"]), case_warning="none",
                    open_departments=[], next_due_on=None, updated_at=at(accepted),
                    concluded_at=at(concluded) if concluded else None, last_seq=4,
                )
            )  # fmt: skip
            for t in range(2):
                parts = rng.sample(departments, 2)
                done = concluded or (
                    accepted + timedelta(days=rng.randrange(1, 10)) if t == 0 else None
                )
                session.add(
                    TaskRecord(
                        case_no=case_no, task_id=f"T{t}", kind="review", name="审查", stage="审查",
                        departments=parts, open_departments=[] if done else parts, assignees=[],
                        status="approved" if done else "open", started_at=at(accepted),
                        concluded_at=at(done) if done else None,
                        due_on=accepted + timedelta(days=10), provisional=False,
                        warning="none", stopped=False, extension_days=0,
                    )
                )  # fmt: skip
                if done:
                    for seq, department in enumerate(parts, start=2 + 2 * t):
                        session.add(
                            EventRecord(
                                case_no=case_no, seq=seq, at=at(done), kind="decided",
                                actor_id="r", actor_name="r", actor_role="reviewer",
                                department=department, task_id=f"T{t}", summary="同意", reason="",
                            )
                        )  # fmt: skip
        for n in range(findings):
            found = first + timedelta(days=rng.randrange(28))
            session.add(
                FindingRecord(
                    key=f"bench:{n}", rule=rng.choice(rules), case_no=f"B{rng.randrange(cases):06d}",
                    department=rng.choice(departments), severity="medium", sentence="测试",
                    evidence={}, found_at=at(found),
                )
            )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=25_000)
    parser.add_argument("--findings", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="onechain-report-bench-"))
    os.environ["ONECHAIN_DATA_DIR"] = str(workdir / "data")
    from readmodel.database import create_read_model, ready_engine
    from reporting.charts import cjk_font, write_summary
    from reporting.office import chain_limits
    from reporting.supervision_report import build_monthly_report
    from reporting.supervision_tables import sheets
    from reporting.tabular import write_csv
    from reporting.xlsx import write_xlsx
    from runtime.settings import get_settings

    url = get_settings().resolved_database_url
    create_read_model(url)
    engine = ready_engine(url)
    started = time.perf_counter()
    fill(engine, args.cases, args.findings, args.seed)
    filled = time.perf_counter()
    report = build_monthly_report(engine, chain_limits(), MONTH)
    built = time.perf_counter()
    tables = sheets(report)
    out = workdir / "out"
    out.mkdir()
    for sheet in tables:
        write_csv(sheet, out / f"{sheet.name}.csv")
    csvs = time.perf_counter()
    write_xlsx(tables, out / "report.xlsx")
    xlsx = time.perf_counter()
    write_summary(report, out / "report.png", out / "report.pdf", cjk_font())
    drawn = time.perf_counter()
    total = report.performance.total
    print(f"cases {total.received:,}, department rows {len(report.performance.departments)}, "
          f"findings {sum(r.findings for r in report.rules):,}")  # fmt: skip
    print(f"fill read model      {filled - started:7.2f} s")
    print(f"build report         {built - filled:7.2f} s   (onechain report's figures + findings, 督办, ratings)")  # fmt: skip
    print(f"write CSV (6 files)  {csvs - built:7.2f} s")
    print(f"write XLSX           {xlsx - csvs:7.2f} s")
    print(f"draw PNG + PDF       {drawn - xlsx:7.2f} s")
    print(f"report end to end    {drawn - filled:7.2f} s")
    if args.keep:
        print(f"kept {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
