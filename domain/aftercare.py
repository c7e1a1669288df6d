"""Aftercare of a concluded case: publication (七天双公示), verification of
commitments (事中事后核查) and revocation, rating (好差评) and rectification.
Mixed into :class:`domain.casefile.CaseFile`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.actions import Rate, Rectify
from domain.case import CaseStatus, Event, Rating, Task, TaskKind, Verdict
from domain.materials import MaterialSpec, MaterialState
from domain.refusal import ActionRefused, Refusal, need_reason
from domain.roles import SYSTEM_ACTOR, Role
from domain.timezone import cst_date

if TYPE_CHECKING:
    from domain.casefile import CaseFile

PUBLICATION_DAYS = 7  # 七天双公示
RECTIFICATION_DAYS = 15


class AftercareRules:
    """What follows the decision."""

    def open_publication(
        self: CaseFile, departments: list[str], decision: str, now: datetime
    ) -> Task:
        """七天双公示: the decision must be published within 7 working days."""
        return self.open_task(
            kind=TaskKind.PUBLICATION,
            name=f"公示：{decision}",
            stage="公示",
            departments=departments or ["window"],
            days=PUBLICATION_DAYS,
            now=now,
        )

    def publication_done(self: CaseFile, task: Task, now: datetime) -> None:
        self._close_approved(task, SYSTEM_ACTOR, now)
        self.record("published", SYSTEM_ACTOR, f"{task.id} 已公示", now, task_id=task.id)

    def open_verifications(
        self: CaseFile, specs: list[MaterialSpec], days: int, now: datetime
    ) -> list[Task]:
        """事中事后核查 of every commitment that replaced a proof."""
        committed = {m.code for m in self.state.materials if m.state is MaterialState.COMMITTED}
        tasks = []
        for spec in specs:
            if spec.code in committed:
                tasks.append(
                    self.open_task(
                        kind=TaskKind.VERIFICATION,
                        name=f"核查承诺：{spec.name}",
                        stage="事中事后核查",
                        departments=[spec.verifier or "window"],
                        days=days,
                        now=now,
                    )
                )
        return tasks

    def revoke(self: CaseFile, task: Task, now: datetime) -> Event:
        """A failed verification: the licences are revoked and the case says why."""
        reason = "; ".join(p.comment for p in task.parts if p.verdict is Verdict.REJECT)
        for licence in self.state.licences:
            licence.revoked = True
            licence.revoked_reason = reason
        self.state.status = CaseStatus.REVOKED
        self.state.outcome_reason = f"告知承诺核查不实：{reason}"
        event = self.record(
            "licences_revoked",
            SYSTEM_ACTOR,
            "撤销许可：" + "、".join(lic.number for lic in self.state.licences),
            now,
            reason=reason,
            task_id=task.id,
        )
        self.notify(
            event, [*task.departments, "supervisor"], f"{self.state.case_no} 核查不实，撤销许可"
        )
        return event

    def check_rate(self: CaseFile, action: Rate) -> None:
        self._role(action.actor, {Role.WINDOW_CLERK, Role.SYSTEM}, "rate")
        if self.state.status is CaseStatus.RUNNING:
            raise ActionRefused(Refusal.NOT_CONCLUDED_YET, case_no=self.state.case_no)
        if self.state.rating is not None:
            raise ActionRefused(
                Refusal.ALREADY_RATED, case_no=self.state.case_no, score=self.state.rating.score
            )

    def apply_rate(self: CaseFile, action: Rate, now: datetime) -> Event:
        self.state.rating = Rating(
            score=action.score, comment=action.comment, rated_by=action.actor, rated_at=now
        )
        event = self.record(
            "rated",
            action.actor,
            f"好差评：{action.score} 分",
            now,
            reason=action.comment,
            data={"score": action.score},
        )
        if action.score <= 2:
            task = self.open_task(
                kind=TaskKind.RECTIFICATION,
                name=f"差评整改（{action.score} 分）",
                stage="整改",
                departments=["window"],
                days=RECTIFICATION_DAYS,
                now=now,
            )
            self.notify(
                event,
                ["coordinator"],
                f"{self.state.case_no} 差评 {action.score} 分，需整改（{task.id}）",
            )
        return event

    def check_rectify(self: CaseFile, action: Rectify) -> None:
        self._role(action.actor, {Role.COORDINATOR}, "rectify")
        task = self._open_task(action.task_id)
        if task.kind is not TaskKind.RECTIFICATION:
            raise ActionRefused(Refusal.NOT_RECTIFICATION, task=task.id, task_name=task.name)
        need_reason(action.reason, "rectify")

    def apply_rectify(self: CaseFile, action: Rectify, now: datetime) -> Event:
        task = self._task(action.task_id)
        self._close_approved(task, action.actor, now, comment=action.reason)
        return self.record(
            "rectified",
            action.actor,
            f"{task.id} 整改完成",
            now,
            reason=action.reason,
            task_id=task.id,
        )

    def set_rating_window(self: CaseFile, days: int, now: datetime) -> None:
        self.state.rating_until = self.calendar.add_working_days(cst_date(now), days).due
