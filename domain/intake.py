"""Intake rules of a case (受理): the one set of materials, the one-time notice,
容缺受理, and the supplements that follow. Mixed into :class:`domain.casefile.CaseFile`."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from domain import deadlines
from domain.actions import SupplyMaterials
from domain.case import Clock, Event, TaskKind, TaskStatus
from domain.materials import (
    Acceptance,
    Commitment,
    ELicence,
    MaterialSpec,
    MaterialState,
    MissingNotice,
    assess_materials,
    decide_acceptance,
    notice_text,
)
from domain.refusal import ActionRefused, Refusal
from domain.roles import SYSTEM_ACTOR, Role
from domain.timezone import cst_date

if TYPE_CHECKING:
    from domain.casefile import CaseFile

NOTICE_DAYS = 5  # 行政许可法 art. 32: tell what is missing within 5 working days


class IntakeRules:
    """受理 and 补正 at the window."""

    def intake(
        self: CaseFile,
        specs: list[MaterialSpec],
        submitted: list[str],
        commitments: list[Commitment],
        licences: list[ELicence],
        *,
        allow_incomplete: bool,
        supplement_days: int,
        now: datetime,
    ) -> None:
        """The window's decision (受理) from the one set of materials.

        Everything missing is told at once (一次告知). A case with a key item missing
        is not accepted and its clocks stand still until the last key item arrives,
        unless the notice came more than 5 working days after receipt: then it counts
        as accepted on the day it was received (行政许可法 art. 32).
        """
        state = self.state
        received_on = cst_date(state.received_at)
        state.commitments = list(commitments)
        state.materials = assess_materials(specs, submitted, commitments, licences, received_on)
        state.acceptance = decide_acceptance(state.materials, allow_incomplete)
        for item in state.materials:
            if item.state is MaterialState.E_LICENCE:
                self.record(
                    "material_from_e_licence", SYSTEM_ACTOR, f"{item.name}：{item.source}", now
                )
        missing = state.missing_materials
        if missing:
            text = notice_text(state.case_no, missing)
            state.notice = MissingNotice(issued_at=now, items=missing, text=text)
            event = self.record(
                "missing_notice",
                SYSTEM_ACTOR,
                f"一次告知：缺 {len(missing)} 项（{'、'.join(m.name for m in missing)}）",
                now,
                data={"items": [m.code for m in missing]},
            )
            self.notify(event, ["window"], text)
        late_notice = (
            state.acceptance is Acceptance.AWAITING_MATERIALS
            and self.calendar.working_days_between(received_on, cst_date(now)) > NOTICE_DAYS
        )
        if late_notice:
            state.acceptance = Acceptance.ACCEPTED
            self.record(
                "accepted_by_law",
                SYSTEM_ACTOR,
                f"收到申请后 {NOTICE_DAYS} 个工作日内未告知补正，自收到之日（{received_on.isoformat()}）起即为受理",
                now,
            )
        if state.acceptance is Acceptance.AWAITING_MATERIALS:
            state.accepted_on = None
            for clock in (state.promised, state.statutory):
                deadlines.pause(clock, received_on)
                deadlines.recompute(clock, self.calendar, cst_date(now))
            state.stage = "待补正"
        if missing:
            days = supplement_days if state.acceptance is Acceptance.INCOMPLETE else None
            self.open_task(
                kind=TaskKind.MATERIALS,
                name="补齐材料",
                stage=state.stage,
                departments=["window"],
                days=days,
                now=now,
            )

    @property
    def accepted(self: CaseFile) -> bool:
        return self.state.acceptance is not Acceptance.AWAITING_MATERIALS

    def check_supply(self: CaseFile, action: SupplyMaterials) -> None:
        self._role(action.actor, {Role.WINDOW_CLERK}, "supply materials")
        self._running()
        missing = {m.code for m in self.state.missing_materials}
        never = [item for item in action.items if item not in missing]
        if never:
            listed = ", ".join(sorted(missing)) or "nothing"
            raise ActionRefused(
                Refusal.MATERIALS_NOT_MISSING,
                f"not missing: {', '.join(never)} (missing: {listed})",
                items=never,
                missing=sorted(missing),
            )

    def apply_supply(self: CaseFile, action: SupplyMaterials, now: datetime) -> Event:
        state = self.state
        today = cst_date(now)
        # 补正 completes an application not yet accepted; under 容缺受理 the case was
        # accepted and the applicant brings what was allowed to follow (补齐容缺材料).
        deferred = state.acceptance is Acceptance.INCOMPLETE
        names = []
        for item in state.materials:
            if item.code in action.items:
                item.state = MaterialState.RECEIVED
                item.source = "容缺后补" if deferred else "补正提交"
                item.received_on = today
                names.append(item.name)
        event = self.record(
            "materials_supplied",
            action.actor,
            f"{'补齐容缺材料' if deferred else '收到补正材料'}：{'、'.join(names)}",
            now,
            reason=action.reason,
            data={"items": action.items},
        )
        if state.acceptance is Acceptance.AWAITING_MATERIALS and not any(
            m.key for m in state.missing_materials
        ):
            state.acceptance = (
                Acceptance.INCOMPLETE if state.missing_materials else Acceptance.ACCEPTED
            )
            self._start_clocks(today, now)
            self.record("accepted", action.actor, f"关键材料已齐，{today.isoformat()} 受理", now)
        if not state.missing_materials:
            for task in state.open_tasks:
                if task.kind is TaskKind.MATERIALS:
                    self._finish_task(task, TaskStatus.APPROVED, now)
        return event

    def _start_clocks(self: CaseFile, accepted_on: date, now: datetime) -> None:
        """Acceptance on the day the last key item arrived: the limits count from here."""
        state = self.state
        state.accepted_on = accepted_on
        for name in ("promised", "statutory"):
            old: Clock = getattr(state, name)
            # Same limit and extension bound; only the start moves and the wait ends.
            clock = old.model_copy(
                update={"started_on": accepted_on, "pauses": [], "warned": False, "overdue": False}
            )
            deadlines.recompute(clock, self.calendar, cst_date(now))
            setattr(state, name, clock)
