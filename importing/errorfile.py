"""The ``--errors-out`` file: the rejected rows as they were, plus a ``reason`` column.

CSV in UTF-8 with a BOM, so Excel (including Chinese Excel) opens it with the right
characters, or XLSX when the file name ends in ``.xlsx``; the header is the original
file's, so after fixing the cells the file can be imported again as it is (the importer
ignores a ``reason`` column).

What the file holds is safe to open and fit to import again:

* every cell goes through ``domain.text.spreadsheet_cell``: one starting with ``=``,
  ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` so no spreadsheet runs it as a
  formula; the reader removes exactly that ``'`` on the way back in;
* control characters are written out visibly (``\\x1b``): the row was rejected for
  them, and the person fixing it sees where they were;
* no cell is longer than the cell limit: a longer one is cut to the limit (the reason
  says so), so the file never fails the limit it was written under.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from domain.text import spreadsheet_cell, visible
from importing.columns import normalise_header
from importing.limits import ImportLimits
from importing.readers import RawRow, Sheet, cell_text
from runtime.private_files import open_private

REASON_HEADERS = frozenset({"reason", "原因", "错误原因"})
CUT_MARK = "…"


def written_cell(value: Any, max_chars: int) -> str:
    """A cell as the error file holds it (see the module docstring)."""
    text = visible(cell_text(value))
    if len(text) > max_chars:
        text = text[: max_chars - len(CUT_MARK)] + CUT_MARK
    return spreadsheet_cell(text)


def error_records(
    sheet: Sheet, rows: Iterable[tuple[RawRow, str]], limits: ImportLimits
) -> Iterable[list[str]]:
    """The header, then one record per ``(row, reason)`` pair."""
    keep = [i for i, h in enumerate(sheet.headers) if normalise_header(h) not in REASON_HEADERS]
    cap = limits.max_cell_chars
    yield [written_cell(sheet.headers[i], cap) for i in keep] + ["reason"]
    for raw, reason in rows:
        cells = [written_cell(raw.values[i], cap) for i in keep]
        # Cells right of the last column stay after the reason, as in the original row.
        yield [*cells, written_cell(reason, cap), *(written_cell(v, cap) for v in raw.extra)]


def write_errors(
    path: Path,
    sheet: Sheet,
    rows: Iterable[tuple[RawRow, str]],
    limits: ImportLimits | None = None,
) -> int:
    """Write ``(row, reason)`` pairs as CSV, or XLSX for a ``.xlsx`` path; returns how
    many rows were written."""
    records = error_records(sheet, rows, limits or ImportLimits())
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        return _write_xlsx(path, records)
    count = -1
    # Rejected rows hold ids and phones: owner-only, whatever the umask.
    with open_private(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        for record in records:
            writer.writerow(record)
            count += 1
    return count


def _write_xlsx(path: Path, records: Iterable[list[str]]) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("rejected")
    count = -1
    for record in records:
        sheet.append(record)
        count += 1
    with open_private(path, "wb") as handle:
        workbook.save(handle)
    return count
