"""The primitives a chain's flow is written with.

A flow receives a :class:`CaseContext` and awaits its steps like ordinary async
Python. Under the hood each human step is a task in the case's durable state that
waits for decisions sent as Temporal Updates; the chain author never sees that.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from domain.case import Applicant, SuspensionKind, Task, TaskKind, TaskStatus, Verdict

if TYPE_CHECKING:
    from workflows.case_workflow import CaseWorkflow

FormT = TypeVar("FormT", bound=BaseModel)

_stage: contextvars.ContextVar[str | None] = contextvars.ContextVar("onechain_stage", default=None)


class StepRejected(Exception):
    """A department said no and the chain did not ask to continue: the case ends
    as not approved."""

    def __init__(self, task: Task) -> None:
        reasons = "; ".join(
            f"{p.department}: {p.comment}" for p in task.parts if p.verdict is Verdict.REJECT
        )
        super().__init__(f"{task.id} {task.name} 不予通过（{reasons}）")
        self.task = task


@dataclass(frozen=True)
class StepResult:
    """What a finished step tells the flow."""

    task_id: str
    approved: bool
    comments: dict[str, str]


class CaseContext(Generic[FormT]):
    """The handle a chain's flow uses: the case's form and the engine's steps."""

    def __init__(
        self, engine: CaseWorkflow, form: FormT, applicant: Applicant, materials: Sequence[str]
    ) -> None:
        self._engine = engine
        self.form = form
        self.applicant = applicant
        self.materials = tuple(materials)

    @property
    def case_no(self) -> str:
        return self._engine.file.state.case_no

    # --------------------------------------------------------------- helpers
    async def _human_step(
        self,
        kind: TaskKind,
        name: str,
        departments: Sequence[str],
        days: int | None,
        on_reject: Literal["end", "continue"],
        *,
        stops_case_clock: SuspensionKind | None = None,
        awaits_event: str | None = None,
    ) -> StepResult:
        if not departments:
            raise ValueError(f"step {name!r} needs at least one department")
        stage = _stage.get() or name
        task = self._engine.open_task(
            kind=kind,
            name=name,
            stage=stage,
            departments=list(departments),
            days=days,
            awaits_event=awaits_event,
        )
        if stops_case_clock is not None:
            self._engine.suspend_case(stops_case_clock, f"{name}期间不计时", task)
        try:
            await self._engine.wait(lambda: not task.is_open)
        except asyncio.CancelledError:
            self._engine.cancel_task(task)
            raise
        if stops_case_clock is not None:
            self._engine.end_case_suspension_for(task)
        approved = task.status is TaskStatus.APPROVED
        if task.status is TaskStatus.REJECTED and on_reject == "end":
            raise StepRejected(task)
        return StepResult(
            task_id=task.id,
            approved=approved,
            comments={p.department: p.comment for p in task.parts},
        )

    # ------------------------------------------------------------ the steps
    async def review(
        self,
        department: str,
        name: str,
        *,
        days: int,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        """One department examines the case (审查) within ``days`` working days."""
        return await self._human_step(TaskKind.REVIEW, name, [department], days, on_reject)

    async def joint_survey(
        self,
        departments: Sequence[str],
        name: str = "联合踏勘",
        *,
        days: int,
        stops_clock: bool = False,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        """One site visit by several departments together (联合踏勘). With
        ``stops_clock`` the case's own limit does not run meanwhile (the chain says so)."""
        return await self._human_step(
            TaskKind.JOINT_SURVEY,
            name,
            departments,
            days,
            on_reject,
            stops_case_clock=SuspensionKind.SITE_SURVEY if stops_clock else None,
        )

    async def drawing_review(
        self,
        departments: Sequence[str],
        name: str = "多图联审",
        *,
        days: int,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        """Drawings reviewed once by all departments together (多图联审)."""
        return await self._human_step(TaskKind.DRAWING_REVIEW, name, departments, days, on_reject)

    async def combined_evaluation(
        self,
        departments: Sequence[str],
        name: str = "多评合一",
        *,
        days: int,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        """Several evaluations merged into one (多评合一); intermediary time is a
        special procedure the coordinator starts and ends."""
        return await self._human_step(
            TaskKind.COMBINED_EVALUATION, name, departments, days, on_reject
        )

    async def joint_acceptance(
        self,
        departments: Sequence[str],
        name: str = "联合验收",
        *,
        days: int,
        stops_clock: bool = False,
        on_reject: Literal["end", "continue"] = "end",
    ) -> StepResult:
        """One final inspection by several departments at once (联合验收). With
        ``stops_clock`` it runs outside the case's promised limit (e.g. acceptance after
        construction, which the promise "approval to permit" does not cover); its own
        step limit still applies."""
        return await self._human_step(
            TaskKind.JOINT_ACCEPTANCE,
            name,
            departments,
            days,
            on_reject,
            stops_case_clock=SuspensionKind.OUTSIDE_LIMIT if stops_clock else None,
        )

    async def wait_for_applicant(self, event: str, name: str) -> StepResult:
        """Wait, with the case's clock stopped, until the window records that the
        applicant did ``event`` (e.g. notified completion of construction)."""
        return await self._human_step(
            TaskKind.APPLICANT_EVENT,
            name,
            ["window"],
            None,
            "end",
            stops_case_clock=SuspensionKind.APPLICANT,
            awaits_event=event,
        )

    async def parallel(
        self, stage: str, *steps: Coroutine[Any, Any, StepResult]
    ) -> list[StepResult]:
        """Run ``steps`` at the same time (并联审批) as one stage; returns when all
        are done. If one is rejected, the others are cancelled and the case ends."""
        token = _stage.set(stage)
        try:
            running = [asyncio.create_task(step) for step in steps]
        finally:
            _stage.reset(token)
        try:
            return list(await asyncio.gather(*running))
        except BaseException:
            for task in running:
                task.cancel()
            raise

    async def issue(self, *licence_codes: str, wait: bool = False) -> None:
        """Issue the named licences at the one window (统一出件) and store them as
        e-licences.

        容缺受理: a licence a missing non-key item is ``needed_for`` is held back and
        issued when that item arrives; the rest is issued now and the flow goes on.
        ``wait=True``: the flow waits here until the held ones are out too (the steps
        after this one need them, e.g. a registration that needs the permit)."""
        await self._engine.issue_licences(list(licence_codes), wait=wait)
