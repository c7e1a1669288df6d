"""One finding: its sentence, the audit rows it rests on, its 督办 item's steps, and
the keys to take the next step (each asks for a reason; the engine decides)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static

from cli.safe_text import plain, safe
from domain.roles import Role
from domain.supervision_items import StepRecord
from domain.timezone import CST
from tui.polling import polled
from tui.screens.base import ConsoleScreen
from tui.screens.supervision_dialogs import StepDialog, department_label, rule_label
from tui.supervision_data import FindingDetail, detail
from tui.widgets.footer import FittingFooter
from tui.widgets.safe_table import SafeDataTable
from tui.widgets.status import StatusBar

#: Steps only a supervisor takes (the item's workflow says the same, and checks it).
SUPERVISOR_STEPS = ("send", "escalate", "close")


class FindingScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "bind.back"),
        Binding("o", "open_case", "sup.open_case"),
        Binding("s", "step('send')", "sup.step.send"),
        Binding("r", "step('respond')", "sup.step.respond"),
        Binding("e", "step('escalate')", "sup.step.escalate"),
        Binding("c", "step('close')", "sup.step.close"),
        Binding("ctrl+r", "refresh", "bind.refresh", show=False),
    ]

    def __init__(self, finding_id: int) -> None:
        super().__init__()
        self.finding_id = finding_id
        self.detail: FindingDetail | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar("screen.finding", id="status")
        with VerticalScroll(id="finding-body"):
            yield Static(self.t("sup.loading", id=self.finding_id), id="finding-header")
            yield Label(self.t("sup.evidence"), classes="section", id="evidence-title")
            yield SafeDataTable(id="evidence", cursor_type="row")
            yield Label(self.t("sup.steps"), classes="section")
            yield SafeDataTable(id="steps", cursor_type="row")
        yield FittingFooter()

    def on_mount(self) -> None:
        for table_id, keys in {
            "evidence": ("id", "at", "kind", "seq", "actor", "summary"),
            "steps": ("at", "step", "status", "actor", "reason"),
        }.items():
            table = self.query_one(f"#{table_id}", DataTable)
            for key in keys:
                table.add_column(self.t(f"sup.col.{table_id}.{key}"), key=key)
        self.reload()
        if self.console.refresh_seconds:
            self.set_interval(
                self.console.refresh_seconds * 2,
                polled(self, self.reload, self.console.refresh_seconds * 2),
            )

    def reload(self) -> None:
        self.fetch()

    def action_refresh(self) -> None:
        self.reload()

    @work(exclusive=True, group="finding")
    async def fetch(self) -> None:
        console = self.console
        try:
            found = await asyncio.to_thread(detail, console.engine, console.actor, self.finding_id)
        except SQLAlchemyError as error:
            console.read_model_failed(error)
            return
        self.show(found)

    def show(self, found: FindingDetail | None) -> None:
        self.detail = found
        header = self.query_one("#finding-header", Static)
        if found is None:
            header.update(Text(self.t("sup.not_found", id=self.finding_id), style="bold red"))
            self.refresh_bindings()
            return
        f, c = found.finding, self.catalog
        text = Text()
        text.append(f"#{f.id} {rule_label(c, f.rule)}", style="bold")
        text.append(f"（{self.t('sup.severity.' + f.severity)}）\n")
        text.append(plain(f.sentence) + "\n")
        text.append(
            self.t(
                "sup.meta",
                case_no=f.case_no or "—",
                department=department_label(c, f.department),
                status=self.t(f"sup.status.{f.status}"),
            )
        )
        if f.respond_by:
            text.append(" · " + self.t("sup.due", due=f"{f.respond_by.astimezone(CST):%Y-%m-%d}"))
        if f.response:
            text.append("\n" + self.t("sup.response", response=plain(f.response)))
        header.update(text)
        seqs = ", ".join(str(s) for s in found.event_seqs) or "—"
        self.query_one("#evidence-title", Label).update(self.t("sup.evidence_seqs", seqs=seqs))
        evidence = self.query_one("#evidence", DataTable)
        evidence.clear()
        for row in found.evidence:
            evidence.add_row(
                str(row.id),
                f"{row.at.astimezone(CST):%Y-%m-%d %H:%M}",
                row.kind,
                str(row.seq) if row.seq is not None else "",
                row.actor,
                row.summary,
            )
        steps = self.query_one("#steps", DataTable)
        steps.clear()
        for step in found.steps:
            steps.add_row(
                f"{step.at.astimezone(CST):%Y-%m-%d %H:%M}",
                self.t(f"sup.step.{step.step}"),
                self.t(f"sup.status.{step.status}"),
                f"{step.actor}（{c.role(step.role) if step.role else '—'}）",
                safe(step.reason),
            )
        self.refresh_bindings()

    # -------------------------------------------------------------- acting
    def may_take(self, step: str) -> bool:
        """Whether to offer the key: a supervisor sends, escalates and closes; the
        department's reviewer (the administrator, for a finding with no department)
        answers. Only hides keys: the item's workflow refuses anyone else."""
        actor = self.console.actor
        if step in SUPERVISOR_STEPS:
            return actor.role is Role.SUPERVISOR
        department = self.detail.finding.department if self.detail is not None else None
        if actor.role is Role.REVIEWER:
            return self.detail is None or department == actor.department
        if actor.role is Role.ADMINISTRATOR:
            return self.detail is None or department is None
        return False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step" and parameters:
            return self.may_take(str(parameters[0]))
        if action == "open_case" and (self.detail is None or not self.detail.finding.case_no):
            return None  # shown dimmed: a finding about no case (or not read yet)
        return True

    def action_step(self, step: str) -> None:
        """Ask for the reason and take ``step`` (also reachable without its key: the
        engine, not this screen, is what refuses a step)."""
        if self.detail is None:
            return
        self.app.push_screen(StepDialog(step, self.detail.finding), self._taken)

    def _taken(self, record: StepRecord | None) -> None:
        if record is None:
            return
        t = self.t
        self.notify(
            t(
                "sup.done",
                id=self.finding_id,
                step=t(f"sup.step.{record.step.value}"),
                status=t(f"sup.status.{record.status.value}"),
            ),
            markup=False,
        )
        from tui.screens.supervision import SupervisionScreen

        self.reload()
        for screen in self.app.screen_stack:
            if isinstance(screen, SupervisionScreen):
                screen.reload()

    def action_open_case(self) -> None:
        if self.detail is not None and self.detail.finding.case_no:
            self.console.open_case(self.detail.finding.case_no)

    def action_back(self) -> None:
        self.app.pop_screen()
