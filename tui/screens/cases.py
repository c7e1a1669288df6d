"""Every case, most urgent first, one page at a time from the read model."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Input, Static

from cli.safe_text import safe
from tui.data import SORTS, CaseFilter, CaseListRow, Page, filter_choices, list_page
from tui.permissions import BULK, KEYS, Act, may
from tui.screens.base import ConsoleScreen
from tui.widgets.cells import days_left_cell, short_list, warning_cell
from tui.widgets.safe_table import SafeDataTable
from tui.widgets.status import StatusBar

#: Urgency first, so an 80-column terminal still shows what matters; wider ones show all.
COLUMNS = (
    "mark",
    "case_no",
    "warning",
    "left",
    "due",
    "stage",
    "chain",
    "applicant",
    "id",
    "departments",
)


def action_bindings() -> list[Binding]:
    return [Binding(KEYS[act], f"act('{act.value}')", f"act.{act.value}") for act in Act]


class CasesScreen(ConsoleScreen):
    """The case list: filters, search, paging, marks, and actions on the selected case."""

    HELP_EXTRA = (("enter", "bind.open"),)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "bind.search"),
        Binding("f", "filters", "bind.filter"),
        Binding("o", "problems", "bind.problems"),
        Binding("c", "clear", "bind.clear", show=False),
        Binding("space", "mark", "bind.mark"),
        Binding("right_square_bracket", "page(1)", "bind.next_page"),
        Binding("left_square_bracket", "page(-1)", "bind.prev_page"),
        Binding("S", "sort", "bind.sort", show=False),
        Binding("ctrl+r", "refresh", "bind.refresh", show=False),
        Binding("escape", "back", "bind.back", show=False),
        *action_bindings(),
    ]

    def __init__(self, page_size: int | None = None) -> None:
        super().__init__()
        self.filter = CaseFilter()
        self.row_offset = 0
        self.page_size = page_size or self.console.page_size
        self.page: Page | None = None
        self.marked: dict[str, None] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar("screen.cases", id="status")
        yield Input(placeholder=self.t("cases.search"), id="search", classes="hidden")
        yield Static(self.t("cases.loading"), id="cases-summary")
        yield SafeDataTable(id="cases", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#cases", DataTable)
        for column in COLUMNS:
            table.add_column(self.t(f"cases.col.{column}"), key=column)
        table.focus()
        if self.console.pending_filter is not None:
            self.filter, self.console.pending_filter = self.console.pending_filter, None
        self.reload()
        if self.console.refresh_seconds:
            self.set_interval(self.console.refresh_seconds, self.reload)

    # ------------------------------------------------------------- loading
    def reload(self) -> None:
        self.load_page(self.filter, self.row_offset)

    @work(exclusive=True, group="cases-page")
    async def load_page(self, flt: CaseFilter, offset: int) -> None:
        engine = self.console.engine
        try:
            page = await asyncio.to_thread(list_page, engine, flt, offset, self.page_size)
        except SQLAlchemyError as error:
            self.console.read_model_failed(error)
            return
        if flt != self.filter:
            return  # a newer filter was set meanwhile; its own load follows
        self.apply_page(page)

    def apply_page(self, page: Page) -> None:
        """Show ``page``, keeping the cursor on the same case when it is still there."""
        self.page = page
        self.row_offset = page.offset
        table = self.query_one("#cases", DataTable)
        selected = self.selected_case()
        old_row = table.cursor_row
        table.clear()
        today = self.console.today()
        for row in page.rows:
            table.add_row(*self._cells(row, today), key=row.case_no)
        if selected is not None and selected in {r.case_no for r in page.rows}:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        elif table.row_count:
            table.move_cursor(row=min(max(old_row, 0), table.row_count - 1), animate=False)
        self._summary()

    def _cells(self, row: CaseListRow, today) -> list[object]:
        catalog = self.catalog
        running = row.status == "running"
        left = None
        if running and row.due_on is not None:
            left = self.console.days.left(today, row.due_on, started_on=row.accepted_on)
        due = row.due_on.isoformat() if row.due_on else ""
        if due and row.provisional:
            due += self.t("provisional.mark")
        if running:
            level: Text = warning_cell(catalog, row.warning)
        else:
            level = Text(catalog.enum("status", row.status), style="dim")
        return [
            Text("●", style="bold magenta") if row.case_no in self.marked else "",
            row.case_no,
            level,
            days_left_cell(catalog, left, row.warning),
            due,
            row.stage,
            catalog.chain(row.chain),
            row.applicant_name,
            row.applicant_id_masked,
            short_list([catalog.department(d) for d in row.open_departments]),
        ]

    def _summary(self) -> None:
        flt, page, c = self.filter, self.page, self.catalog
        parts: list[str] = []
        if flt.chain:
            parts.append(f"{self.t('filter.chain')}={c.chain(flt.chain)}")
        if flt.status:
            parts.append(f"{self.t('filter.status')}={c.enum('status', flt.status)}")
        if flt.stage:
            parts.append(f"{self.t('filter.stage')}={flt.stage}")
        if flt.department:
            parts.append(f"{self.t('filter.department')}={c.department(flt.department)}")
        if flt.warning:
            parts.append(f"{self.t('filter.warning')}={c.enum('warning', flt.warning)}")
        if flt.problems_only:
            parts.append(self.t("cases.only_problems"))
        if flt.search.strip():
            parts.append(f"“{flt.search.strip()}”")
        text = (
            self.t("cases.filters", filters=" · ".join(parts))
            if parts
            else self.t("cases.no_filters")
        )
        if page is not None:
            if page.total:
                text += "   " + self.t(
                    "cases.range",
                    first=page.offset + 1,
                    last=page.offset + len(page.rows),
                    total=f"{page.total:,}",
                )
            else:
                text += "   " + self.t("cases.empty")
        text += "   " + self.t("cases.sort", sort=self.t(f"sort.{flt.sort}"))
        if self.marked:
            text += "   " + self.t("bulk.marked", count=len(self.marked))
        self.query_one("#cases-summary", Static).update(safe(text))

    def set_filter(self, flt: CaseFilter) -> None:
        self.filter = flt
        self.row_offset = 0
        self.load_page(flt, 0)

    # ------------------------------------------------------------ selection
    def selected_case(self) -> str | None:
        table = self.query_one("#cases", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return str(key.value) if key.value is not None else None

    @on(DataTable.RowSelected, "#cases")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.console.open_case(str(event.row_key.value))

    # -------------------------------------------------------------- actions
    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.remove_class("hidden")
        search.value = self.filter.search
        search.focus()

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        event.input.add_class("hidden")
        self.query_one("#cases", DataTable).focus()
        self.set_filter(replace(self.filter, search=event.value.strip()))

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if not search.has_class("hidden"):
            search.add_class("hidden")
            self.query_one("#cases", DataTable).focus()
        elif self.filter.search:
            self.set_filter(replace(self.filter, search=""))

    def action_filters(self) -> None:
        self.open_filters()

    @work(exclusive=True, group="cases-filters")
    async def open_filters(self) -> None:
        from tui.screens.dialogs import FilterScreen

        choices = await asyncio.to_thread(filter_choices, self.console.engine)

        def chosen(flt: CaseFilter | None) -> None:
            if flt is not None:
                self.set_filter(flt)

        self.app.push_screen(FilterScreen(self.filter, choices), chosen)

    def action_problems(self) -> None:
        self.set_filter(replace(self.filter, problems_only=not self.filter.problems_only))

    def action_clear(self) -> None:
        self.set_filter(CaseFilter(sort=self.filter.sort))

    def action_sort(self) -> None:
        index = SORTS.index(self.filter.sort) if self.filter.sort in SORTS else 0
        self.set_filter(replace(self.filter, sort=SORTS[(index + 1) % len(SORTS)]))

    def action_page(self, delta: int) -> None:
        page = self.page
        if page is None:
            return
        offset = self.row_offset + delta * self.page_size
        if offset < 0 or offset >= max(page.total, 1):
            return
        self.row_offset = offset
        self.load_page(self.filter, offset)
        table = self.query_one("#cases", DataTable)
        table.move_cursor(row=0, animate=False)

    def action_refresh(self) -> None:
        self.reload()

    def action_mark(self) -> None:
        case_no = self.selected_case()
        if case_no is None:
            return
        if case_no in self.marked:
            del self.marked[case_no]
        else:
            self.marked[case_no] = None
        table = self.query_one("#cases", DataTable)
        mark = Text("●", style="bold magenta") if case_no in self.marked else ""
        table.update_cell(case_no, "mark", mark)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1, animate=False)
        self._summary()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act" and parameters:
            return may(self.console.actor, Act(str(parameters[0])))
        return True

    def action_act(self, name: str) -> None:
        act = Act(name)
        if self.marked and act in BULK:
            self.console.begin_bulk(act, list(self.marked))
            return
        case_no = self.selected_case()
        if case_no is None:
            self.notify(self.t("cmd.no_case"), severity="warning")
            return
        self.console.begin_action(act, case_no)

    def clear_marks(self) -> None:
        self.marked.clear()
        self.reload()
