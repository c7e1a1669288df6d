"""``onechain supervise report --month YYYY-MM``: the monthly 效能监察 report.

Writes, into ``--out`` (default: the current folder), for ``STEM`` =
``supervision-report-YYYY-MM[-CHAIN][-DEPARTMENT]``:

* ``STEM-chains.csv``, ``-departments.csv``, ``-rules.csv``, ``-findings.csv``,
  ``-duban.csv``, ``-notes.csv`` — one UTF-8 CSV per table, headed by column keys;
* ``STEM.xlsx`` — the same tables, one sheet each, Chinese headers;
* ``STEM.png`` and ``STEM.pdf`` — the one-page summary with charts.

Every file is owner-only. Exit codes: 0 written; 1 the month has no data (no case
accepted, no department task, no finding, no 督办 in it under the filters: nothing is
written); 2 bad usage (``--month``, ``--chain``, ``--department``, an unwritable
``--out``) or not signed in as a supervisor or administrator; 3 database unreachable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.output import EXIT_REJECTED, EXIT_USAGE, emit_json, fail, guarded, message, note, table
from cli.supervise import app

if TYPE_CHECKING:
    from reporting.supervision_report import MonthlyReport

_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _number(value: float | int | None) -> str:
    return "—" if value is None else str(value)


def _out_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: not a folder", EXIT_USAGE)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"--out {out}: {error.strerror or error}", EXIT_USAGE)
    if not out.is_dir():
        fail(f"--out {out}: not a folder", EXIT_USAGE)
    return out


@app.command("report")
@guarded
def supervise_report(
    month: Annotated[
        str, typer.Option("--month", metavar="YYYY-MM", help="The month, e.g. 2026-11.")
    ],
    department: Annotated[
        str | None, typer.Option("--department", help="Only this department (code).")
    ] = None,
    chain: Annotated[str | None, typer.Option("--chain", help="Only this chain (code).")] = None,
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder for the files (default: here).")
    ] = Path("."),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON (files are written too).")
    ] = False,
) -> None:
    """The monthly 效能监察 report: per department and chain, cases, 按时/提前办结率,
    average and worst working days, findings per rule, 督办 opened/closed and how fast,
    好差评 — as CSV, XLSX and a one-page PNG/PDF summary.

    Case figures are `onechain report --from FIRST --to LAST` for the month, exactly.
    Exit codes: 0 written, 1 no data in that month, 2 bad usage, 3 database unreachable.
    """
    from cli.users import require_role
    from readmodel.database import ready_engine
    from readmodel.departments import department_codes
    from reporting.office import chain_limits, known_chain
    from reporting.supervision_report import MonthError, build_monthly_report, parse_month
    from runtime.settings import get_settings

    try:
        parse_month(month)
    except MonthError as error:
        fail(str(error), EXIT_USAGE)
    require_role("supervisor", "administrator")
    engine = ready_engine(get_settings().resolved_database_url)
    limits = chain_limits()
    if chain is not None and not (_CODE.fullmatch(chain) and known_chain(engine, chain, limits)):
        fail(f"--chain: unknown chain {chain!r} (known: {', '.join(sorted(limits))})", EXIT_USAGE)
    if department is not None:
        known = department_codes(engine)
        if not _CODE.fullmatch(department) or department not in known:
            fail(
                f"--department: unknown department {department!r} (known: {', '.join(sorted(known))})",
                EXIT_USAGE,
            )
    report = build_monthly_report(engine, limits, month, chain=chain, department=department)
    if not report.has_data:
        scope = " ".join(x for x in (report.month, chain, department) if x)
        fail(f"{scope} 无数据 (no cases or findings in that month)", EXIT_REJECTED)
    written = _write_files(report, _out_dir(out))
    if as_json:
        emit_json(report.model_dump(mode="json") | {"files": [str(p) for p in written]})
        return
    _print(report)
    for path in written:
        note(f"wrote {path}")


def _stem(report: MonthlyReport) -> str:
    return "-".join(
        x for x in ("supervision-report", report.month, report.chain, report.department) if x
    )


def _write_files(report: MonthlyReport, out: Path) -> list[Path]:
    from reporting.charts import cjk_font, write_summary
    from reporting.supervision_tables import sheets
    from reporting.tabular import write_csv
    from reporting.xlsx import write_xlsx

    stem = _stem(report)
    tables = sheets(report)
    written: list[Path] = []
    try:
        for sheet in tables:
            path = out / f"{stem}-{sheet.name}.csv"
            write_csv(sheet, path)
            written.append(path)
        write_xlsx(tables, out / f"{stem}.xlsx")
        written.append(out / f"{stem}.xlsx")
        font = cjk_font()
        if font is None:
            note(
                "no CJK font on this machine: the summary's labels are English (tables are Chinese)"
            )
        pdf = out / f"{stem}.pdf"
        written += write_summary(report, out / f"{stem}.png", pdf, font)
        if pdf not in written:
            note(f"{pdf.name}: the font {font} cannot be embedded in a PDF; the PNG is the summary")
    except OSError as error:
        fail(f"--out {out}: {error.strerror or error}", EXIT_USAGE)
    return written


def _print(report: MonthlyReport) -> None:
    from reporting.supervision_tables import chain_rows, department_rows

    columns = [
        "办件量/任务",
        "办结",
        "按时办结率",
        "提前办结率",
        "平均用时",
        "最长",
        "好差评",
        "监察发现",
        "督办 开/结",
    ]

    def cells(row: dict[str, Any], count: str) -> list[Any]:
        rating = f"{row['avg_rating']} ({row['rated']})" if row.get("rated") else "—"
        return [
            row.get(count, 0),
            _number(row.get("concluded")),
            _percent(row.get("on_time_rate")),
            _percent(row.get("early_rate")),
            _number(row.get("avg_working_days")),
            _number(row.get("max_working_days")),
            rating,
            row["findings"],
            f"{row['duban_opened']}/{row['duban_closed']}",
        ]

    table(
        f"效能监察月报 {report.month}：按链条 (per chain)",
        ["chain", *columns],
        [[f"{r['name']} ({r['code']})" if r["code"] != "*" else r["name"], *cells(r, "received")]
         for r in chain_rows(report)],
    )  # fmt: skip
    table(
        "按部门 (per department)",
        ["department", *columns],
        [
            [f"{r['name']} ({r['code']})" if r["code"] else r["name"], *cells(r, "tasks")]
            for r in department_rows(report)
        ],
    )
    table(
        "监察规则 (findings per rule)",
        ["rule", "name", "severity", "findings"],
        [[r.rule, r.name, r.severity, r.findings] for r in report.rules],
    )
    for line in report.notes:
        message(f"note: {line}")
