"""Report tables as one XLSX workbook (openpyxl): one sheet per table, header row bold
and frozen, column widths fitted to the text (a CJK character is two columns wide),
numbers stored as numbers (rates with a percentage format), text through
``spreadsheet_value`` so nothing is ever a formula.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from domain.text import spreadsheet_value
from reporting.tabular import Kind, Sheet

NUMBER_FORMATS = {
    Kind.COUNT: "0",
    Kind.RATE: "0.0%",
    Kind.DAYS: "0.0",
    Kind.SCORE: "0.00",
}
MAX_WIDTH = 60


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    return spreadsheet_value(value)


def write_xlsx(sheets: Sequence[Sheet], path: Path) -> None:
    """Write ``sheets`` to an owner-only workbook at ``path``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from runtime.private_files import open_private

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for sheet in sheets:
        tab = book.create_sheet(title=sheet.title[:31])
        tab.append([c.label for c in sheet.columns])
        for cell in tab[1]:
            cell.font = bold
        for row in sheet.rows:
            tab.append([_cell(v) for v in sheet.values(row)])
        for index, column in enumerate(sheet.columns, start=1):
            letter = get_column_letter(index)
            texts = [column.label] + [
                "" if v is None else (f"{v:.1%}" if column.kind is Kind.RATE else str(v))
                for v in (row.get(column.key) for row in sheet.rows)
            ]
            tab.column_dimensions[letter].width = min(
                MAX_WIDTH, max(display_width(t) for t in texts) + 2
            )
            number_format = NUMBER_FORMATS.get(column.kind)
            if number_format is not None:
                for (cell,) in tab.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = number_format
        tab.freeze_panes = "A2"
    with open_private(path, "wb") as handle:
        book.save(handle)
