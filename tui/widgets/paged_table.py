"""A case table whose cursor keys move through the whole list, not just one page.

The list shows one page of the read model at a time. A coordinator expects ``↓`` on
the last row to go on to the next page, ``Home``/``End`` to reach the first and last
case, ``PgUp``/``PgDn`` to page. The table asks its screen for another page (a
message); the screen loads it and says where the cursor lands.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from tui.widgets.safe_table import SafeDataTable


class PagedTable(SafeDataTable):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "first_row", "Home", show=False),
        Binding("end", "last_row", "End", show=False),
        Binding("ctrl+home", "first_row", "Home", show=False),
        Binding("ctrl+end", "last_row", "End", show=False),
    ]

    class PageOn(Message):
        """Ask for another page: ``next``/``prev`` (cursor at its top/bottom),
        ``first``/``last`` (the first/last case of the whole list)."""

        def __init__(self, table: PagedTable, step: str) -> None:
            super().__init__()
            self.table = table
            self.step = step

        @property
        def control(self) -> PagedTable:
            return self.table

    def _at_last(self) -> bool:
        return self.row_count == 0 or self.cursor_row >= self.row_count - 1

    def action_cursor_down(self) -> None:
        if self._at_last():
            self.post_message(self.PageOn(self, "next"))
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0:
            self.post_message(self.PageOn(self, "prev"))
        else:
            super().action_cursor_up()

    def action_page_down(self) -> None:
        if self._at_last():
            self.post_message(self.PageOn(self, "next"))
        else:
            super().action_page_down()

    def action_page_up(self) -> None:
        if self.cursor_row <= 0:
            self.post_message(self.PageOn(self, "prev"))
        else:
            super().action_page_up()

    def action_first_row(self) -> None:
        self.post_message(self.PageOn(self, "first"))

    def action_last_row(self) -> None:
        self.post_message(self.PageOn(self, "last"))
