"""Urge or reassign several marked cases at once, with a result per case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from cli.safe_text import safe
from domain.actions import Reassign, Urge
from domain.departments import DEPARTMENTS
from tui.permissions import Act, tasks_for, waits_on_applicant
from tui.screens.base import ConsoleModal
from tui.widgets.safe_table import SafeDataTable


@dataclass(frozen=True)
class BulkRequest:
    act: Act
    case_numbers: list[str]
    reason: str = ""
    from_department: str | None = None
    to_department: str | None = None
    to_assignee: str | None = None


@dataclass(frozen=True)
class BulkResult:
    case_no: str
    ok: bool
    message: str


class BulkForm(ConsoleModal):
    """What to send to every marked case."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "form.cancel")]

    def __init__(self, act: Act, case_numbers: list[str]) -> None:
        super().__init__()
        self.act = act
        self.case_numbers = case_numbers

    def compose(self) -> ComposeResult:
        t = self.t
        departments = [(self.catalog.department(d), d) for d in DEPARTMENTS]
        with Vertical(classes="dialog", id="bulk-form"):
            yield Label(
                t(
                    "form.title",
                    action=t(f"act.bulk_{self.act}"),
                    case_no=t("bulk.marked", count=len(self.case_numbers)),
                ),
                classes="dialog-title",
            )
            yield Static(
                safe(
                    ", ".join(self.case_numbers[:12])
                    + (" …" if len(self.case_numbers) > 12 else "")
                ),
                classes="dim",
            )
            if self.act is Act.REASSIGN:
                yield Label(t("form.from_department"))
                yield Select(departments, prompt=t("form.select"), id="from-department")
                yield Label(t("form.to_department"))
                yield Select(departments, prompt=t("form.select"), id="to-department")
                yield Label(t("form.to_assignee"))
                yield Input(id="to-assignee")
            yield Label(t("form.reason_required") if self.act is Act.REASSIGN else t("form.reason"))
            yield Input(id="reason")
            with Horizontal(classes="buttons"):
                yield Button(t("form.submit"), variant="primary", id="submit")
                yield Button(t("form.cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query("Select, Input").first().focus()

    def _select(self, widget_id: str) -> str | None:
        found = self.query(f"#{widget_id}")
        if not found:
            return None
        value: Any = found.first(Select).value
        return None if value is Select.NULL else str(value)

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def submit(self) -> None:
        assignee = self.query("#to-assignee")
        self.dismiss(
            BulkRequest(
                act=self.act,
                case_numbers=self.case_numbers,
                reason=self.query_one("#reason", Input).value.strip(),
                from_department=self._select("from-department"),
                to_department=self._select("to-department"),
                to_assignee=(assignee.first(Input).value.strip() or None) if assignee else None,
            )
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class BulkResultScreen(ConsoleModal):
    """Runs a bulk request case by case and lists each result as it comes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "close", "notice.close")]

    def __init__(self, request: BulkRequest) -> None:
        super().__init__()
        self.request = request
        self.results: list[BulkResult] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="bulk-results"):
            yield Label(
                self.t("bulk.title", action=self.t(f"act.bulk_{self.request.act}")),
                classes="dialog-title",
            )
            yield SafeDataTable(id="bulk-table", cursor_type="row")
            yield Static("", id="bulk-summary")
            with Horizontal(classes="buttons"):
                yield Button(self.t("notice.close"), id="close", variant="primary")

    def on_mount(self) -> None:
        table = self.query_one("#bulk-table", DataTable)
        table.add_column(self.t("cases.col.case_no"), key="case")
        table.add_column(self.t("cases.col.status"), key="ok")
        table.add_column(self.t("case.col.what"), key="message")
        self.run_all()

    @work(exclusive=True, group="bulk")
    async def run_all(self) -> None:
        for case_no in self.request.case_numbers:
            result = await self._one(case_no)
            self.results.append(result)
            status = (
                Text(self.t("bulk.ok"), style="green")
                if result.ok
                else Text(self.t("bulk.failed"), style="bold red")
            )
            self.query_one("#bulk-table", DataTable).add_row(
                case_no, status, result.message, key=case_no
            )
        ok = sum(r.ok for r in self.results)
        self.query_one("#bulk-summary", Static).update(
            self.t("bulk.summary", ok=ok, failed=len(self.results) - ok)
        )
        self.console.after_bulk(self.request, self.results)

    async def _one(self, case_no: str) -> BulkResult:
        from client.facade import CaseError

        desk = self.console.desk
        actor = self.console.actor
        request = self.request
        sent = False
        try:
            if desk is None:
                raise ConnectionError(self.t("conn.lost_short"))
            state = await desk.state(case_no, events=False)
            tasks = tasks_for(actor, request.act, state)
            messages: list[str] = []
            waiting = [t for t in tasks if waits_on_applicant(t)]
            for task in tasks:
                if request.act is Act.URGE:
                    if task in waiting:  # the applicant owes the materials, not the office
                        continue
                    action: Urge | Reassign = Urge(
                        actor=actor, task_id=task.id, reason=request.reason
                    )
                else:
                    part = task.part(request.from_department or "")
                    if part is None or part.verdict is not None:
                        continue
                    action = Reassign(
                        actor=actor,
                        task_id=task.id,
                        department=request.from_department,
                        to_department=request.to_department,
                        to_assignee=request.to_assignee,
                        reason=request.reason,
                    )
                sent = True
                messages.append((await desk.act(case_no, action)).message)
            if not messages:
                if request.act is Act.URGE and waiting:
                    return BulkResult(case_no, False, self.t("bulk.applicant"))
                return BulkResult(case_no, False, self.t("bulk.none"))
            return BulkResult(case_no, True, "；".join(messages))
        except Exception as error:
            said = self.console.outage(error, acting=sent)
            if said is not None:  # not a refusal: Temporal or its workers did not answer
                return BulkResult(case_no, False, said)
            if isinstance(error, CaseError):
                doing = self.t(f"act.{request.act}")
                return BulkResult(case_no, False, self.catalog.refused(error, doing=doing))
            if hasattr(error, "errors"):
                return BulkResult(case_no, False, self.t("form.invalid", message=str(error)))
            raise

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(self.results)
