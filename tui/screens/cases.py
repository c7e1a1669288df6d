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
from textual.widgets import DataTable, Input, Static

from cli.safe_text import safe
from tui.clocks import (
    holder_line,
    holder_short,
    is_stopped,
    late_line,
    row_due_today,
    row_left,
)
from tui.data import SORTS, CaseFilter, CaseListRow, Page, filter_choices, list_page
from tui.permissions import BULK, KEYS, Act, may
from tui.polling import polled
from tui.screens.base import ConsoleScreen
from tui.widgets.cells import days_left_cell, warning_cell
from tui.widgets.footer import FittingFooter
from tui.widgets.paged_table import PagedTable
from tui.widgets.status import StatusBar

#: A case changed around onechain (``readmodel.outside.ALTERED``; not imported here).
ALTERED = "altered"

#: Urgency first, so an 80-column terminal still shows what matters; wider ones show all.
COLUMNS = (
    "mark",
    "case_no",
    "warning",
    "left",
    "due",
    "holder",
    "chain",
    "stage",
    "applicant",
    "id",
)


#: Fixed widths (cells) of the columns that could grow without bound.
WIDTHS = {"holder": 18, "chain": 8, "stage": 10, "applicant": 16}
#: English names take more cells than their Chinese (8 cells cut "kindergarten" to
#: "kinderga", which read as a code).
WIDTHS_EN = {**WIDTHS, "chain": 16, "stage": 16}


def action_bindings() -> list[Binding]:
    return [Binding(KEYS[act], f"act('{act.value}')", f"act.{act.value}") for act in Act]


