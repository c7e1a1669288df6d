"""The case workflow: one durable Temporal workflow per case.

It runs the chain's flow, keeps the statutory clock, accepts people's actions as
validated Updates and projects its state to the read model. The rules themselves
live in :mod:`domain.casefile`; this module only wires them to Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows import case_metrics

with workflow.unsafe.imports_passed_through():
    from domain import deadlines
    from domain.actions import (
        ActionResult,
        Admission,
        AdmissionResult,
        AdmitCase,
        AssignAgent,
        CalendarReload,
        Decide,
        DecideOnBehalf,
        EndSpecialProcedure,
        Extend,
        Rate,
        Reassign,
        RecordSupplement,
        Rectify,
        ReloadCalendarRequest,
        ReloadCalendarResult,
        ReportApplicantEvent,
        StartCase,
        StartSpecialProcedure,
        SupplyMaterials,
        Urge,
        Withdraw,
    )
    from domain.calendar import (
        SNAPSHOT_YEARS_AFTER,
        SNAPSHOT_YEARS_BEFORE,
        CalendarData,
        CalendarRequest,
        shared_work_calendar,
    )
    from domain.case import (
        ApplicantView,
        CaseOutcome,
        CaseState,
        CaseStatus,
        Licence,
        SuspensionKind,
        Task,
        TaskKind,
        TaskStatus,
        Verdict,
    )
    from domain.casefile import ActionRefused, CaseFile
    from domain.masking import mask_id_number, mask_phone
    from domain.materials import ACCEPTANCE_ZH
    from domain.projection import (
        DerivedRecords,
        ELicenceList,
        ELicenceQuery,
        IssueLicences,
        LicenceRecord,
        Notification,
        Notifications,
        ProjectionBatch,
        Publication,
        Reconciliation,
        Revocation,
    )
    from domain.refusal import Refusal
    from domain.roles import SYSTEM_ACTOR
    from domain.timezone import cst_date, end_of_day
    from trust.action_proof import received_digest
    from trust.credentials import credential_headers, proof_header
    from workflows import projection_feed, registry
    from workflows import search_attributes as sa
    from workflows.projection_memo import MemoWriter
    from workflows.steps import CaseContext, StepRejected

PROJECTION_TIMEOUT = timedelta(seconds=30)
#: Cases started from here on are admitted by the worker (verified acceptor; version,
#: limits and calendar from the worker's registry and store), not by the start input.
ADMISSION_PATCH = "admission-by-worker"
#: Calendar reloads load the schedules from the store after checking the sender.
CALENDAR_STORE_PATCH = "calendar-reload-from-store"
#: From here on a change is only a hint to the worker's projector, which reads the
#: committed state with the ``projection`` Query (no local activity per change), and
#: search attributes are upserted only when chain, status, stage or warning change.
PROJECTION_BY_QUERY_PATCH = "projection-by-query"
#: From here on the case also keeps its read-model rows in its memo, upserted with each
#: change (``workflows.projection_memo``): the projector and ``reconcile`` read them
#: from the server, without a Query that a worker answers by replaying the case.
PROJECTION_IN_MEMO_PATCH = "projection-in-memo"
#: From here on the notifications a case decides on at one moment go out in one
#: ``notify_all`` activity (at the turn of a working day a case warns about each open
#: task at once: one activity and one workflow task for its result, not four).
NOTIFY_TOGETHER_PATCH = "notify-together"
#: Cases started from here on have every patch above, recorded as this one marker, and
#: write their search attributes and memo once per workflow task, after everything the
#: task's activation changed (``_until_activation_settles``), not once per change; and
#: send the notifications of a fired deadline as a local activity (``_send_together``);
#: and keep new notifications in memo chunks of their own (``MemoWriter``).
#: Core follows each patch marker with a ``TemporalChangeVersion`` upsert (a history
#: event and a visibility write), and the server keeps a refused Update's workflow task
#: in history when more than 10 events follow the last completed one: five markers at
#: the start pushed a new case past that, so a refusal before its next workflow task
#: wrote three events. Older cases replay their own markers, patch by patch.
FEATURES_2026_12_PATCH = "features-2026-12"
#: From here on the e-licences are stored by a local activity, inside the workflow
#: task that approved the case (asked for when the case issues, not at its start, so a
#: case that is never approved records no marker). It is one short write to our own
#: database, idempotent by licence number: as an activity it cost an activity task and
#: a second workflow task for its result, about a tenth of an approved case's work.
#: The publication stays an activity: it goes to another office's system.
LICENCES_LOCAL_PATCH = "licences-local"
#: From here on 容缺受理 holds back only the licences a missing item is needed for
#: (``MaterialSpec.needed_for``), and the flow does not wait for them: ``case.issue``
#: issues what nothing holds at once and the held licences as their own items arrive
#: (``_issue_held``); the case concludes once every licence is issued. Asked only
#: when an issue finds materials missing, so other cases record no marker.
PER_LICENCE_HOLD_PATCH = "per-licence-hold"
FOLDED_PATCHES = frozenset(
    {
        ADMISSION_PATCH,
        CALENDAR_STORE_PATCH,
        PROJECTION_BY_QUERY_PATCH,
        PROJECTION_IN_MEMO_PATCH,
        NOTIFY_TOGETHER_PATCH,
    }
)
#: The search attributes whose change is worth a visibility write of its own.
COARSE_SEARCH_ATTRIBUTES = frozenset(
    {sa.CHAIN.name, sa.STATUS.name, sa.STAGE.name, sa.WARNING.name}
)
NOTIFY_TIMEOUT = timedelta(seconds=30)
NOTIFY_RETRY = RetryPolicy(maximum_attempts=20, maximum_interval=timedelta(minutes=5))
#: Storing or revoking a licence is one short database write, tried again after this
#: long if it has not finished (it stores each licence once by number, so a retry adds
#: nothing); it was 60 s, which held a case that long after a worker was killed. A
#: revocation is an activity: another worker retries it after this timeout. Storing is a
#: local activity (``LICENCES_LOCAL_PATCH``): if its worker dies, the workflow task times
#: out and the worker that takes the case over runs it again. Timeouts are not part of
#: replay: changing it is safe.
LICENCE_TIMEOUT = timedelta(seconds=10)


def _valid_to(issued_on: date, years: int | None) -> date | None:
    if years is None:
        return None
    try:
        return issued_on.replace(year=issued_on.year + years) - timedelta(days=1)
    except ValueError:  # 29 February
        return issued_on.replace(year=issued_on.year + years, day=28)


def _refuse(error: ActionRefused) -> ApplicationError:
    """The refusal as the client sees it: the English message, and the code with its
    parameters in the details for the interfaces to word (validators write no
    history, so what a refusal says may change without a patch)."""
    return ApplicationError(str(error), error.details(), type="ActionRefused", non_retryable=True)


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    """One case of one chain, from acceptance to conclusion."""

    @workflow.init
    def __init__(self, start: StartCase) -> None:
        self._start = start
        self._file: CaseFile | None = None
        self._projected_seq = 0
        self._projection_dirty = True
        self._clock_changed = False
        self._armed_instant: datetime | None = None
        self._closed = False
        self._aftercare_changed = False
        self._withdrawal: Withdraw | None = None
        self._notifications: list[asyncio.Task[None]] = []
        self._search_attributes: dict[str, Any] = {}
        self._admission: Admission | None = None
        # While the case is being set up (admission, intake, the first tasks): the time
        # the set-up began. Local activities move workflow.now() differently live and on
        # replay under load, so nothing set up in that stretch reads it (see _now).
        self._setting_up_at: datetime | None = None
        self._project_by_query = False
        self._memo: MemoWriter | None = None
        self._notify_together = False
        self._features_2026_12 = False
        self._changes = 0  # counts _changed and _derived_changed calls
        self._derived_dirty = False
        # What this case wrote outside its own read-model rows (see derived_records).
        self._derived = DerivedRecords()
        # 容缺受理 (PER_LICENCE_HOLD_PATCH): licences waiting for their missing items.
        self._held: list[str] = []
        self._held_task: asyncio.Task[None] | None = None
        self._flow_done = False

    # ---------------------------------------------------------------- set-up
    async def _admit(self, start: StartCase) -> Admission:
        """Who accepted the case and what it starts with, decided by the worker."""
        if self._patched(ADMISSION_PATCH):
            headers = workflow.info().headers
            token, grant = credential_headers(headers)
            result = await workflow.execute_local_activity(
                "admit_case",
                AdmitCase(
                    start=start,
                    token=token,
                    grant=grant,
                    proof=proof_header(headers),
                    digest=received_digest([start]),
                    at=workflow.now(),
                ),
                result_type=AdmissionResult,
                start_to_close_timeout=PROJECTION_TIMEOUT,
            )
            if result.admission is None:
                raise ApplicationError(
                    f"受理被拒（case start refused）：{result.refusal}",
                    type="StartRefused",
                    non_retryable=True,
                )
            return result.admission
        return await self._legacy_admission(start)

    async def _legacy_admission(self, start: StartCase) -> Admission:
        """Cases started before the worker admitted them pinned everything in the input."""
        assert start.limits is not None and start.accepted_by is not None
        calendar = start.calendar
        if calendar is None:
            year = cst_date(start.received_at).year
            calendar = await workflow.execute_local_activity(
                "load_calendar",
                CalendarRequest(
                    first_year=year - SNAPSHOT_YEARS_BEFORE, last_year=year + SNAPSHOT_YEARS_AFTER
                ),
                result_type=CalendarData,
                start_to_close_timeout=PROJECTION_TIMEOUT,
            )
        return Admission(
            accepted_by=start.accepted_by,
            applicant=start.applicant,
            chain_version=start.chain_version or 1,
            limits=start.limits,
            warning_fraction=start.warning_fraction or 0.2,
            calendar=calendar,
            form=start.form,
        )

    @property
    def admission(self) -> Admission:
        if self._admission is None:
            raise ApplicationError("case is still starting", type="CaseStarting")
        return self._admission

    def _new_file(self, admission: Admission) -> CaseFile:
        start = self._start
        limits = admission.limits
        chain = registry.get_chain(start.chain)
        now = self._now()
        work_calendar = shared_work_calendar(admission.calendar)
        accepted_on = cst_date(start.received_at)
        state = CaseState(
            case_no=start.case_no,
            chain=chain.code,
            chain_name=limits.chain_name,
            chain_version=admission.chain_version,
            applicant=ApplicantView(
                kind=admission.applicant.kind,
                name=admission.applicant.name,
                id_masked=mask_id_number(admission.applicant.id_number),
                phone_masked=mask_phone(admission.applicant.phone),
            ),
            received_at=start.received_at,
            accepted_on=accepted_on,
            promised=deadlines.new_clock(
                work_calendar,
                started_on=accepted_on,
                limit_days=limits.promised_days,
                department_count=limits.department_count,
                warning_fraction=admission.warning_fraction,
                today=cst_date(now),
            ),
            statutory=deadlines.new_clock(
                work_calendar,
                started_on=accepted_on,
                limit_days=limits.statutory_days,
                department_count=limits.department_count,
                warning_fraction=admission.warning_fraction,
                today=cst_date(now),
            ),
        )
        state.calendar_revision = admission.calendar_revision
        file = CaseFile(state, admission.calendar, admission.warning_fraction)
        file.on_supplement_missed = limits.on_supplement_missed
        file.record(
            "received",
            admission.accepted_by,
            f"收件：{limits.chain_name}",
            now,
            data={"chain_version": admission.chain_version},
        )
        if admission.agent:  # 首席帮办代办轮流值班: the day's 代办员 (older admissions: none)
            file.set_agent(admission.agent, SYSTEM_ACTOR, now, reason="当日值班代办员")
        return file

    @property
    def file(self) -> CaseFile:
        if self._file is None:
            raise ApplicationError("case is still starting", type="CaseStarting")
        return self._file

    def _patched(self, patch_id: str) -> bool:
        """Whether this case runs the code of ``patch_id``: cases started with
        ``FEATURES_2026_12_PATCH`` run every folded patch without a marker of its own."""
        if self._features_2026_12 and patch_id in FOLDED_PATCHES:
            return True
        return workflow.patched(patch_id)

    # ------------------------------------------------------------------- run
    @workflow.run
    async def run(self, start: StartCase) -> CaseOutcome:
        self._setting_up_at = workflow.now()
        # Decided before any local activity: under load the SDK may record what follows
        # a local activity in a later workflow task live than on replay, and a patch
        # marker must sit where replay looks for it.
        self._features_2026_12 = workflow.patched(FEATURES_2026_12_PATCH)
        self._project_by_query = self._patched(PROJECTION_BY_QUERY_PATCH)
        if self._project_by_query and self._patched(PROJECTION_IN_MEMO_PATCH):
            self._memo = MemoWriter(notifications_apart=self._features_2026_12)
        self._notify_together = self._patched(NOTIFY_TOGETHER_PATCH)
        self._admission = await self._admit(start)
        self._file = self._new_file(self._admission)
        # Keep the file's shared snapshot, not this case's decoded copy of the same schedules
        # (no local variable either: this frame lives as long as the case).
        self._admission = self._admission.model_copy(update={"calendar": self._file.calendar_data})
        case_metrics.case_started(start.chain)
        await self._intake(start)
        projector = asyncio.create_task(self._project_loop())
        clock = asyncio.create_task(self._clock_loop())
        await workflow.wait_condition(
            lambda: self.file.accepted or self._stopping(), timeout_summary="materials"
        )
        if not self._stopping():
            await self._run_flow(start)
        self._conclude_stopped()
        self._changed()
        case_metrics.case_concluded(start.chain, self.file.state.status.value)
        await self._aftercare(start)
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._closed = True
        await projector
        clock.cancel()
        # Notifications already decided on are delivered, not abandoned with the case.
        await asyncio.gather(*self._notifications, clock, return_exceptions=True)
        self._upsert_derived()  # notifications delivered after the last change
        state = self.file.state
        return CaseOutcome(
            case_no=state.case_no,
            status=state.status,
            reason=state.outcome_reason,
            licences=state.licences,
        )

    async def _intake(self, start: StartCase) -> None:
        """受理: assess the one set of materials, reusing the applicant's e-licences."""
        limits = self.admission.limits
        specs = limits.materials
        wanted = sorted(
            {m.e_licence for m in specs if m.e_licence and m.code not in start.materials}
        )
        licences = []
        if wanted:
            found = await workflow.execute_local_activity(
                "find_elicences",
                ELicenceQuery(
                    holder_id=self.admission.applicant.id_number,
                    types=wanted,
                    on=cst_date(start.received_at),
                ),
                result_type=ELicenceList,
                start_to_close_timeout=PROJECTION_TIMEOUT,
            )
            licences = found.licences
        self.file.intake(
            specs,
            start.materials,
            start.commitments,
            licences,
            allow_incomplete=limits.allow_incomplete,
            supplement_days=limits.supplement_days,
            now=self._now(),
        )
        self._changed()

    def _stopping(self) -> bool:
        return self._withdrawal is not None or self.file.end_requested is not None

    async def _run_flow(self, start: StartCase) -> None:
        chain = registry.get_chain(start.chain)
        admission = self.admission
        form = chain.form.model_validate(admission.form)
        context: CaseContext[Any] = CaseContext(self, form, admission.applicant, start.materials)
        self._record_acceptance()
        flow = asyncio.create_task(chain.flow_for(admission.chain_version)(context))
        await workflow.wait_condition(lambda: flow.done() or self._stopping())
        if not flow.done():
            flow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flow
            return
        self._flow_done = True
        if flow.exception() is None and self._held:
            # 容缺受理: the flow is done; the held licences wait for their own items.
            self.file.state.stage = "等待补齐材料"
            self._changed()
            await workflow.wait_condition(lambda: not self._held or self._stopping())
            if self._held:
                return  # withdrawn, or ended by on_supplement_missed
        now = self._now()
        try:
            flow.result()
            self.file.conclude(CaseStatus.APPROVED, "", SYSTEM_ACTOR, now)
        except StepRejected as rejected:
            self.file.conclude(CaseStatus.NOT_APPROVED, str(rejected), SYSTEM_ACTOR, now)

    def _record_acceptance(self) -> None:
        state = self.file.state
        mode = ACCEPTANCE_ZH[state.acceptance]
        self.file.record(
            "accepted",
            SYSTEM_ACTOR,
            f"{mode}，承诺期限 {state.promised.due_on.isoformat()}"
            + ("（暂定）" if state.promised.provisional else ""),
            self._now(),
            data={"acceptance": state.acceptance.value},
        )
        self._changed()

    def _conclude_stopped(self) -> None:
        """A withdrawal, or a rule that ends the case, concludes it here."""
        if self.file.state.concluded:
            return
        now = self._now()
        if self._withdrawal is not None:
            action = self._withdrawal
            self.file.conclude(CaseStatus.WITHDRAWN, action.reason, action.actor, now)
        elif self.file.end_requested is not None:
            self.file.conclude(CaseStatus.NOT_APPROVED, self.file.end_requested, SYSTEM_ACTOR, now)

    # -------------------------------------------------------------- aftercare
    async def _aftercare(self, start: StartCase) -> None:
        """After the decision: publish it within 7 working days, verify commitments,
        take the applicant's rating; the workflow ends when all of that is done."""
        file = self.file
        state = file.state
        now = self._now()
        if state.status in (CaseStatus.APPROVED, CaseStatus.NOT_APPROVED):
            approved = state.status is CaseStatus.APPROVED
            departments = (
                sorted({lic.department for lic in state.licences})
                if approved
                else sorted(
                    {
                        p.department
                        for t in state.tasks
                        for p in t.parts
                        if p.verdict is Verdict.REJECT
                    }
                )
            )
            task = file.open_publication(departments, "准予许可" if approved else "不予许可", now)
            publication = Publication(
                case_no=state.case_no,
                chain=state.chain,
                decision=state.status.value,
                holder_name=state.applicant.name,
                departments=task.departments,
                licence_numbers=[lic.number for lic in state.licences],
                decided_on=cst_date(now),
            )
            self._notifications.append(asyncio.create_task(self._publish(task, publication)))
        limits = self.admission.limits
        if state.status is CaseStatus.APPROVED:
            file.open_verifications(limits.materials, limits.verification_days, now)
        file.set_rating_window(limits.rating_window_days, now)
        self._changed()
        assert state.rating_until is not None
        # A window of 0 days means this deployment takes no ratings through the case.
        takes_ratings = limits.rating_window_days > 0
        rating_closes = end_of_day(state.rating_until) if takes_ratings else self._now()
        while True:
            await self._revoke_if_verification_failed(start)
            now = self._now()
            if not state.open_tasks and (state.rating is not None or now >= rating_closes):
                return
            waiting_for_rating = state.rating is None and now < rating_closes
            self._aftercare_changed = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._aftercare_changed,
                    timeout=(rating_closes - now) if waiting_for_rating else None,
                    timeout_summary="rating window",
                )
            self._set_up_over()

    async def _publish(self, task: Task, publication: Publication) -> None:
        await workflow.execute_activity(
            "publish_decision",
            publication,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(hours=1)),
        )
        self._set_up_over()
        self.file.publication_done(task, self._now())
        self._derived.publication = publication
        self._derived.published_at = self._now()
        self._derived_changed()
        self._changed()

    async def _revoke_if_verification_failed(self, start: StartCase) -> None:
        state = self.file.state
        failed = [
            t
            for t in state.tasks
            if t.kind is TaskKind.VERIFICATION and t.status is TaskStatus.REJECTED
        ]
        if not failed or state.status is CaseStatus.REVOKED:
            return
        event = self.file.revoke(failed[0], self._now())
        self._changed()
        revocation = Revocation(
            case_no=state.case_no,
            holder_id=self.admission.applicant.id_number,
            holder_name=state.applicant.name,
            licence_numbers=[lic.number for lic in state.licences],
            reason=event.reason,
            revoked_on=cst_date(self._now()),
        )
        await workflow.execute_activity(
            "revoke_licences", revocation, start_to_close_timeout=LICENCE_TIMEOUT
        )
        self._set_up_over()
        self._derived.revocation = revocation
        self._derived_changed()

    # -------------------------------------------------- engine API for steps
    def _now(self) -> datetime:
        """``workflow.now()``, except during the case's set-up, which is all stamped with
        the moment it began.

        Set-up runs local activities (admission, the e-licence look-up) and then opens
        the first tasks in the same workflow task. Under load the SDK resumes the
        workflow after a local activity at a later ``workflow.now()`` live than on replay
        (seen: 3 s apart), so a task's start time read there differed between the
        worker that ran it and one that replayed it. The set-up ends when something
        from outside wakes the case (``_set_up_over``).
        """
        return self._setting_up_at or workflow.now()

    async def wait(self, condition: Callable[[], bool]) -> None:
        await workflow.wait_condition(condition)

    def _set_up_over(self) -> None:
        """Something from outside woke the case (an Update, a signal, a timer, an
        activity's result): whatever it sets off is stamped with its own time."""
        self._setting_up_at = None

    def open_task(self, **kwargs: Any) -> Task:
        task = self.file.open_task(now=self._now(), **kwargs)
        self._changed()
        return task

    def cancel_task(self, task: Task) -> None:
        self.file.cancel_task(task, self._now())
        self._changed()

    def suspend_case(self, kind: SuspensionKind, reason: str, task: Task) -> None:
        self.file.suspend(kind, reason, task, SYSTEM_ACTOR, self._now(), case_clock_only=True)
        self._changed()

    def end_case_suspension_for(self, task: Task) -> None:
        for suspension in self.file.state.suspensions:
            if suspension.task_id == task.id and suspension.end is None:
                self.file.end_suspension(suspension, SYSTEM_ACTOR, self._now())
        self._changed()

    async def issue_licences(self, codes: list[str], *, wait: bool = False) -> None:
        state = self.file.state
        if state.missing_materials and workflow.patched(PER_LICENCE_HOLD_PATCH):
            held = [code for code in codes if self._holding(code)]
            if held:
                self._hold(held)
            ready = [code for code in codes if code not in held]
            if ready:
                await self._issue_now(ready)
            if wait and held:  # the flow's next steps need the held licences
                state.stage = "等待补齐材料"
                self._changed()
                await workflow.wait_condition(
                    lambda: not set(held) & set(self._held) or self._stopping()
                )
            return
        if state.missing_materials:
            state.stage = "等待补齐材料"  # 容缺受理: reviewed, but not issued before they arrive
            self._changed()
            await workflow.wait_condition(lambda: not state.missing_materials)
        await self._issue_now(codes)

    def _holding(self, licence: str) -> list[str]:
        """The missing items that hold ``licence`` back (容缺受理)."""
        specs = {spec.code: spec for spec in self.admission.limits.materials}
        return [
            item.name
            for item in self.file.state.missing_materials
            if item.code not in specs or specs[item.code].holds(licence)
        ]

    def _hold(self, codes: list[str]) -> None:
        """Keep ``codes`` back until their own missing items arrive; the flow goes on."""
        chain = registry.get_chain(self._start.chain)
        self._held.extend(codes)
        waits = "；".join(
            f"{chain.licence(code).name}待补齐{'、'.join(self._holding(code))}" for code in codes
        )
        self.file.record(
            "licences_held",
            SYSTEM_ACTOR,
            f"容缺受理，暂缓出件：{waits}",
            self._now(),
            data={"licences": codes},
        )
        self._changed()
        if self._held_task is None:
            self._held_task = asyncio.create_task(self._issue_held())

    async def _issue_held(self) -> None:
        """Issue each held licence as soon as nothing missing holds it."""
        try:
            while self._held:
                await workflow.wait_condition(
                    lambda: (
                        any(not self._holding(c) for c in self._held)
                        or self._stopping()
                        or self.file.state.concluded
                    )
                )
                if self._stopping() or self.file.state.concluded:
                    return
                ready = [code for code in self._held if not self._holding(code)]
                await self._issue_now(ready, stage=self._flow_done)
                self._held = [code for code in self._held if code not in ready]
        finally:
            self._held_task = None

    async def _issue_now(self, codes: list[str], *, stage: bool = True) -> None:
        """Issue ``codes`` at the one window and store them as e-licences."""
        chain = registry.get_chain(self._start.chain)
        state = self.file.state
        now = self._now()
        if stage:
            state.stage = "出件"
        issued: list[Licence] = []
        for code in codes:
            licence_type = chain.licence(code)
            issued.append(
                Licence(
                    type=licence_type.code,
                    name=licence_type.name,
                    number=f"{licence_type.code.upper()}-{state.case_no}",
                    department=licence_type.department,
                    holder_name=state.applicant.name,
                    issued_on=cst_date(now),
                    case_no=state.case_no,
                    valid_to=_valid_to(cst_date(now), licence_type.valid_years),
                )
            )
        records = [
            LicenceRecord(**lic.model_dump(), holder_id=self.admission.applicant.id_number)
            for lic in issued
        ]
        execute = (
            workflow.execute_local_activity
            if workflow.patched(LICENCES_LOCAL_PATCH)
            else workflow.execute_activity
        )
        await execute(
            "issue_licences",
            IssueLicences(licences=records),
            start_to_close_timeout=LICENCE_TIMEOUT,
        )
        self._set_up_over()
        self._derived.licences.extend(records)
        self._derived_changed()
        state.licences.extend(issued)
        self.file.record(
            "licences_issued",
            SYSTEM_ACTOR,
            "出件：" + "、".join(f"{lic.name}（{lic.number}）" for lic in issued),
            self._now(),
            data={"numbers": [lic.number for lic in issued]},
        )
        self._changed()

    # ------------------------------------------------------- state plumbing
    def _changed(self, clock: bool = True, *, by_timer: bool = False) -> None:
        """Mark the case changed: project it, and send what it decided to notify.

        ``clock``: re-arm the deadline timer if the nearest deadline moved.
        ``by_timer``: the deadline timer fired (no Update waits on this workflow task).
        """
        self._changes += 1
        self._projection_dirty = True
        self._aftercare_changed = True
        if clock and self.file.next_clock_instant() != self._armed_instant:
            self._clock_changed = True  # re-arm only when the nearest deadline moved
        pending = list(self.file.pending_notifications)
        self.file.pending_notifications.clear()
        if self._notify_together and pending:
            local = by_timer and self._features_2026_12
            self._notifications.append(asyncio.create_task(self._send_together(pending, local)))
            return
        for notification in pending:
            self._notifications.append(asyncio.create_task(self._send(notification)))

    async def _send_together(self, notifications: list[Notification], local: bool) -> None:
        """Send one moment's notifications in one ``notify_all``.

        ``local``: a fired deadline's warnings go out as a local activity, inside the
        timer's own workflow task. At the turn of a working day every open case fires at
        once and most are replayed to do it (they left the worker's cache); a normal
        activity then cost an activity task and a second workflow task for its result,
        often a second replay. No reply waits on a timer's workflow task; a slow gateway
        only delays an action sent to this case while it runs (the task heartbeats
        meanwhile). An Update's notifications stay a normal activity: its reply must not
        wait on them.
        """
        execute = workflow.execute_local_activity if local else workflow.execute_activity
        await execute(
            "notify_all",
            Notifications(notifications=notifications),
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )
        self._set_up_over()
        self._derived.notifications.extend(notifications)
        self._derived_changed()

    async def _send(self, notification: Notification) -> None:
        await workflow.execute_activity(
            "notify",
            notification,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )
        self._set_up_over()
        self._derived.notifications.append(notification)
        self._derived_changed()

    async def _project_loop(self) -> None:
        """After each change: search attributes, the rows in the memo, and a hint to
        the worker's projector; after a derived record alone, only the memo.

        Cases begun before ``PROJECTION_BY_QUERY_PATCH`` wrote every change through a
        local activity in the same workflow task; their histories replay that way.
        """
        while True:
            await workflow.wait_condition(
                lambda: self._projection_dirty or self._derived_dirty or self._closed
            )
            if self._features_2026_12:
                await self._until_activation_settles()
            if self._projection_dirty:
                self._projection_dirty = False
                if self._project_by_query:
                    self._upsert_search_attributes(COARSE_SEARCH_ATTRIBUTES)
                    if self._memo is not None:
                        self._upsert_memo()
                    self._hint_projector()
                else:
                    self._upsert_search_attributes()
                    batch = self.file.projection(self._projected_seq, workflow.now())
                    await workflow.execute_local_activity(
                        "project_case", batch, start_to_close_timeout=PROJECTION_TIMEOUT
                    )
                    self._projected_seq = batch.case.last_seq
            elif self._derived_dirty:
                self._upsert_derived()
            elif self._closed:
                return

    async def _until_activation_settles(self) -> None:
        """Return once a whole pass of this activation's ready code changed nothing.

        An activation often changes a case several times: the start opens the first
        tasks right after intake, and under load one workflow task carries several
        decisions. Each upsert is a history event, payloads to seal and a visibility
        write, so the case writes once for all of them. ``wait_condition`` with a
        condition that always holds resumes only after everything else ready has run
        to its next ``await``; deterministic, so replay takes the same path.
        """
        while True:
            seen = self._changes
            await workflow.wait_condition(lambda: True)
            if self._changes == seen:
                return

    def _upsert_memo(self) -> None:
        """Keep the case's rows in its memo (see ``workflows.projection_memo``)."""
        assert self._memo is not None
        self._derived_dirty = False
        batch = self.file.projection(self._memo.events_through, workflow.now())
        workflow.upsert_memo(self._memo.fields(batch, self._derived))

    def _derived_changed(self) -> None:
        """A licence, revocation, publication or notification was recorded: a case
        that keeps its rows in its memo writes it there (older cases are read by
        Query and write nothing for it). No projector is told: the activity that
        recorded it wrote the read model's copy."""
        if self._memo is not None:
            self._changes += 1
            self._derived_dirty = True

    def _upsert_derived(self) -> None:
        self._derived_dirty = False
        if self._memo is not None:
            fields = self._memo.derived_fields(self._derived)
            if fields:
                workflow.upsert_memo(fields)

    def _hint_projector(self) -> None:
        """Tell this worker's projector to read the case.

        Never while replaying: history already holds what replay re-creates. And not
        when a worker merely loads the case from history: a Query loads it too (the
        projector's own, on a worker without a cache), and a hint there would be
        answered by a Query that loads it again, without end.
        """
        if workflow.unsafe.is_replaying():
            return
        info = workflow.info()
        revision = self._memo.rev if self._memo is not None else 0
        projection_feed.note_change(info.namespace, info.task_queue, info.workflow_id, revision)

    def _upsert_search_attributes(self, only_when: frozenset[str] | None = None) -> None:
        """Keep the search attributes (for Temporal's own UI and CLI) in step.

        ``only_when``: upsert only if one of those attributes changed (each upsert is a
        history event and a visibility write); the others then ride along. Lists and
        filters read the SQL read model, which is exact.
        """
        file = self.file
        running = file.state.status is CaseStatus.RUNNING
        next_due = file.next_due()
        wanted: dict[str, Any] = {
            sa.CHAIN.name: file.state.chain,
            sa.STATUS.name: file.state.status.value,
            sa.STAGE.name: file.state.stage,
            sa.OPEN_DEPARTMENTS.name: file.state.open_departments,
            sa.WARNING.name: file.overall_warning().value if running else "none",
            sa.NEXT_DUE.name: next_due,
        }
        changed = {k: v for k, v in wanted.items() if self._search_attributes.get(k, ...) != v}
        if not changed or (only_when is not None and not only_when & changed.keys()):
            return
        keys = {key.name: key for key in sa.ALL_KEYS}
        updates = [
            keys[name].value_set(value) if value is not None else keys[name].value_unset()
            for name, value in changed.items()
        ]
        workflow.upsert_search_attributes(updates)
        self._search_attributes.update(changed)

    async def _clock_loop(self) -> None:
        """One timer per case: sleep until the nearest warning/overdue instant or
        until a deadline changes (the updatable-timer pattern)."""
        while True:
            fired = self.file.fire_clocks(self._now())
            for event in fired:
                case_metrics.deadline_fired(self.file.state.chain, event.kind)
            if fired:
                self._changed(clock=False, by_timer=True)
            self._clock_changed = False
            instant = self.file.next_clock_instant()
            self._armed_instant = instant
            if instant is None:
                await workflow.wait_condition(lambda: self._clock_changed)
                continue
            delay = instant - self._now()
            if delay <= timedelta(0):
                continue
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._clock_changed, timeout=delay, timeout_summary="deadline"
                )
            self._set_up_over()

    # -------------------------------------------------------------- actions
    def _act(self, check: Callable[[], None]) -> None:
        if self._withdrawal is not None:
            case_metrics.action(self.file.state.chain, "refused")
            raise _refuse(ActionRefused(Refusal.CASE_WITHDRAWING))
        try:
            check()
        except ActionRefused as refused:
            case_metrics.action(self.file.state.chain, "refused")
            raise _refuse(refused) from None

    def _done(self, seq: int, message: str) -> ActionResult:
        self._set_up_over()
        case_metrics.action(self.file.state.chain, "done")
        self._changed()
        return ActionResult(seq=seq, message=message)

    @workflow.update
    def decide(self, action: Decide) -> ActionResult:
        event = self.file.apply_decide(action, workflow.now())
        return self._done(event.seq, event.summary)

    @decide.validator
    def _check_decide(self, action: Decide) -> None:
        self._act(lambda: self.file.check_decide(action))

    @workflow.update
    def decide_on_behalf(self, action: DecideOnBehalf) -> ActionResult:
        event = self.file.apply_decide(action, workflow.now(), on_behalf=True)
        return self._done(event.seq, event.summary)

    @decide_on_behalf.validator
    def _check_decide_on_behalf(self, action: DecideOnBehalf) -> None:
        self._act(lambda: self.file.check_decide_on_behalf(action))

    @workflow.update
    def extend(self, action: Extend) -> ActionResult:
        event = self.file.apply_extend(action, workflow.now())
        return self._done(event.seq, event.summary)

    @extend.validator
    def _check_extend(self, action: Extend) -> None:
        self._act(lambda: self.file.check_extend(action))

    @workflow.update
    def reassign(self, action: Reassign) -> ActionResult:
        event = self.file.apply_reassign(action, workflow.now())
        return self._done(event.seq, event.summary)

    @reassign.validator
    def _check_reassign(self, action: Reassign) -> None:
        self._act(lambda: self.file.check_reassign(action))

    @workflow.update
    def urge(self, action: Urge) -> ActionResult:
        event = self.file.apply_urge(action, workflow.now())
        return self._done(event.seq, event.summary)

    @urge.validator
    def _check_urge(self, action: Urge) -> None:
        self._act(lambda: self.file.check_urge(action))

    @workflow.update
    def start_special_procedure(self, action: StartSpecialProcedure) -> ActionResult:
        event = self.file.apply_start_special(action, workflow.now())
        return self._done(event.seq, event.summary)

    @start_special_procedure.validator
    def _check_start_special(self, action: StartSpecialProcedure) -> None:
        self._act(lambda: self.file.check_start_special(action))

    @workflow.update
    def end_special_procedure(self, action: EndSpecialProcedure) -> ActionResult:
        event = self.file.apply_end_special(action, workflow.now())
        return self._done(event.seq, event.summary)

    @end_special_procedure.validator
    def _check_end_special(self, action: EndSpecialProcedure) -> None:
        self._act(lambda: self.file.check_end_special(action))

    @workflow.update
    def record_supplement(self, action: RecordSupplement) -> ActionResult:
        event = self.file.apply_supplement(action, workflow.now())
        return self._done(event.seq, event.summary)

    @record_supplement.validator
    def _check_supplement(self, action: RecordSupplement) -> None:
        self._act(lambda: self.file.check_supplement(action))

    @workflow.update
    def report_applicant_event(self, action: ReportApplicantEvent) -> ActionResult:
        event = self.file.apply_applicant_event(action, workflow.now())
        return self._done(event.seq, event.summary)

    @report_applicant_event.validator
    def _check_applicant_event(self, action: ReportApplicantEvent) -> None:
        self._act(lambda: self.file.check_applicant_event(action))

    @workflow.update
    def supply_materials(self, action: SupplyMaterials) -> ActionResult:
        event = self.file.apply_supply(action, workflow.now())
        return self._done(event.seq, event.summary)

    @supply_materials.validator
    def _check_supply(self, action: SupplyMaterials) -> None:
        self._act(lambda: self.file.check_supply(action))

    @workflow.update
    def rate(self, action: Rate) -> ActionResult:
        event = self.file.apply_rate(action, workflow.now())
        return self._done(event.seq, event.summary)

    @rate.validator
    def _check_rate(self, action: Rate) -> None:
        self._act(lambda: self.file.check_rate(action))

    @workflow.update
    def rectify(self, action: Rectify) -> ActionResult:
        event = self.file.apply_rectify(action, workflow.now())
        return self._done(event.seq, event.summary)

    @rectify.validator
    def _check_rectify(self, action: Rectify) -> None:
        self._act(lambda: self.file.check_rectify(action))

    @workflow.update
    def assign_agent(self, action: AssignAgent) -> ActionResult:
        event = self.file.apply_assign_agent(action, workflow.now())
        return self._done(event.seq, event.summary)

    @assign_agent.validator
    def _check_assign_agent(self, action: AssignAgent) -> None:
        self._act(lambda: self.file.check_assign_agent(action))

    @workflow.update
    def withdraw(self, action: Withdraw) -> ActionResult:
        self._withdrawal = action
        return ActionResult(seq=len(self.file.state.events) + 1, message="撤回已受理，案件终止")

    @withdraw.validator
    def _check_withdraw(self, action: Withdraw) -> None:
        if self._withdrawal is not None:
            raise _refuse(
                ActionRefused(Refusal.CASE_WITHDRAWING, "the case is already being withdrawn")
            )
        self._act(lambda: self.file.check_withdraw(action))

    @workflow.signal
    async def reload_calendar(self, reload: CalendarReload) -> None:
        """Fire-and-forget from `onechain calendar load`: recompute due dates from the
        calendar store, if a signed-in administrator sent it."""
        if self._file is None or self.file.state.status is not CaseStatus.RUNNING:
            return
        if reload.revision and reload.revision == self.file.state.calendar_revision:
            return  # already computed with it: a repeated or resumed load costs nothing
        self._set_up_over()
        at = workflow.now()  # before the local activity, which may move it (see _now)
        if self._patched(CALENDAR_STORE_PATCH):
            year = cst_date(self._start.received_at).year
            result = await workflow.execute_local_activity(
                "reload_calendar_from_store",
                ReloadCalendarRequest(
                    token=reload.token,
                    grant=reload.grant,
                    proof=reload.proof,
                    digest=reload.digest,
                    at=at,
                    first_year=year - SNAPSHOT_YEARS_BEFORE,
                    last_year=year + SNAPSHOT_YEARS_AFTER,
                    revision=reload.revision,
                ),
                result_type=ReloadCalendarResult,
                start_to_close_timeout=PROJECTION_TIMEOUT,
            )
            calendar, revision = result.calendar, result.revision
            if calendar is None or self.file.state.status is not CaseStatus.RUNNING:
                return
        elif reload.calendar is not None:
            calendar, revision = reload.calendar, ""
        else:
            return
        self.file.reload_calendar(calendar, at, revision)
        self._changed()

    @workflow.query
    def state(self) -> CaseState:
        return self.file.state

    @workflow.query
    def state_brief(self) -> CaseState:
        """The case's state without its event log (``events`` is empty).

        The log is most of the state's size: every decision adds to it. Who looks at
        tasks, materials, clocks or the outcome (a bulk action, a form checking it is
        still current, a department's system polling for its open parts) asks this and
        is not sent the whole log, sealed and decoded, each time."""
        return self.file.state.model_copy(update={"events": []})

    @workflow.query
    def projection(self, since_seq: int) -> ProjectionBatch:
        """The case's rows for the read model, with the events after ``since_seq``:
        what the worker's projector writes (answered from committed history only)."""
        return self.file.projection(since_seq, workflow.now())

    @workflow.query
    def reconciliation(self) -> Reconciliation:
        """The case's rows with all its events and its derived records, as
        ``onechain reconcile`` compares them (one Query per case)."""
        return Reconciliation(batch=self.file.projection(0, workflow.now()), derived=self._derived)

    @workflow.query
    def derived_records(self) -> DerivedRecords:
        """E-licences, revocation, publication and notifications this case wrote, for
        rebuilding those tables (``onechain reconcile``)."""
        return self._derived
