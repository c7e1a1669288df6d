"""A ``DataTable`` that shows every cell as text.

Textual's ``DataTable`` parses a ``str`` cell as markup: an applicant named ``[/bold]``
crashed the Cases screen, ``[link=…]`` became a clickable link. Every table in the
console is this one, so a cell from a case, a file or another system is always inert
(``cli.safe_text.safe``); cells the code styles itself stay ``Text``.
"""

from __future__ import annotations

from typing import Any

from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from cli.safe_text import safe


class SafeDataTable(DataTable[Any]):
    def add_row(self, *cells: Any, **options: Any) -> RowKey:
        return super().add_row(*(safe(cell) for cell in cells), **options)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Any,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, safe(value), update_width=update_width)

    def update_cell_at(
        self, coordinate: Coordinate, value: Any, *, update_width: bool = False
    ) -> None:
        super().update_cell_at(coordinate, safe(value), update_width=update_width)