class CasesScreen(ConsoleScreen):
    """The case list: filters, search, paging, marks, and actions on the selected case."""

    HELP_EXTRA = (("enter", "bind.open"),)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "bind.search"),
        Binding("f", "filters", "bind.filter"),
        Binding("o", "problems", "bind.problems"),
        Binding("g", "mine", "bind.mine", show=False),
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
        #: Where the cursor goes when the next page arrives: ``keep`` (same case,
        #: a refresh), ``top`` (a new filter, search, sort or the next page) or
        #: ``bottom`` (the previous page, End).
        self.cursor_to = "keep"

    def compose(self) -> ComposeResult:
        yield StatusBar("screen.cases", id="status")
        yield Input(placeholder=self.t("cases.search"), id="search", classes="hidden")
        yield Static(self.t("cases.loading"), id="cases-summary")
        yield PagedTable(id="cases", cursor_type="row", zebra_stripes=True)
        yield Static("", id="case-detail")
        yield FittingFooter()

    def on_mount(self) -> None:
        table = self.query_one("#cases", DataTable)
        for column in COLUMNS:  # capped widths: one long cell must not push the rest off
            widths = WIDTHS_EN if self.catalog.lang == "en" else WIDTHS
            table.add_column(self.t(f"cases.col.{column}"), key=column, width=widths.get(column))
        table.focus()
        if self.console.pending_filter is not None:
            self.filter, self.console.pending_filter = self.console.pending_filter, None
        self.reload()
        if self.console.refresh_seconds:
            self.set_interval(
                self.console.refresh_seconds,
                polled(self, self.reload, self.console.refresh_seconds),
            )

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
        if not self.is_attached or not self.query("#cases"):
            return  # the screen went away meanwhile (a browser closed, a mode removed)
        self.apply_page(page)

    def apply_page(self, page: Page) -> None:
        """Show ``page`` with the cursor where ``cursor_to`` says: on the same case
        across a refresh (or, if it left the page, say so), else at the top/bottom."""
        self.page = page
        self.row_offset = page.offset
        table = self.query_one("#cases", DataTable)
        selected = self.selected_case()
        old_row = table.cursor_row
        intent, self.cursor_to = self.cursor_to, "keep"
        table.clear()
        today = self.console.today()
        for row in page.rows:
            table.add_row(*self._cells(row, today), key=row.case_no)
        if not table.row_count:
            self._summary()
            self._detail()
            return
        if intent == "top":
            table.move_cursor(row=0, animate=False)
        elif intent == "bottom":
            table.move_cursor(row=table.row_count - 1, animate=False)
        elif selected is not None and selected in {r.case_no for r in page.rows}:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        else:
            row = min(max(old_row, 0), table.row_count - 1)
            table.move_cursor(row=row, animate=False)
            if selected is not None:
                self.notify(
                    self.t("cases.cursor_gone", case_no=selected, row=page.offset + row + 1),
                    severity="warning",
                    markup=False,
                )
        self._summary()
        self._detail()

    def _cells(self, row: CaseListRow, today) -> list[object]:
        catalog = self.catalog
        running = row.status == "running"
        left = row_left(self.console.days, today, row)
        due = row.due_on.isoformat() if row.due_on else ""
        if due and row.provisional:
            due += self.t("provisional.mark")
        if running:
            level: Text = warning_cell(catalog, row.warning)
        elif row.status == ALTERED:
            level = Text(catalog.enum("status", row.status), style="bold red")
        else:
            level = Text(catalog.enum("status", row.status), style="dim")
        left_cell = days_left_cell(catalog, left, row.warning, due_today=row_due_today(today, row))
        if running and is_stopped(row):
            left_cell.append(self.t("stopped.mark"), style="cyan")
        return [
            Text("●", style="bold magenta") if row.case_no in self.marked else "",
            row.case_no,
            level,
            left_cell,
            due,
            (
                holder_short(catalog, row.holders)
                or ", ".join(catalog.department(d) for d in row.open_departments)
            )
            + (self.t("cases.agent_short", agent=row.agent) if row.agent else ""),
            catalog.chain_short(row.chain),
            catalog.step(row.chain, row.stage),
            row.applicant_name,
            row.applicant_id_masked,
        ]

    def selected_row(self) -> CaseListRow | None:
        case_no = self.selected_case()
        if case_no is None or self.page is None:
            return None
        return next((r for r in self.page.rows if r.case_no == case_no), None)

    def _detail(self) -> None:
        """Under the table: who holds the highlighted case, and why it is late."""
        row = self.selected_row()
        lines: list[str] = []
        if row is not None and row.status == "running":
            why = late_line(
                self.catalog,
                self.console.days,
                self.console.today(),
                row.holders,
                row.promised_clock,
            )
            if why:  # first: it is what the coordinator chases
                lines.append(self.t("cases.why", why=why))
            held = holder_line(self.catalog, row.holders)
            lines.append(self.t("cases.holders", holders=held) if held else self.t("cases.nobody"))
        if row is not None and row.agent:  # 帮办代办: who follows the case for the applicant
            lines.append(self.t("cases.agent", agent=row.agent))
        self.query_one("#case-detail", Static).update(Text("\n").join(safe(x) for x in lines))

    @on(DataTable.RowHighlighted, "#cases")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    @on(PagedTable.PageOn, "#cases")
    def _page_on(self, event: PagedTable.PageOn) -> None:
        page, table = self.page, self.query_one("#cases", DataTable)
        if page is None:
            return
        last_offset = max(0, (page.total - 1) // self.page_size * self.page_size)
        if event.step == "first":
            if page.offset == 0:
                table.move_cursor(row=0, animate=False)
            else:
                self._go(0, "top")
        elif event.step == "last":
            if page.offset == last_offset:
                table.move_cursor(row=max(table.row_count - 1, 0), animate=False)
            else:
                self._go(last_offset, "bottom")
        elif event.step == "next":
            if page.offset + self.page_size >= page.total:
                self.notify(self.t("cases.last"))
            else:
                self._go(page.offset + self.page_size, "top")
        elif event.step == "prev":
            if page.offset == 0:
                self.notify(self.t("cases.first"))
            else:
                self._go(max(0, page.offset - self.page_size), "bottom")

    def _go(self, offset: int, cursor_to: str) -> None:
        self.row_offset = offset
        self.cursor_to = cursor_to
        self.load_page(self.filter, offset)

    def _summary(self) -> None:
        flt, page, c = self.filter, self.page, self.catalog
        parts: list[str] = []
        if flt.chain:
            parts.append(f"{self.t('filter.chain')}={c.chain(flt.chain)}")
        if flt.status:
            parts.append(f"{self.t('filter.status')}={c.enum('status', flt.status)}")
        if flt.stage:
            parts.append(f"{self.t('filter.stage')}={c.step(flt.chain or '', flt.stage)}")
        if flt.department:
            parts.append(f"{self.t('filter.department')}={c.department(flt.department)}")
        if flt.warning:
            parts.append(f"{self.t('filter.warning')}={c.enum('warning', flt.warning)}")
        if flt.problems_only:
            parts.append(self.t("cases.only_problems"))
        if flt.agent:
            parts.append(self.t("cases.mine"))
        if flt.search.strip():
            parts.append(f"“{flt.search.strip()}”")
        # What an Overview card opened (else the list said 全部案件 over a narrowed list).
        if flt.card:
            parts.append(self.t(f"overview.{flt.card}"))
        if flt.accepted_on:
            parts.append(f"{self.t('filter.accepted_on')}={flt.accepted_on.isoformat()}")
        if flt.concluded_on:
            parts.append(f"{self.t('filter.concluded_on')}={flt.concluded_on.isoformat()}")
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
        """A new filter, search or sort: its first page, cursor on the top row."""
        self.filter = flt
        self.row_offset = 0
        self.cursor_to = "top"
        self.load_page(flt, 0)

    # ------------------------------------------------------------ selection
    def selected_case(self) -> str | None:
        found = self.query("#cases").results(DataTable)
        table = next(found, None)  # gone while the session ends (bindings still asked)
        if table is None or not table.row_count:
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

    def action_mine(self) -> None:
        """「我代办的」: only the cases this person is the 代办员 of (again: all)."""
        mine = None if self.filter.agent else self.console.actor.user_id
        self.set_filter(replace(self.filter, agent=mine))

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
        self._go(offset, "top")

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
