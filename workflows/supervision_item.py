"""One 督办 item: a finding sent to its department, answered, closed or escalated.

A durable workflow per item (id ``dubian-<finding id>``, so a finding is never opened
twice) because an item lives for days and has a deadline of its own: the department
answers within a number of working days, or the engine escalates it. Who may take
which step is decided here, on the actor the worker verified from the session token
and action proof (``trust.workflow_interceptor``), not by the interface:

* send, close, escalate: a supervisor (督办人员);
* respond: a reviewer of the finding's department (an administrator for findings that
  name no department, e.g. changes made around onechain).

The workflow's start confers nothing (its input is only the finding id; the finding
itself is read by the worker from the findings table), so a start made around
onechain yields an item nobody sent, which ends on its own. Each step is written to
the read model and the audit trail by one activity before the Update answers, so the
trail and ``supervise show`` agree with what the caller was told.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.calendar import CalendarData, CalendarRequest, WorkCalendar
    from domain.roles import SYSTEM_ACTOR, Actor, Role
    from domain.supervision_items import (
        CloseItem,
        EscalateItem,
        FindingBrief,
        ItemAction,
        ItemState,
        ItemStatus,
        ItemStep,
        RecordItemStep,
        RespondItem,
        SendItem,
        StepRecord,
    )
    from domain.timezone import cst_date, end_of_day

#: An item nobody sends within this long was started around onechain (or by a caller
#: that died between start and send): it ends, and a later send starts it afresh.
UNSENT_LIFETIME = timedelta(days=1)
ACTIVITY_TIMEOUT = timedelta(seconds=30)


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(message, type="ActionRefused", non_retryable=True)


@workflow.defn(name="SupervisionItemWorkflow")
class SupervisionItemWorkflow:
    """The life of one 督办 item (see the module notes)."""

    @workflow.init
    def __init__(self, finding_id: int) -> None:
        self._finding_id = finding_id
        self._finding: FindingBrief | None = None
        self._status = ItemStatus.OPEN
        self._steps: list[StepRecord] = []
        self._respond_by: datetime | None = None
        self._sending = False
        self._recording = asyncio.Lock()

    @workflow.run
    async def run(self, finding_id: int) -> str:
        """Wait for the send, then for answers, the due day and the close."""
        try:
            await workflow.wait_condition(
                lambda: self._status is not ItemStatus.OPEN, timeout=UNSENT_LIFETIME
            )
        except TimeoutError:
            if not self._sending:
                # Failed, not completed: a later send may start the item afresh, while
                # a closed item's id stays taken (the client starts with
                # ALLOW_DUPLICATE_FAILED_ONLY).
                raise ApplicationError(
                    "督办事项未交办（started but never sent）", type="NotSent", non_retryable=True
                ) from None
            await workflow.wait_condition(lambda: self._status is not ItemStatus.OPEN)
        while self._status is not ItemStatus.CLOSED:
            if self._status is ItemStatus.SENT and self._respond_by is not None:
                left = self._respond_by - workflow.now()
                try:
                    await workflow.wait_condition(
                        lambda: self._status is not ItemStatus.SENT,
                        timeout=max(left, timedelta(seconds=1)),
                    )
                except TimeoutError:
                    await self._step(
                        ItemStep.OVERDUE,
                        ItemStatus.ESCALATED,
                        SYSTEM_ACTOR,
                        f"部门未在 {cst_date(self._respond_by)} 前反馈（no answer by the due day）",
                    )
            else:
                await workflow.wait_condition(self._status_changed_from(self._status))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "closed"

    def _status_changed_from(self, status: ItemStatus) -> Callable[[], bool]:
        return lambda: self._status is not status

    # ------------------------------------------------------------------ state
    @workflow.query
    def state(self) -> ItemState:
        if self._finding is None:
            raise ApplicationError("督办事项尚未交办（item not sent yet）", type="NotSent")
        return ItemState(
            finding=self._finding,
            status=self._status,
            steps=self._steps,
            respond_by=self._respond_by,
        )

    @property
    def finding(self) -> FindingBrief:
        assert self._finding is not None
        return self._finding

    async def _step(
        self,
        step: ItemStep,
        status: ItemStatus,
        actor: Actor,
        reason: str,
        *,
        respond_by: datetime | None = None,
        notify: list[str] | None = None,
    ) -> StepRecord:
        """Apply one step and write it to the read model and the audit trail, in order."""
        async with self._recording:
            record = StepRecord(
                no=len(self._steps) + 1,
                step=step,
                status=status,
                actor=actor,
                reason=reason,
                at=workflow.now(),
                respond_by=respond_by,
            )
            self._steps.append(record)
            self._status = status
            await workflow.execute_activity(
                "record_supervision_step",
                RecordItemStep(finding=self.finding, step=record, notify=notify or []),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )
        return record

    def _answerer_of(self, actor: Actor) -> bool:
        department = self.finding.department
        if department is None:
            return actor.role is Role.ADMINISTRATOR
        return actor.role is Role.REVIEWER and actor.department == department

    @staticmethod
    def _require_supervisor(actor: Actor, what: str) -> None:
        if actor.role is not Role.SUPERVISOR:
            raise _refuse(
                f"只有督办人员可以{what}（only a supervisor may; not {actor.role.value}）"
            )

    def _require_status(self, allowed: tuple[ItemStatus, ...], what: str) -> None:
        if self._status not in allowed:
            raise _refuse(f"督办事项当前为 {self._status.value}，不能{what}（not allowed now）")

    # ---------------------------------------------------------------- updates
    @workflow.update
    async def send(self, action: SendItem) -> StepRecord:
        if self._finding is not None or self._sending:
            raise _refuse("督办事项已交办（already sent）")
        self._sending = True
        try:
            finding = await workflow.execute_local_activity(
                "load_finding",
                self._finding_id,
                result_type=FindingBrief | None,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )
            if finding is None:
                raise _refuse(f"没有编号为 {self._finding_id} 的监察发现（no such finding）")
            year = cst_date(workflow.now()).year
            calendar = await workflow.execute_local_activity(
                "load_calendar",
                CalendarRequest(first_year=year, last_year=year + 1),
                result_type=CalendarData,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )
        finally:
            self._sending = False
        self._finding = finding
        due_day = WorkCalendar(calendar).add_working_days(
            cst_date(workflow.now()), action.respond_days
        )
        self._respond_by = end_of_day(due_day.due)
        recipients = [finding.department] if finding.department else ["administrator"]
        return await self._step(
            ItemStep.SEND,
            ItemStatus.SENT,
            action.actor,
            action.reason,
            respond_by=self._respond_by,
            notify=recipients,
        )

    @send.validator
    def _check_send(self, action: SendItem) -> None:
        self._require_supervisor(action.actor, "交办")
        if self._finding is not None or self._sending:
            raise _refuse("督办事项已交办（already sent）")

    @workflow.update
    async def respond(self, action: RespondItem) -> StepRecord:
        return await self._step(
            ItemStep.RESPOND, ItemStatus.RESPONDED, action.actor, action.reason,
            notify=["supervisor"],
        )  # fmt: skip

    @respond.validator
    def _check_respond(self, action: RespondItem) -> None:
        self._require_sent()
        if not self._answerer_of(action.actor):
            who = self.finding.department or "系统管理员（administrator）"
            raise _refuse(f"只有被督办部门可以反馈（only {who} may answer）")
        self._require_status((ItemStatus.SENT, ItemStatus.ESCALATED), "反馈")

    @workflow.update
    async def close(self, action: CloseItem) -> StepRecord:
        return await self._step(ItemStep.CLOSE, ItemStatus.CLOSED, action.actor, action.reason)

    @close.validator
    def _check_close(self, action: CloseItem) -> None:
        self._require_sent()
        self._require_supervisor(action.actor, "办结督办事项")
        self._require_status((ItemStatus.SENT, ItemStatus.RESPONDED, ItemStatus.ESCALATED), "办结")

    @workflow.update
    async def escalate(self, action: EscalateItem) -> StepRecord:
        return await self._step(
            ItemStep.ESCALATE, ItemStatus.ESCALATED, action.actor, action.reason,
            notify=["supervisor"],
        )  # fmt: skip

    @escalate.validator
    def _check_escalate(self, action: EscalateItem) -> None:
        self._require_sent()
        self._require_supervisor(action.actor, "升级督办事项")
        self._require_status((ItemStatus.SENT, ItemStatus.RESPONDED), "升级")

    def _require_sent(self) -> None:
        if self._finding is None:
            raise _refuse("督办事项尚未交办（not sent yet）")


#: What each step's Update is called (the client sends these by name).
UPDATE_OF: dict[type[ItemAction], str] = {
    SendItem: "send",
    RespondItem: "respond",
    CloseItem: "close",
    EscalateItem: "escalate",
}
