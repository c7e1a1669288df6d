"""``onechain report``: 办件量, 办结率, 按时办结率, overdue and working days, per chain
and per department, from the read model (see ``reporting.performance`` for the
exact definitions).

Exit codes: 0 ok, 2 bad usage or unwritable file, 3 database unreachable.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli.output import EXIT_USAGE, emit_json, fail, guarded, message, note, table
from domain.text import spreadsheet_value
from runtime.settings import get_settings

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    if not _ISO_DATE.fullmatch(text.strip()):
        fail(f"{option} {text!r} is not a date YYYY-MM-DD", EXIT_USAGE)
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option} {text!r} is not a valid date", EXIT_USAGE)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _number(value: float | int | None) -> str:
    return "—" if value is None else str(value)


@guarded
def report(
    from_: Annotated[
        str | None,
        typer.Option("--from", metavar="DATE", help="First day of acceptance, YYYY-MM-DD."),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", metavar="DATE", help="Last day of acceptance, YYYY-MM-DD.")
    ] = None,
    chain: Annotated[str | None, typer.Option(help="Only this chain (code).")] = None,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="Also write the figures to FILE (UTF-8 CSV)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Performance per chain and per department for cases accepted in a period.

    办件量 received, 办结率 concluded/received, 按时办结率 on time/concluded, overdue (open with a red card, concluded late) and average working days to conclude against the promised and statutory limits. Dates are China dates.

    Exit codes: 0 ok, 2 bad usage or unwritable file, 3 database unreachable.
    """
    from readmodel.database import ready_engine
    from reporting.office import chain_limits, known_chain, office_report
    from reporting.performance import CSV_COLUMNS, csv_rows

    start = _parse_date(from_, "--from")
    end = _parse_date(to, "--to")
    if start and end and end < start:
        fail(f"--to {end} is before --from {start}", EXIT_USAGE)
    limits = chain_limits()
    engine = ready_engine(get_settings().resolved_database_url)
    if chain is not None and not known_chain(engine, chain, limits):
        fail(f"unknown chain {chain!r} (known: {', '.join(sorted(limits))})", EXIT_USAGE)
    result, _calendar = office_report(engine, limits, start=start, end=end, chain=chain)
    if csv_file is not None:
        try:
            from runtime.private_files import open_private

            with open_private(csv_file, "w", newline="", encoding="utf-8-sig") as handle:
                writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
                writer.writeheader()
                # Names come from chains and departments; still never a live formula.
                writer.writerows(
                    {key: spreadsheet_value(value) for key, value in row.items()}
                    for row in csv_rows(result)
                )
        except OSError as error:
            fail(f"--csv {csv_file}: {error.strerror or error}", EXIT_USAGE)
        note(f"wrote {csv_file}")
    if as_json:
        emit_json(result)
        return
    period = f"{start or 'start'} – {end or 'today'}"
    table(
        f"Per chain, cases accepted {period}",
        [
            "chain",
            "办件量",
            "办结",
            "办结率",
            "按时办结率",
            "超期在办",
            "超期办结",
            "超法定",
            "撤回",
            "平均用时",
            "承诺/法定",
            "好差评",
        ],
        [
            [
                f"{f.name} ({f.chain})" if f.chain != "*" else f.name,
                f.received,
                f.concluded,
                _percent(f.concluded_rate),
                _percent(f.on_time_rate),
                f.overdue_open,
                f.concluded_late,
                f.past_statutory,
                f.withdrawn,
                _number(f.avg_working_days),
                f"{_number(f.promised_days)}/{_number(f.statutory_days)}" if f.chain != "*" else "",
                f"{f.avg_rating} ({f.rated}, 差评 {f.bad_ratings})" if f.rated else "—",
            ]
            for f in [*result.chains, result.total]
        ],
    )
    table(
        "Per department (their parts of tasks)",
        [
            "department",
            "任务",
            "在办",
            "办结",
            "办结率",
            "按时办结率",
            "超期在办",
            "超期办结",
            "平均用时",
            "平均时限",
        ],
        [
            [
                f"{d.name} ({d.department})",
                d.tasks,
                d.open,
                d.concluded,
                _percent(d.concluded_rate),
                _percent(d.on_time_rate),
                d.overdue_open,
                d.concluded_late,
                _number(d.avg_working_days),
                _number(d.avg_limit_days),
            ]
            for d in result.departments
        ],
    )
    for line in result.notes:
        message(f"note: {line}")
