"""The rules of one case: who may do what, and what each action changes.

:class:`CaseFile` holds a :class:`CaseState` and applies actions to it. It is
pure (time comes in as an argument), so the workflow stays a thin Temporal shell
and the rules can be read and tested without a server. Each ``check_*`` raises
:class:`ActionRefused` with a message for the user and changes nothing; the
matching ``apply_*`` assumes the check passed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain import deadlines
from domain.actions import (
    AssignAgent,
    Decide,
    DecideOnBehalf,
    EndSpecialProcedure,
    Extend,
    Reassign,
    RecordSupplement,
    ReportApplicantEvent,
    StartSpecialProcedure,
    Urge,
    Withdraw,
)
from domain.aftercare import AftercareRules
from domain.calendar import CalendarData, shared_work_calendar
from domain.case import (
    CaseState,
    CaseStatus,
    Clock,
    DepartmentPart,
    Event,
    Extension,
    Suspension,
    SuspensionKind,
    Task,
    TaskKind,
    TaskStatus,
    Verdict,
    WarningLevel,
)
from domain.departments import DEPARTMENTS, department_name
from domain.intake import IntakeRules
from domain.materials import (
    MaterialState,
)
from domain.projection import CaseRow, EventRow, Notification, ProjectionBatch, TaskRow
from domain.refusal import ActionRefused, Refusal, need_reason
from domain.roles import SYSTEM_ACTOR, Actor, PermissionDenied, Role, require_role
from domain.timezone import cst_date, end_of_day

COORDINATING = {Role.COORDINATOR, Role.SUPERVISOR}


def agent_recipient(user_id: str) -> str:
    """A notification's recipient for a person (the 代办员), beside department codes
    and roles: ``agent:<user id>``."""
    return f"agent:{user_id}"


AFTERCARE_KINDS = frozenset({TaskKind.PUBLICATION, TaskKind.VERIFICATION, TaskKind.RECTIFICATION})
NOT_DECIDED_KINDS = frozenset(
    {TaskKind.APPLICANT_EVENT, TaskKind.MATERIALS, TaskKind.PUBLICATION, TaskKind.RECTIFICATION}
)
CASE_CLOCK_ONLY_KINDS = frozenset(
    {SuspensionKind.SITE_SURVEY, SuspensionKind.APPLICANT, SuspensionKind.OUTSIDE_LIMIT}
)
VERDICT_ZH = {Verdict.APPROVE: "同意", Verdict.REJECT: "不同意", Verdict.RETURN: "退回补正"}
CLOCK_EVENT_ZH = {deadlines.ClockEvent.WARNING: "预警", deadlines.ClockEvent.OVERDUE: "超期"}


class CaseFile(IntakeRules, AftercareRules):
    """A case's state plus the calendar snapshot its deadlines are computed with."""

    def __init__(self, state: CaseState, calendar: CalendarData, warning_fraction: float) -> None:
        self.state = state
        self.calendar = shared_work_calendar(calendar)
        self.calendar_data = self.calendar.data
        self.warning_fraction = warning_fraction
        self.pending_notifications: list[Notification] = []
        self.on_supplement_missed = "escalate"
        self.end_requested: str | None = None  # set when the rules end the case by themselves

    # ----------------------------------------------------------------- events
    def record(
        self,
        kind: str,
        actor: Actor,
        summary: str,
        at: datetime,
        *,
        reason: str = "",
        task_id: str | None = None,
        department: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Event:
        event = Event(
            seq=len(self.state.events) + 1,
            at=at,
            kind=kind,
            actor=actor,
            summary=summary,
            reason=reason,
            task_id=task_id,
            department=department,
            data=data or {},
        )
        self.state.events.append(event)
        return event

    def notify(self, event: Event, recipients: list[str], message: str) -> None:
        self.pending_notifications.append(
            Notification(
                case_no=self.state.case_no,
                seq=event.seq,
                kind=event.kind,
                recipients=sorted(set(recipients)),
                message=message,
                at=event.at,
            )
        )

    # ------------------------------------------------------------------ tasks
    def new_clock(
        self, started_on: Any, limit_days: int, department_count: int, now: datetime
    ) -> Clock:
        return deadlines.new_clock(
            self.calendar,
            started_on=started_on,
            limit_days=limit_days,
            department_count=department_count,
            warning_fraction=self.warning_fraction,
            today=cst_date(now),
        )

    def open_task(
        self,
        *,
        kind: TaskKind,
        name: str,
        stage: str,
        departments: list[str],
        days: int | None,
        now: datetime,
        awaits_event: str | None = None,
    ) -> Task:
        task = Task(
            id=f"T{len(self.state.tasks) + 1}",
            kind=kind,
            name=name,
            stage=stage,
            parts=[DepartmentPart(department=d) for d in departments],
            started_at=now,
            awaits_event=awaits_event,
        )
        if days is not None:
            task.clock = self.new_clock(cst_date(now), days, len(departments), now)
        self.state.tasks.append(task)
        if self.state.status is CaseStatus.RUNNING:
            self.state.stage = stage  # aftercare tasks leave a concluded case at 办结
        due = f"，期限 {task.clock.due_on.isoformat()}" if task.clock else ""
        event = self.record(
            "task_opened",
            SYSTEM_ACTOR,
            f"{task.id} {name}（{'、'.join(department_name(d) for d in departments)}）{due}",
            now,
            task_id=task.id,
            data={"kind": kind.value, "departments": departments},
        )
        # No notification for a new task: the department's work queue (the read
        # model's open tasks) is where it shows up; messages are kept for what needs
        # attention (warnings, overdue, urges, returns), so a case costs fewer activities.
        del event
        return task

    def _finish_task(self, task: Task, status: TaskStatus, now: datetime) -> None:
        """Conclude a task; a special procedure still running on it ends with it, so a
        decided task can never leave the case's clock stopped."""
        self._end_task_suspensions(task, now)
        task.status = status
        task.concluded_at = now
        if task.clock is not None:
            task.clock.running = False

    def cancel_task(self, task: Task, now: datetime) -> None:
        if task.is_open:
            self._finish_task(task, TaskStatus.CANCELLED, now)
            self.record(
                "task_cancelled",
                SYSTEM_ACTOR,
                f"{task.id} {task.name} 已取消",
                now,
                task_id=task.id,
            )

    def _close_approved(self, task: Task, actor: Actor, now: datetime, comment: str = "") -> None:
        """Close a task nobody decides part by part (an applicant's event, a
        publication, a rectification) as done, by ``actor``."""
        for part in task.parts:
            part.verdict = Verdict.APPROVE
            part.comment = comment
            part.decided_by = actor
            part.decided_at = now
        self._finish_task(task, TaskStatus.APPROVED, now)

    def _conclude_if_decided(self, task: Task, now: datetime) -> None:
        if any(p.verdict is None for p in task.parts):
            return
        rejected = any(p.verdict is Verdict.REJECT for p in task.parts)
        self._finish_task(task, TaskStatus.REJECTED if rejected else TaskStatus.APPROVED, now)
        verdict = "不同意" if rejected else "同意"
        self.record(
            "task_concluded",
            SYSTEM_ACTOR,
            f"{task.id} {task.name} 办结：{verdict}",
            now,
            task_id=task.id,
        )

    # ------------------------------------------------------------ suspensions
    def _clocks_for(self, task: Task | None) -> list[Clock]:
        clocks = [self.state.promised, self.state.statutory]
        if task is not None and task.clock is not None:
            clocks.append(task.clock)
        return clocks

    def suspend(
        self,
        kind: SuspensionKind,
        reason: str,
        task: Task | None,
        actor: Actor,
        now: datetime,
        *,
        case_clock_only: bool = False,
    ) -> Suspension:
        """Stop the case's clocks (and the task's, unless ``case_clock_only``) from today."""
        today = cst_date(now)
        suspension = Suspension(
            id=f"S{len(self.state.suspensions) + 1}",
            kind=kind,
            reason=reason,
            task_id=task.id if task else None,
            start=today,
            started_by=actor,
        )
        self.state.suspensions.append(suspension)
        for clock in self._clocks_for(None if case_clock_only else task):
            deadlines.pause(clock, today)
            deadlines.recompute(clock, self.calendar, today)
        return suspension

    def end_suspension(self, suspension: Suspension, actor: Actor, now: datetime) -> None:
        today = cst_date(now)
        suspension.end = today
        suspension.ended_by = actor
        task = self.state.task(suspension.task_id) if suspension.task_id else None
        for clock in self._clocks_for(task):
            deadlines.resume(clock, today)
            deadlines.recompute(clock, self.calendar, today)

    def _end_task_suspensions(self, task: Task, now: datetime) -> None:
        for suspension in self.state.suspensions:
            if suspension.task_id == task.id and suspension.end is None:
                self.end_suspension(suspension, SYSTEM_ACTOR, now)

    def open_suspension(self, suspension_id: str) -> Suspension | None:
        return next(
            (s for s in self.state.suspensions if s.id == suspension_id and s.end is None), None
        )

    # ------------------------------------------------------------ validation
    def _running(self, task_id: str | None = None) -> None:
        """The case must be running, except for actions on its aftercare tasks
        (publication, verification, rectification), which follow the conclusion."""
        if self.state.status is CaseStatus.RUNNING:
            return
        task = self.state.task(task_id) if task_id else None
        if task is not None and task.kind in AFTERCARE_KINDS and task.is_open:
            return
        raise ActionRefused(
            Refusal.CASE_NOT_RUNNING,
            case_no=self.state.case_no,
            status=self.state.status.value,
        )

    def _task(self, task_id: str) -> Task:
        task = self.state.task(task_id)
        if task is None:
            raise ActionRefused(
                Refusal.UNKNOWN_TASK,
                task=task_id,
                case_no=self.state.case_no,
                tasks=[t.id for t in self.state.tasks],
            )
        return task

    def _open_task(self, task_id: str) -> Task:
        task = self._task(task_id)
        if not task.is_open:
            raise ActionRefused(
                Refusal.TASK_NOT_OPEN, task=task_id, task_name=task.name, status=task.status.value
            )
        return task

    def _part(self, task: Task, department: str | None) -> DepartmentPart:
        if department is None:
            undecided = [p for p in task.parts if p.verdict is None]
            if len(task.parts) == 1:
                return task.parts[0]
            if len(undecided) == 1:
                return undecided[0]
            raise ActionRefused(
                Refusal.DEPARTMENT_NEEDED,
                task=task.id,
                task_name=task.name,
                departments=list(task.departments),
            )
        part = task.part(department)
        if part is None:
            raise ActionRefused(
                Refusal.DEPARTMENT_NOT_IN_TASK,
                department=department,
                task=task.id,
                task_name=task.name,
                departments=list(task.departments),
            )
        return part

    @staticmethod
    def _role(actor: Actor, allowed: set[Role], action: str) -> None:
        try:
            require_role(actor, allowed, action)
        except PermissionDenied as denied:
            raise ActionRefused(
                Refusal.ROLE_NOT_ALLOWED,
                str(denied),
                action=action,
                role=actor.role.value,
                allowed=sorted(r.value for r in allowed),
            ) from None

    def _check_verdict(self, action: Decide, department: str | None, label: str) -> None:
        self._running(action.task_id)
        task = self._open_task(action.task_id)
        if task.kind in NOT_DECIDED_KINDS:
            raise ActionRefused(
                Refusal.NOT_DECIDED_BY_DEPARTMENT, task=task.id, task_name=task.name
            )
        if task.kind is TaskKind.VERIFICATION and action.verdict is Verdict.RETURN:
            raise ActionRefused(Refusal.VERIFICATION_NO_RETURN, task=task.id, task_name=task.name)
        if task.status is TaskStatus.RETURNED:
            raise ActionRefused(
                Refusal.TASK_AWAITS_SUPPLEMENT,
                task=task.id,
                task_name=task.name,
                items=list(task.missing_items),
            )
        part = self._part(task, department)
        if part.verdict is not None:
            raise ActionRefused(
                Refusal.ALREADY_DECIDED,
                department=part.department,
                task=task.id,
                task_name=task.name,
                verdict=part.verdict.value,
            )
        if action.verdict is not Verdict.APPROVE:
            need_reason(action.reason, label)
        if action.verdict is Verdict.RETURN:
            self._never_ask_twice(action.missing_items)

    def _never_ask_twice(self, items: list[str]) -> None:
        """A material received at the window (or held as an e-licence) is never asked
        for again, by any department (数据跑路代替群众跑腿)."""
        for item in items:
            held = next(
                (
                    m
                    for m in self.state.materials
                    if item in (m.code, m.name) and m.state is not MaterialState.MISSING
                ),
                None,
            )
            if held is not None:
                raise ActionRefused(
                    Refusal.MATERIAL_ALREADY_RECEIVED,
                    material=held.name,
                    source=held.source or held.state.value,
                )

    def check_decide(self, action: Decide) -> None:
        self._role(action.actor, {Role.REVIEWER}, "decide")
        department = action.department or action.actor.department
        if department != action.actor.department:
            raise ActionRefused(
                Refusal.OTHER_DEPARTMENT,
                actor_department=action.actor.department,
                department=department,
            )
        self._check_verdict(action, department, "decide")

    def check_decide_on_behalf(self, action: DecideOnBehalf) -> None:
        self._role(action.actor, {Role.SUPERVISOR}, "decide on behalf")
        if action.verdict is Verdict.RETURN:
            raise ActionRefused(Refusal.ON_BEHALF_NO_RETURN)
        need_reason(action.reason, "decide on behalf")
        self._check_verdict(action, action.department, "decide on behalf")

    def apply_decide(self, action: Decide, now: datetime, *, on_behalf: bool = False) -> Event:
        task = self._task(action.task_id)
        department = action.department or action.actor.department
        part = self._part(task, department)
        label = "代为" if on_behalf else ""
        if action.verdict is Verdict.RETURN:
            task.status = TaskStatus.RETURNED
            task.missing_items = list(dict.fromkeys(action.missing_items))
            self.suspend(SuspensionKind.SUPPLEMENT, action.reason, task, action.actor, now)
            event = self.record(
                "returned",
                action.actor,
                f"{task.id} 退回补正：{'、'.join(task.missing_items)}",
                now,
                reason=action.reason,
                task_id=task.id,
                department=part.department,
                data={"missing_items": task.missing_items},
            )
            self.notify(
                event, ["window"], f"{self.state.case_no} 需补正：{'、'.join(task.missing_items)}"
            )
            return event
        part.verdict = action.verdict
        part.comment = action.reason
        part.decided_by = action.actor
        part.decided_at = now
        part.on_behalf = on_behalf
        event = self.record(
            "decided_on_behalf" if on_behalf else "decided",
            action.actor,
            f"{task.id} {department_name(part.department)}{label}{VERDICT_ZH[action.verdict]}",
            now,
            reason=action.reason,
            task_id=task.id,
            department=part.department,
            data={"verdict": action.verdict.value},
        )
        self._conclude_if_decided(task, now)
        return event

    def check_extend(self, action: Extend) -> None:
        self._role(action.actor, COORDINATING, "extend")
        self._running(action.task_id)
        need_reason(action.reason, "extend")
        if action.task_id is None:
            clock = self.state.promised
            target = "case"
        else:
            task = self._open_task(action.task_id)
            if task.clock is None:
                raise ActionRefused(Refusal.NO_TIME_LIMIT, task=task.id, task_name=task.name)
            clock = task.clock
            target = task.id
        if clock.extended:
            raise ActionRefused(Refusal.ALREADY_EXTENDED, target=target, days=clock.extension_days)
        if action.days > clock.max_extension_days:
            raise ActionRefused(
                Refusal.EXTENSION_TOO_LONG,
                target=target,
                max_days=clock.max_extension_days,
                days=action.days,
            )

    def apply_extend(self, action: Extend, now: datetime) -> Event:
        today = cst_date(now)
        if action.task_id is None:
            clocks = [self.state.promised, self.state.statutory]
            target = "case"
        else:
            task = self._task(action.task_id)
            assert task.clock is not None
            clocks = [task.clock]
            target = task.id
        for clock in clocks:
            clock.extension_days = action.days
            deadlines.recompute(clock, self.calendar, today)
        self.state.extensions.append(
            Extension(
                target=target,
                days=action.days,
                reason=action.reason,
                granted_by=action.actor,
                granted_on=today,
                new_due_on=clocks[0].due_on,
            )
        )
        return self.record(
            "extended",
            action.actor,
            f"{'案件' if target == 'case' else target} 延期 {action.days} 个工作日，新期限 {clocks[0].due_on.isoformat()}",
            now,
            reason=action.reason,
            task_id=action.task_id,
            data={"days": action.days, "due_on": clocks[0].due_on.isoformat()},
        )

    def check_reassign(self, action: Reassign) -> None:
        self._role(action.actor, COORDINATING, "reassign")
        self._running(action.task_id)
        need_reason(action.reason, "reassign")
        task = self._open_task(action.task_id)
        part = self._part(task, action.department)
        if part.verdict is not None:
            raise ActionRefused(
                Refusal.ALREADY_DECIDED,
                department=part.department,
                task=task.id,
                task_name=task.name,
                verdict=part.verdict.value,
            )
        if action.to_department is not None:
            if action.to_department not in DEPARTMENTS:
                raise ActionRefused(Refusal.UNKNOWN_DEPARTMENT, department=action.to_department)
            if task.part(action.to_department) is not None:
                raise ActionRefused(
                    Refusal.DEPARTMENT_ALREADY_IN_TASK,
                    department=action.to_department,
                    task=task.id,
                    task_name=task.name,
                )

    def apply_reassign(self, action: Reassign, now: datetime) -> Event:
        task = self._task(action.task_id)
        part = self._part(task, action.department)
        before = part.department
        if action.to_department:
            part.department = action.to_department
            part.assignee = None
        if action.to_assignee:
            part.assignee = action.to_assignee
        target = "、".join(x for x in (action.to_department, action.to_assignee) if x)
        event = self.record(
            "reassigned",
            action.actor,
            f"{task.id} 由 {department_name(before)} 转办至 {target}",
            now,
            reason=action.reason,
            task_id=task.id,
            department=part.department,
            data={
                "from": before,
                "to_department": action.to_department,
                "to_assignee": action.to_assignee,
            },
        )
        self.notify(event, [part.department], f"转办任务：{self.state.case_no} {task.name}")
        return event

    def check_urge(self, action: Urge) -> None:
        self._role(action.actor, COORDINATING, "urge")
        self._running(action.task_id)
        task = self._open_task(action.task_id)
        if action.department is not None:
            self._part(task, action.department)

    def apply_urge(self, action: Urge, now: datetime) -> Event:
        task = self._task(action.task_id)
        task.urge_count += 1
        targets = (
            [action.department]
            if action.department
            else [p.department for p in task.parts if p.verdict is None]
        )
        event = self.record(
            "urged",
            action.actor,
            f"{task.id} 催办 {'、'.join(department_name(d) for d in targets)}（第 {task.urge_count} 次）",
            now,
            reason=action.reason,
            task_id=task.id,
        )
        self.notify(
            event, targets, f"催办：{self.state.case_no} {task.name} {action.reason}".strip()
        )
        return event

    def check_start_special(self, action: StartSpecialProcedure) -> None:
        self._role(action.actor, COORDINATING | {Role.REVIEWER}, "start special procedure")
        self._running()
        need_reason(action.reason, "start special procedure")
        task = self._open_task(action.task_id)
        if action.actor.role is Role.REVIEWER and task.part(action.actor.department or "") is None:
            raise ActionRefused(
                Refusal.REVIEWER_NOT_IN_TASK,
                actor_department=action.actor.department,
                task=task.id,
                task_name=task.name,
            )
        if task.status is TaskStatus.RETURNED:
            raise ActionRefused(
                Refusal.TASK_STOPPED_FOR_SUPPLEMENT, task=task.id, task_name=task.name
            )
        if any(
            s.task_id == task.id and s.end is None and s.kind not in CASE_CLOCK_ONLY_KINDS
            for s in self.state.suspensions
        ):
            raise ActionRefused(Refusal.SPECIAL_ALREADY_RUNNING, task=task.id, task_name=task.name)

    def apply_start_special(self, action: StartSpecialProcedure, now: datetime) -> Event:
        task = self._task(action.task_id)
        suspension = self.suspend(action.kind, action.reason, task, action.actor, now)
        return self.record(
            "special_started",
            action.actor,
            f"{task.id} 特别程序开始（{action.kind.value}），计时暂停",
            now,
            reason=action.reason,
            task_id=task.id,
            data={"suspension": suspension.id, "kind": action.kind.value},
        )

    def check_end_special(self, action: EndSpecialProcedure) -> None:
        self._role(action.actor, COORDINATING | {Role.REVIEWER}, "end special procedure")
        self._running()
        suspension = self.open_suspension(action.suspension_id)
        if suspension is None:
            raise ActionRefused(Refusal.NO_SUCH_SPECIAL, suspension=action.suspension_id)
        if suspension.kind is SuspensionKind.SUPPLEMENT or suspension.kind in CASE_CLOCK_ONLY_KINDS:
            raise ActionRefused(Refusal.SPECIAL_ENDS_BY_APPLICANT, suspension=suspension.id)
        task = self.state.task(suspension.task_id) if suspension.task_id else None
        if action.actor.role is Role.REVIEWER and (
            task is None or task.part(action.actor.department or "") is None
        ):
            raise ActionRefused(
                Refusal.REVIEWER_NOT_IN_SPECIAL,
                actor_department=action.actor.department,
                suspension=suspension.id,
            )

    def apply_end_special(self, action: EndSpecialProcedure, now: datetime) -> Event:
        suspension = self.open_suspension(action.suspension_id)
        assert suspension is not None
        self.end_suspension(suspension, action.actor, now)
        return self.record(
            "special_ended",
            action.actor,
            f"{suspension.task_id or '案件'} 特别程序结束（{suspension.kind.value}），恢复计时",
            now,
            reason=action.reason,
            task_id=suspension.task_id,
            data={"suspension": suspension.id},
        )

    def check_supplement(self, action: RecordSupplement) -> None:
        self._role(action.actor, {Role.WINDOW_CLERK}, "record supplement")
        self._running()
        task = self._open_task(action.task_id)
        if task.status is not TaskStatus.RETURNED:
            raise ActionRefused(Refusal.TASK_NOT_RETURNED, task=task.id, task_name=task.name)
        never_asked = [item for item in action.items if item not in task.missing_items]
        if never_asked:
            raise ActionRefused(
                Refusal.ITEMS_NOT_MISSING_IN_TASK,
                task=task.id,
                task_name=task.name,
                items=never_asked,
                missing=list(task.missing_items),
            )

    def apply_supplement(self, action: RecordSupplement, now: datetime) -> Event:
        task = self._task(action.task_id)
        task.missing_items = [i for i in task.missing_items if i not in action.items]
        event = self.record(
            "supplemented",
            action.actor,
            f"{task.id} 收到补正材料：{'、'.join(action.items)}",
            now,
            reason=action.reason,
            task_id=task.id,
            data={"items": action.items, "still_missing": task.missing_items},
        )
        if not task.missing_items:
            task.status = TaskStatus.OPEN
            self._end_task_suspensions(task, now)
            self.notify(event, task.departments, f"补正材料已齐：{self.state.case_no} {task.name}")
        return event

    def check_assign_agent(self, action: AssignAgent) -> None:
        """帮办代办: the window or a coordinator names the case's 代办员 (whether the
        person exists is the worker's check, ``trust.workflow_interceptor``)."""
        self._role(action.actor, {Role.WINDOW_CLERK, Role.COORDINATOR}, "assign agent")
        self._running()
        if self.state.agent == action.agent:
            raise ActionRefused(
                Refusal.ALREADY_AGENT,
                f"{action.agent} is already the agent of case {self.state.case_no}",
                agent=action.agent,
                case_no=self.state.case_no,
            )

    def apply_assign_agent(self, action: AssignAgent, now: datetime) -> Event:
        return self.set_agent(action.agent, action.actor, now, reason=action.reason)

    def set_agent(self, agent: str, actor: Actor, now: datetime, *, reason: str = "") -> Event:
        """Name ``agent`` the case's 代办员 and tell them (one event, in the audit log)."""
        before = self.state.agent
        self.state.agent = agent
        summary = f"代办员：{agent}" + (f"（原 {before}）" if before else "")
        event = self.record(
            "agent_assigned",
            actor,
            summary,
            now,
            reason=reason,
            data={"agent": agent, **({"before": before} if before else {})},
        )
        self.notify(event, [agent_recipient(agent)], f"{self.state.case_no} 由您代办")
        return event

    def check_withdraw(self, action: Withdraw) -> None:
        self._role(action.actor, {Role.WINDOW_CLERK, Role.COORDINATOR}, "withdraw")
        self._running()
        need_reason(action.reason, "withdraw")

    def check_applicant_event(self, action: ReportApplicantEvent) -> None:
        self._role(action.actor, {Role.WINDOW_CLERK}, "report applicant event")
        self._running()
        waiting = [t for t in self.state.open_tasks if t.awaits_event == action.event]
        if not waiting:
            expected = [t.awaits_event for t in self.state.open_tasks if t.awaits_event]
            raise ActionRefused(
                Refusal.NOT_WAITING_FOR_EVENT,
                f"the case is not waiting for {action.event!r}"
                + (f" (waiting for: {', '.join(expected)})" if expected else ""),
                event=action.event,
                waiting=expected,
            )

    def apply_applicant_event(self, action: ReportApplicantEvent, now: datetime) -> Event:
        task = next(t for t in self.state.open_tasks if t.awaits_event == action.event)
        self._close_approved(task, action.actor, now)
        return self.record(
            "applicant_event",
            action.actor,
            f"{task.id} 申请人告知：{task.name}",
            now,
            reason=action.reason,
            task_id=task.id,
            data={"event": action.event},
        )

    # ------------------------------------------------------------- conclusion
    def conclude(self, status: CaseStatus, reason: str, actor: Actor, now: datetime) -> Event:
        for task in self.state.tasks:
            self.cancel_task(task, now)
        for suspension in self.state.suspensions:
            if suspension.end is None:
                self.end_suspension(suspension, SYSTEM_ACTOR, now)
        self.state.status = status
        self.state.outcome_reason = reason
        self.state.concluded_at = now
        self.state.stage = "办结" if status is not CaseStatus.WITHDRAWN else "撤回"
        self.state.promised.running = False
        self.state.statutory.running = False
        labels = {
            CaseStatus.APPROVED: "办结：准予许可",
            CaseStatus.NOT_APPROVED: "办结：不予许可",
            CaseStatus.WITHDRAWN: "申请人撤回",
        }
        return self.record(
            "concluded", actor, labels[status], now, reason=reason, data={"status": status.value}
        )

    # ------------------------------------------------------------------ clock
    def watched_clocks(self) -> list[tuple[Task | None, Clock]]:
        """The clocks that fire cards: the case's promised limit and open tasks' limits."""
        clocks: list[tuple[Task | None, Clock]] = [(None, self.state.promised)]
        clocks += [(t, t.clock) for t in self.state.open_tasks if t.clock is not None]
        return clocks

    def next_clock_instant(self) -> datetime | None:
        instants = [i for _, c in self.watched_clocks() if (i := deadlines.next_instant(c))]
        return min(instants) if instants else None

    def fire_clocks(self, now: datetime) -> list[Event]:
        fired: list[Event] = []
        for task, clock in self.watched_clocks():
            for clock_event in deadlines.fire_due(clock, now):
                fired.append(self._record_clock_event(task, clock, clock_event, now))
        return fired

    def _record_clock_event(
        self, task: Task | None, clock: Clock, clock_event: deadlines.ClockEvent, now: datetime
    ) -> Event:
        label = CLOCK_EVENT_ZH[clock_event]
        if task is None:
            departments = self.state.open_departments
            subject = f"案件{label}（期限 {clock.due_on.isoformat()}）"
        else:
            departments = [p.department for p in task.parts if p.verdict is None]
            subject = f"{task.id} {task.name} {label}（期限 {clock.due_on.isoformat()}）"
        event = self.record(
            f"{'case' if task is None else 'task'}_{clock_event.value}",
            SYSTEM_ACTOR,
            subject,
            now,
            task_id=task.id if task else None,
            data={"due_on": clock.due_on.isoformat()},
        )
        recipients = list(departments)
        if self.state.agent:  # 帮办代办: the 代办员 hears of every warning on the case
            recipients.append(agent_recipient(self.state.agent))
        if task is None:
            recipients.append("coordinator")
        if clock_event is deadlines.ClockEvent.OVERDUE:
            recipients.append("supervisor")
        self.notify(event, recipients, f"{self.state.case_no} {subject}")
        missed_supplement = (
            task is not None
            and task.kind is TaskKind.MATERIALS
            and clock_event is deadlines.ClockEvent.OVERDUE
        )
        if missed_supplement and self.on_supplement_missed == "end":
            self.end_requested = "容缺受理材料逾期未补齐"
        return event

    def reload_calendar(self, calendar: CalendarData, now: datetime, revision: str = "") -> Event:
        """Take newly loaded schedules: the years in ``calendar`` replace the case's own,
        the other years are kept, and every running limit is recomputed. ``revision``:
        the store's revision ``calendar`` was read at ("" from older histories)."""
        self.state.calendar_revision = revision
        merged = CalendarData(years={**self.calendar_data.years, **calendar.years})
        self.calendar = shared_work_calendar(merged)
        self.calendar_data = self.calendar.data
        today = cst_date(now)
        clocks = [self.state.promised, self.state.statutory]
        clocks += [t.clock for t in self.state.open_tasks if t.clock is not None]
        for clock in clocks:
            if clock.running:
                deadlines.recompute(clock, self.calendar, today)
        return self.record(
            "calendar_reloaded",
            SYSTEM_ACTOR,
            f"节假日安排已更新，案件期限 {self.state.promised.due_on.isoformat()}"
            + ("（暂定）" if self.state.promised.provisional else ""),
            now,
        )

    # ------------------------------------------------------------- read model
    def task_warning(self, task: Task) -> WarningLevel:
        return deadlines.warning_level(task.clock) if task.is_open else WarningLevel.NONE

    def case_warning(self) -> WarningLevel:
        return deadlines.warning_level(self.state.promised)

    def overall_warning(self) -> WarningLevel:
        levels = [self.case_warning()] + [self.task_warning(t) for t in self.state.tasks]
        return deadlines.worst(levels)

    def next_due_on(self) -> date | None:
        """The nearest due day among the running limits (case and open tasks)."""
        if self.state.status is not CaseStatus.RUNNING:
            return None
        dues = [c.due_on for _, c in self.watched_clocks() if c.running]
        return min(dues) if dues else None

    def next_due(self) -> datetime | None:
        due = self.next_due_on()
        return end_of_day(due) if due else None

    def projection(self, after_seq: int, now: datetime) -> ProjectionBatch:
        state = self.state
        running = state.status is CaseStatus.RUNNING
        case_row = CaseRow(
            case_no=state.case_no,
            chain=state.chain,
            chain_version=state.chain_version,
            status=state.status.value,
            stage=state.stage,
            applicant_name=state.applicant.name,
            applicant_id_masked=state.applicant.id_masked,
            received_at=state.received_at,
            accepted_on=state.accepted_on,
            acceptance=state.acceptance.value,
            rating=state.rating.score if state.rating else None,
            due_on=state.promised.due_on,
            provisional=state.promised.provisional,
            statutory_due_on=state.statutory.due_on,
            warning=self.overall_warning().value if running else WarningLevel.NONE.value,
            case_warning=self.case_warning().value if running else WarningLevel.NONE.value,
            open_departments=state.open_departments,
            next_due_on=self.next_due_on(),
            updated_at=now,
            concluded_at=state.concluded_at,
            last_seq=len(state.events),
            promised_clock=state.promised.model_dump(mode="json"),
            calendar_revision=state.calendar_revision,
            agent=state.agent,
        )
        tasks = [
            TaskRow(
                case_no=state.case_no,
                task_id=t.id,
                kind=t.kind.value,
                name=t.name,
                stage=t.stage,
                departments=t.departments,
                open_departments=[p.department for p in t.parts if p.verdict is None]
                if t.is_open
                else [],
                assignees=[p.assignee for p in t.parts if p.assignee],
                status=t.status.value,
                started_at=t.started_at,
                concluded_at=t.concluded_at,
                due_on=t.clock.due_on if t.clock else None,
                provisional=t.clock.provisional if t.clock else False,
                warning=self.task_warning(t).value,
                stopped=bool(t.clock and deadlines.has_open_pause(t.clock)),
                extension_days=t.clock.extension_days if t.clock else 0,
                clock=t.clock.model_dump(mode="json") if t.clock else None,
            )
            for t in state.tasks
        ]
        events = [
            EventRow(
                case_no=state.case_no,
                seq=e.seq,
                at=e.at,
                kind=e.kind,
                actor_id=e.actor.user_id,
                actor_name=e.actor.name,
                actor_role=e.actor.role.value,
                department=e.department,
                task_id=e.task_id,
                summary=e.summary,
                reason=e.reason,
            )
            for e in state.events[after_seq:]
        ]
        return ProjectionBatch(case=case_row, tasks=tasks, events=events)
