"""One case, read live from the workflow's Query."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static, TabbedContent, TabPane

from cli.safe_text import safe, styled
from domain.case import CaseState, CaseStatus, Clock, Event, Task
from domain.timezone import CST
from tui.clocks import capped_left, due_today, holder_line, late_line, nearest
from tui.data import Holding
from tui.late_causes import cause_line, statutory_line
from tui.permissions import KEYS, Act, applicable, may
from tui.polling import polled
from tui.screens.base import ConsoleScreen
from tui.supervision_data import CaseStep, case_steps
from tui.text import safe_lines
from tui.widgets.cells import days_left_cell, deadline_bar, warning_cell
from tui.widgets.footer import FittingFooter
from tui.widgets.safe_table import SafeDataTable
from tui.widgets.status import StatusBar

#: Capped widths in the task table, so a long task name cannot push the rest off.
TASK_WIDTHS = {"name": 12, "department": 12, "assignee": 8}


def _bindings() -> list[Binding]:
    return [Binding(KEYS[act], f"act('{act.value}')", f"act.{act.value}") for act in Act]


class CaseScreen(ConsoleScreen):
    """Header, tasks, stopped clocks and extensions, materials, licences, timeline."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "bind.back"),
        Binding("ctrl+r", "refresh", "bind.refresh", show=False),
        *_bindings(),
    ]

    def __init__(self, case_no: str) -> None:
        super().__init__()
        self.case_no = case_no
        self.state: CaseState | None = None
        #: The timeline's rows by key (what and why in full), for the line under it.
        self._timeline_rows: dict[str, tuple[str, ...]] = {}

    def compose(self) -> ComposeResult:
        t = self.t
        yield StatusBar("screen.case", id="status")
        yield Static(t("case.loading", case_no=self.case_no), id="case-header")
        with TabbedContent(id="case-tabs"):
            with TabPane(t("case.tab.tasks"), id="tab-tasks"):
                yield SafeDataTable(id="tasks", cursor_type="row", zebra_stripes=True)
            with TabPane(t("case.tab.clock"), id="tab-clock"), VerticalScroll():
                yield Label(t("case.suspensions"), classes="section")
                yield SafeDataTable(id="suspensions", cursor_type="row")
                yield Label(t("case.extensions"), classes="section")
                yield SafeDataTable(id="extensions", cursor_type="row")
            with TabPane(t("case.tab.materials"), id="tab-materials"), VerticalScroll():
                yield Static("", id="materials-note", classes="dim")
                yield SafeDataTable(id="materials", cursor_type="row")
                yield Static("", id="notice")
            with TabPane(t("case.tab.licences"), id="tab-licences"):
                yield SafeDataTable(id="licences", cursor_type="row")
            with TabPane(t("case.tab.timeline"), id="tab-timeline"):
                yield SafeDataTable(id="timeline", cursor_type="row", zebra_stripes=True)
                yield Static("", id="timeline-detail")
        yield FittingFooter()

    def on_mount(self) -> None:
        columns = {
            # What a coordinator chases with first, the bar last: at 80 columns the
            # due date, officer and urge count stay on screen.
            "tasks": (
                "task",
                "name",
                "department",
                "status",
                "left",
                "due",
                "assignee",
                "urged",
                "bar",
            ),
            "suspensions": ("kind", "task", "start", "end", "reason", "by"),
            "extensions": ("target", "days", "new_due", "reason", "by"),
            "materials": ("material", "key", "state", "source"),
            "licences": ("licence", "number", "department", "issued"),
            "timeline": ("seq", "when", "who", "what", "reason"),
        }
        for table_id, keys in columns.items():
            table = self.query_one(f"#{table_id}", DataTable)
            for key in keys:
                width = TASK_WIDTHS.get(key) if table_id == "tasks" else None
                table.add_column(self.t(f"case.col.{key}"), key=key, width=width)
        self.reload()
        if self.console.refresh_seconds:
            self.set_interval(
                self.console.refresh_seconds,
                polled(self, self.reload, self.console.refresh_seconds),
            )

    # ------------------------------------------------------------- loading
    #: The read model marks the case as changed around onechain (``readmodel.outside``).
    altered = False

    #: 督办 steps on the case's findings (from the audit trail), shown in the timeline.
    supervision: tuple[CaseStep, ...] = ()

    def _supervision(self) -> tuple[CaseStep, ...]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return tuple(case_steps(self.console.engine, self.case_no))
        except SQLAlchemyError:
            return ()

    def _altered(self) -> bool:
        from sqlalchemy.exc import SQLAlchemyError

        from readmodel.database import read_session
        from readmodel.queries import get_case

        try:
            with read_session(self.console.engine) as session:
                row = get_case(session, self.case_no)
        except SQLAlchemyError:
            return False
        return row is not None and row.status == "altered"

    def reload(self) -> None:
        self.fetch()

    @work(exclusive=True, group="case-state")
    async def fetch(self) -> None:
        desk = self.console.desk
        if desk is None:
            return
        # The read model's two looks and the workflow's Query at once, not one after
        # the other: opening a case waits for the slowest, not for their sum.
        altered, supervision, answer = await asyncio.gather(
            asyncio.to_thread(self._altered),
            asyncio.to_thread(self._supervision),
            desk.state(self.case_no),
            return_exceptions=True,
        )
        for failed in (altered, supervision):
            if isinstance(failed, BaseException):
                raise failed  # each handles the read model's errors itself: a bug, or cancelled
        self.altered = bool(altered)
        self.supervision = supervision  # type: ignore[assignment]
        try:
            if isinstance(answer, BaseException):
                raise answer
            state = answer
        except Exception as error:
            # Imported here, on a failure only: the facade brings the Temporal client,
            # which an answer that arrived does not need (a first open paid ~1 s).
            from client.facade import CaseError

            said = self.console.outage(error)
            if said is None and not isinstance(error, CaseError):
                raise
            if said is not None:  # keep what is shown; say why it is not fresh
                self._say_outage(said)
                return
            message = self.t("case.error", message=self.catalog.refused(error))
            if self.altered:
                message = f"{self.t('status.altered')}: {message}"
            self.query_one("#case-header", Static).update(styled(message, "bold red"))
            return
        self.console.connection_ok()
        self._outage_said = False
        if not self.is_attached:
            return  # closed (Esc) while the Query was on its way
        self.show(state)

    #: An outage was already said on this page (cleared by the next good read).
    _outage_said = False

    def _say_outage(self, said: str) -> None:
        """An outage while reading the case: over an empty page in the header, over a
        page already shown as a notification (what is shown stays, marked stale)."""
        if self.state is None:
            self.query_one("#case-header", Static).update(styled(said, "bold red"))
        elif not self._outage_said:  # once per outage, not at every refresh
            self.notify(said, severity="error", markup=False, timeout=10)
        self._outage_said = True

    def show(self, state: CaseState) -> None:
        self.state = state
        today = self.console.today()
        self.query_one("#case-header", Static).update(self._header(state, today))
        self._tasks(state, today)
        self._clock(state)
        self._materials(state)
        self._licences(state)
        self._timeline(state)
        self.refresh_bindings()

    # ------------------------------------------------------------ sections
    def _header(self, state: CaseState, today: date) -> Table | Group:
        c, t = self.catalog, self.t
        grid = Table.grid(padding=(0, 2), expand=True)

        def add_row(*cells: object) -> None:  # case data is text, never markup
            grid.add_row(*(safe(cell) for cell in cells))

        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(ratio=1)
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(ratio=1)
        status = Text(c.enum("status", state.status))
        if self.altered:  # changed around onechain: whatever the workflow says now
            status = Text(t("status.altered"), style="bold red")
        elif state.status is CaseStatus.RUNNING:
            status.append(" ")
            status.append_text(warning_cell(c, self._overall_warning(state)))
        acceptance = getattr(state, "acceptance", None)
        acceptance_text = (
            c.enum("acceptance", acceptance) if acceptance else t("acceptance.accepted")
        )
        add_row(t("case.case_no"), state.case_no, t("case.status"), status)
        add_row(
            t("case.chain"),
            f"{c.chain(state.chain)} v{state.chain_version}",
            t("case.stage"),
            c.step(state.chain, state.stage),
        )
        add_row(t("case.applicant"), state.applicant.name, t("case.id"), state.applicant.id_masked)
        accepted_on = getattr(state, "accepted_on", None)
        add_row(
            t("case.acceptance"),
            f"{acceptance_text} {accepted_on.isoformat() if accepted_on else ''}",
            t("case.due"),
            self._overall_due(state, today),
        )
        if state.status is CaseStatus.RUNNING:
            add_row("", "", t("case.next_due"), self._next_due(state, today))
        add_row(
            t("case.promised"),
            self._limit(state.promised),
            t("case.statutory"),
            self._limit(state.statutory),
        )
        if state.concluded_at is not None:
            add_row(
                t("case.outcome"),
                f"{state.concluded_at.astimezone(CST):%Y-%m-%d %H:%M}  {state.outcome_reason}",
                "",
                "",
            )
        if state.status is not CaseStatus.RUNNING:
            return grid
        # Full width under the grid: who holds the case now, and why it is late.
        holders = Text.assemble(
            styled(t("case.holders") + "：", "bold"), safe(self._holders(state))
        )
        if state.agent:  # 帮办代办: first, so a long list of holders cannot push it away
            holders = Text.assemble(
                styled(t("case.agent") + "：", "bold"), safe(state.agent), "    ", holders
            )
        lines = [holders]
        why = self._late(state, today)
        if why:
            lines.append(Text.assemble(styled(t("case.late") + "：", "bold red"), safe(why)))
            cause = cause_line(self.catalog, self.console.days, today, state)
            if cause:  # which steps and departments used the days
                lines.append(Text.assemble("  ", safe(cause)))
        statutory = statutory_line(self.catalog, self.console.days, today, state)
        if statutory:
            lines.append(styled(statutory, "bold white on dark_red"))
        return Group(grid, *lines)

    def _limit(self, clock) -> Text:
        text = Text(
            self.t(
                "case.limit",
                days=clock.limit_days + clock.extension_days,
                due=clock.due_on.isoformat(),
                provisional=self.t("provisional") if clock.provisional else "",
            )
        )
        if clock.provisional:
            text.stylize("yellow")
        if clock.stopped:
            text.append(self.t("case.stopped"), style="cyan")
        return text

    def _overall_warning(self, state: CaseState) -> str:
        levels = [self._clock_warning(state.promised)]
        levels += [self._clock_warning(t.clock) for t in state.open_tasks if t.clock]
        return "red" if "red" in levels else "yellow" if "yellow" in levels else "none"

    @staticmethod
    def _clock_warning(clock) -> str:
        if clock is None or not clock.running:
            return "none"
        return "red" if clock.overdue else "yellow" if clock.warned else "none"

    def _due_text(self, clock: Clock | None, today: date) -> Text:
        if clock is None:
            return Text("—")
        left = capped_left(self.console.days, today, clock)
        text = Text(
            clock.due_on.isoformat() + (self.t("provisional") if clock.provisional else "") + "  "
        )
        text.append_text(
            days_left_cell(
                self.catalog,
                left,
                self._clock_warning(clock),
                due_today=due_today(today, clock),
            )
        )
        if any(p.end is None for p in clock.pauses):
            text.append(self.t("stopped.mark"), style="cyan")
        return text

    def _overall_due(self, state: CaseState, today: date) -> Text:
        """整体到期: the case's own (promised) limit, not the next step's."""
        if state.status is not CaseStatus.RUNNING:
            return Text(state.promised.due_on.isoformat(), style="dim")
        return self._due_text(state.promised, today)

    def _next_due(self, state: CaseState, today: date) -> Text:
        """最近到期: the running limit due first, the same clock the list counts."""
        if state.status is not CaseStatus.RUNNING:
            return Text("—")
        return self._due_text(nearest(self._clocks(state)), today)

    @staticmethod
    def _clocks(state: CaseState) -> list[Clock | None]:
        return [state.promised, *(t.clock for t in state.open_tasks)]

    def _holdings(self, state: CaseState) -> list[Holding]:
        return [
            Holding(
                task_id=task.id,
                name=self.catalog.step(state.chain, task.name),
                departments=[p.department for p in task.parts if p.verdict is None]
                or list(task.departments),
                assignees=[p.assignee for p in task.parts if p.assignee],
                due_on=task.clock.due_on if task.clock else None,
                warning=self._clock_warning(task.clock),
                stopped=bool(task.clock and any(p.end is None for p in task.clock.pauses)),
                clock=task.clock,
            )
            for task in state.open_tasks
        ]

    def _holders(self, state: CaseState) -> str:
        return holder_line(self.catalog, self._holdings(state)) or self.t("dept.nobody")

    def _late(self, state: CaseState, today: date) -> str:
        if state.status is not CaseStatus.RUNNING:
            return ""
        return late_line(
            self.catalog, self.console.days, today, self._holdings(state), state.promised
        )

    def _tasks(self, state: CaseState, today: date) -> None:
        table = self.query_one("#tasks", DataTable)
        c = self.catalog
        keep = table.cursor_row
        table.clear()
        for task in state.tasks:
            table.add_row(*self._task_cells(task, today), key=task.id)
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1), animate=False)
        del c

    def _task_cells(self, task: Task, today: date) -> list[object]:
        c = self.catalog
        parts = []
        for part in task.parts:
            mark = {"approve": "✓", "reject": "✗"}.get(
                part.verdict.value if part.verdict else "", ""
            )
            parts.append(f"{c.department(part.department)}{mark}")
        assignees = "、".join(p.assignee for p in task.parts if p.assignee)
        status = Text(c.enum("task", task.outcome))
        if task.status.value == "returned":
            status.stylize("cyan")
        elif not task.is_open:
            status.stylize("dim")
        clock = task.clock
        due = left_cell = bar = ""
        if clock is not None:
            due = clock.due_on.isoformat() + (c.t("provisional.mark") if clock.provisional else "")
            warning = self._clock_warning(clock) if task.is_open else "none"
            if task.is_open:
                left = capped_left(self.console.days, today, clock)
                today_due = due_today(today, clock)
                left_cell = days_left_cell(c, left, warning, due_today=today_due)
                if any(p.end is None for p in clock.pauses):
                    left_cell.append(c.t("stopped.mark"), style="cyan")
                bar = deadline_bar(
                    left,
                    clock.limit_days + clock.extension_days,
                    warning,
                    due_today=c.t("left.today_bar") if today_due else None,
                )
        return [
            task.id,
            self.catalog.step(self.state.chain if self.state else "", task.name),
            "、".join(parts),
            status,
            left_cell,
            due,
            assignees,
            str(task.urge_count or ""),
            bar,
        ]

    def _clock(self, state: CaseState) -> None:
        c = self.catalog
        suspensions = self.query_one("#suspensions", DataTable)
        suspensions.clear()
        for s in state.suspensions:
            suspensions.add_row(
                c.enum("suspension", s.kind),
                s.task_id or self.t("case.whole"),
                s.start.isoformat(),
                s.end.isoformat() if s.end else Text(self.t("case.running"), style="cyan"),
                s.reason,
                s.started_by.name,
                key=s.id,
            )
        extensions = self.query_one("#extensions", DataTable)
        extensions.clear()
        for index, e in enumerate(state.extensions):
            extensions.add_row(
                self.t("case.whole") if e.target == "case" else e.target,
                str(e.days),
                e.new_due_on.isoformat(),
                e.reason,
                e.granted_by.name,
                key=str(index),
            )

    def _materials(self, state: CaseState) -> None:
        c, t = self.catalog, self.t
        table = self.query_one("#materials", DataTable)
        table.clear()
        recorded = getattr(state, "materials", None) or []
        note = self.query_one("#materials-note", Static)
        styles = {
            "received": "green",
            "e_licence": "cyan",
            "committed": "yellow",
            "missing": "bold red",
        }
        if recorded:
            note.update("")
            for m in recorded:
                value = getattr(m.state, "value", str(m.state))
                table.add_row(
                    m.name,
                    t("material.key") if m.key else t("material.optional"),
                    Text(c.enum("material", value), style=styles.get(value, "")),
                    m.source,
                    key=m.code,
                )
        else:
            note.update(t("case.materials_pending"))
            missing = {item for task in state.open_tasks for item in task.missing_items}
            try:
                import chains  # noqa: F401
                from workflows import registry

                declared = registry.get_chain(state.chain).materials
            except LookupError:
                declared = ()
            for m in declared:
                value = "missing" if m.name in missing else "unknown"
                table.add_row(
                    m.name,
                    t("material.key") if m.key else t("material.optional"),
                    Text(c.enum("material", value), style=styles.get(value, "dim")),
                    m.e_licence or "",
                    key=m.code,
                )
        lines: list[Text] = []
        notice = getattr(state, "notice", None)
        if notice is not None:
            lines.append(
                Text.assemble(styled(t("case.notice"), "bold"), "\n", safe_lines(notice.text))
            )
        returned = [task for task in state.open_tasks if task.missing_items]
        if returned:
            lines.append(styled(t("case.missing_items"), "bold"))
            for task in returned:
                lines.append(safe(f"{task.id} {task.name}：{'、'.join(task.missing_items)}"))
        self.query_one("#notice", Static).update(Text("\n").join(lines))

    def _licences(self, state: CaseState) -> None:
        table = self.query_one("#licences", DataTable)
        table.clear()
        for lic in state.licences:
            table.add_row(
                lic.name,
                lic.number,
                self.catalog.department(lic.department),
                lic.issued_on.isoformat(),
                key=lic.number,
            )

    def _summary(self, event: Event) -> str:
        """The event's summary as the engine wrote it, with a special procedure's kind
        (written as its code, e.g. ``expert_review``) in the console's words."""
        if not event.kind.startswith("special_"):
            return self.catalog.codes(event.summary)
        kind = event.data.get("kind")
        if kind is None and self.state is not None:
            suspension_id = event.data.get("suspension")
            found = next((s for s in self.state.suspensions if s.id == suspension_id), None)
            kind = found.kind.value if found is not None else None
        if not kind:
            return event.summary
        return event.summary.replace(f"（{kind}）", f"（{self.catalog.enum('suspension', kind)}）")

    def _timeline_detail(self) -> None:
        """Under the timeline: the highlighted row's 事项 and 理由 in full, wrapped (the
        table's 理由 column is cut to a few characters, or none at 80 columns)."""
        table = self.query_one("#timeline", DataTable)
        detail = self.query_one("#timeline-detail", Static)
        cells = None
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            cells = self._timeline_rows.get(str(key))
        if cells is None:
            detail.update("")
            return
        seq, when, who, what, reason = cells
        t = self.t
        lines = [Text.assemble(styled(f"{seq} {when} ", "bold"), safe(f"{who}：{what}"))]
        if reason:
            lines.append(Text.assemble(styled(t("case.col.reason") + "：", "bold"), safe(reason)))
        detail.update(Text("\n").join(lines))

    @on(DataTable.RowHighlighted, "#timeline")
    def _timeline_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._timeline_detail()

    def _timeline(self, state: CaseState) -> None:
        table = self.query_one("#timeline", DataTable)
        at_end = table.cursor_row >= table.row_count - 1
        keep = table.cursor_row
        table.clear()
        rows: list[tuple[datetime, tuple[str, ...], str]] = []
        for e in state.events:
            who = e.actor.name
            if e.actor.role.value != "system":
                who += f"（{self.catalog.role(e.actor.role)}）"
            cells = (str(e.seq), f"{e.at.astimezone(CST):%m-%d %H:%M}", who, self._summary(e),
                     e.reason)  # fmt: skip
            rows.append((e.at, cells, str(e.seq)))
        for step in self.supervision:  # 督办 on the case's findings, where they happened
            cells = ("督办", f"{step.at.astimezone(CST):%m-%d %H:%M}", step.actor, step.summary,
                     step.reason)  # fmt: skip
            rows.append((step.at, cells, f"dubian-{step.audit_id}"))
        self._timeline_rows = {}
        for _, cells, key in sorted(rows, key=lambda row: row[0]):
            table.add_row(*cells, key=key)
            self._timeline_rows[key] = cells
        if table.row_count:
            row = table.row_count - 1 if at_end else min(keep, table.row_count - 1)
            table.move_cursor(row=row, animate=False)
        self._timeline_detail()

    # -------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act" and parameters:
            act = Act(str(parameters[0]))
            if not may(self.console.actor, act):
                return False
            if self.state is not None and not applicable(self.console.actor, act, self.state):
                return None  # shown dimmed: allowed for the role, nothing to act on now
        return True

    def action_act(self, name: str) -> None:
        self.console.begin_action(Act(name), self.case_no, self.state)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.reload()
