"""Role × action × department, on a real server: every declared action, sent by every
role through the real facade with a signed session token, on a case where the action
applies. Allowed exactly when ``domain/action_catalog.py`` says so (the table README.md
shows), and a refusal writes nothing to the history.

The expected outcome comes from the declaration; the outcome from the workflow's own
rules (``domain/casefile.py`` ``check_*``). If either changes alone, this fails.

A refusal leaves the case as it was, so one case per action serves every refused role;
an allowed action uses its state up, so each allowed role gets a fresh case built the
same way. Chains are picked from the registry by what their flows do, never by name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

import chains  # noqa: F401  (registers the chains)
from client.facade import ActionRejected
from domain.action_catalog import ACTIONS, ActionSpec
from domain.actions import Action, Decide, Rate, StartSpecialProcedure
from domain.case import SuspensionKind, Task, TaskKind, TaskStatus, Verdict
from domain.casefile import NOT_DECIDED_KINDS
from domain.roles import Actor, Role
from tests.harness import (
    CLERK,
    COORDINATOR,
    CaseDriver,
    approve_until,
    fresh_applicant,
    reviewer,
)
from workflows import registry
from workflows.flow_analysis import FlowNotDrawable, record_flow, steps_of
from workflows.form_samples import build_form, sample_applicant, sample_values, variants

REASON = "角色矩阵测试"
QUIET_TIMEOUT = 30.0


@dataclass(frozen=True)
class Persona:
    name: str
    role: Role
    right_department: bool = False  # a reviewer of the department the rule looks at


PERSONAS = (
    Persona("window_clerk", Role.WINDOW_CLERK),
    Persona("reviewer_right_department", Role.REVIEWER, right_department=True),
    Persona("reviewer_wrong_department", Role.REVIEWER),
    Persona("coordinator", Role.COORDINATOR),
    Persona("supervisor", Role.SUPERVISOR),
    Persona("administrator", Role.ADMINISTRATOR),
    Persona("system", Role.SYSTEM),
)


@dataclass
class Situation:
    """A case where an action applies, what to send, and the departments in play."""

    case_no: str
    fields: dict[str, Any]
    departments: set[str] = field(default_factory=set)


def expected(spec: ActionSpec, persona: Persona) -> bool:
    """What the declaration says (the same data as README.md's role table)."""
    return spec.may(persona.role, department_matches=persona.right_department)


def actor_for(persona: Persona, situation: Situation) -> Actor:
    if persona.role is Role.REVIEWER:
        department = (
            sorted(situation.departments)[0]
            if persona.right_department and situation.departments
            else other_department(situation.departments)
        )
        return reviewer(department)
    if persona.role is Role.WINDOW_CLERK:
        return CLERK
    return Actor(user_id=f"matrix-{persona.name}", name=f"矩阵{persona.name}", role=persona.role)


def other_department(departments: set[str]) -> str:
    """A department some registered chain uses but that has no part here."""
    known = sorted({d for chain in registry.all_chains() for d in chain.departments})
    return next(d for d in known if d not in departments)


# ------------------------------------------------------------------ building states
def decidable(task: Task) -> bool:
    return (
        task.status is TaskStatus.OPEN
        and task.kind not in NOT_DECIDED_KINDS
        and task.kind is not TaskKind.VERIFICATION
        and any(p.verdict is None for p in task.parts)
    )


async def review_case(driver: CaseDriver) -> tuple[str, Task]:
    """A running case with an open review task (first chain whose sample form has one)."""
    for chain in registry.all_chains():
        applicant = fresh_applicant(
            "person" if chain.applicant_kind == "person" else "organisation"
        )
        case_no = await driver.start(chain.code, sample_values(chain.form), applicant=applicant)
        state = await driver.wait_for_tasks(case_no)
        task = next((t for t in state.open_tasks if decidable(t)), None)
        if task is not None:
            return case_no, task
    raise LookupError("no registered chain opens a review task on its sample form")


def undecided(task: Task) -> str:
    return next(p.department for p in task.parts if p.verdict is None)


async def on_review_task(driver: CaseDriver, build: Callable[[Task], dict[str, Any]]) -> Situation:
    case_no, task = await review_case(driver)
    return Situation(case_no, build(task), {undecided(task)})


async def decide(driver: CaseDriver) -> Situation:
    return await on_review_task(
        driver, lambda t: {"task_id": t.id, "verdict": Verdict.APPROVE, "reason": REASON}
    )


async def decide_on_behalf(driver: CaseDriver) -> Situation:
    return await on_review_task(
        driver,
        lambda t: {
            "task_id": t.id,
            "verdict": Verdict.APPROVE,
            "department": undecided(t),
            "reason": REASON,
        },
    )


async def extend(driver: CaseDriver) -> Situation:
    case_no, _ = await review_case(driver)
    return Situation(case_no, {"days": 1, "reason": REASON})


async def reassign(driver: CaseDriver) -> Situation:
    return await on_review_task(
        driver,
        lambda t: {
            "task_id": t.id,
            "department": undecided(t),
            "to_assignee": "officer9",
            "reason": REASON,
        },
    )


async def urge(driver: CaseDriver) -> Situation:
    return await on_review_task(driver, lambda t: {"task_id": t.id, "reason": REASON})


async def special_start(driver: CaseDriver) -> Situation:
    case_no, task = await review_case(driver)
    return Situation(
        case_no,
        {"task_id": task.id, "kind": SuspensionKind.EXPERT_REVIEW, "reason": REASON},
        set(task.departments),
    )


async def special_end(driver: CaseDriver) -> Situation:
    case_no, task = await review_case(driver)
    await driver.desk.act(
        case_no,
        StartSpecialProcedure(
            actor=COORDINATOR, task_id=task.id, kind=SuspensionKind.EXPERT_REVIEW, reason=REASON
        ),
    )
    state = await driver.state(case_no)
    running = next(s for s in state.suspensions if s.end is None and s.task_id == task.id)
    return Situation(
        case_no, {"suspension_id": running.id, "reason": REASON}, set(task.departments)
    )


async def supplement(driver: CaseDriver) -> Situation:
    case_no, task = await review_case(driver)
    item = "角色矩阵补件"
    department = undecided(task)
    await driver.desk.act(
        case_no,
        Decide(
            actor=reviewer(department),
            task_id=task.id,
            department=department,
            verdict=Verdict.RETURN,
            missing_items=[item],
            reason=REASON,
        ),
    )
    return Situation(case_no, {"task_id": task.id, "items": [item]})


def chain_awaiting_event() -> tuple[str, dict[str, Any], str]:
    """A chain, a form on which its flow waits for the applicant, and the event."""
    for chain in registry.all_chains():
        applicant = sample_applicant(chain.applicant_kind)
        materials = [m.code for m in chain.materials]
        for _, values in variants(chain.form, sample_values(chain.form)):
            try:
                nodes = record_flow(
                    chain.flows[chain.version], build_form(chain.form, values), applicant, materials
                )
            except FlowNotDrawable:
                continue
            event = next((s.awaits_event for s in steps_of(nodes) if s.awaits_event), None)
            if event is not None:
                return chain.code, values, event
    pytest.skip("no registered chain waits for an applicant event")


async def report_event(driver: CaseDriver) -> Situation:
    chain_code, values, event = chain_awaiting_event()
    chain = registry.get_chain(chain_code)
    applicant = fresh_applicant("person" if chain.applicant_kind == "person" else "organisation")
    case_no = await driver.start(chain_code, values, applicant=applicant)
    await approve_until(
        driver, case_no, lambda s: any(t.awaits_event == event for t in s.open_tasks), rounds=40
    )
    return Situation(case_no, {"event": event})


async def supply_materials(driver: CaseDriver) -> Situation:
    for chain in registry.all_chains():
        key = next((m.code for m in chain.materials if m.key), None)
        if key is None:
            continue
        applicant = fresh_applicant(
            "person" if chain.applicant_kind == "person" else "organisation"
        )
        materials = [m.code for m in chain.materials if m.code != key]
        case_no = await driver.start(
            chain.code, sample_values(chain.form), applicant=applicant, materials=materials
        )
        state = await driver.wait_for_tasks(case_no)
        if any(m.code == key and m.state.value == "missing" for m in state.materials):
            return Situation(case_no, {"items": [key]})
    pytest.skip("no registered chain has a key material")


async def concluded_case(driver: CaseDriver) -> str:
    case_no, _ = await review_case(driver)
    await driver.run_to_end(case_no)
    return case_no


async def rate(driver: CaseDriver) -> Situation:
    return Situation(await concluded_case(driver), {"score": 4, "comment": REASON})


async def rectify(driver: CaseDriver) -> Situation:
    case_no = await concluded_case(driver)
    await driver.desk.act(case_no, Rate(actor=CLERK, score=1, comment=REASON))
    state = await driver.state(case_no)
    task = next(t for t in state.open_tasks if t.kind is TaskKind.RECTIFICATION)
    return Situation(case_no, {"task_id": task.id, "reason": REASON})


async def withdraw(driver: CaseDriver) -> Situation:
    case_no, _ = await review_case(driver)
    return Situation(case_no, {"reason": REASON})


async def assign_agent(driver: CaseDriver) -> Situation:
    from tests.harness import session_signer

    case_no, _ = await review_case(driver)
    agent = Actor(user_id="matrix-agent", name="代办员", role=Role.WINDOW_CLERK)
    session_signer().register(agent)  # the agent must be a known, enabled person
    return Situation(case_no, {"agent": agent.user_id, "reason": REASON})


SITUATIONS: dict[str, Callable[[CaseDriver], Awaitable[Situation]]] = {
    "decide": decide,
    "decide-on-behalf": decide_on_behalf,
    "extend": extend,
    "reassign": reassign,
    "urge": urge,
    "special-start": special_start,
    "special-end": special_end,
    "supplement": supplement,
    "report-event": report_event,
    "withdraw": withdraw,
    "supply-materials": supply_materials,
    "rate": rate,
    "rectify": rectify,
    "assign-agent": assign_agent,
}


# ------------------------------------------------------------------------- history
async def quiet_history_length(handle: WorkflowHandle[Any, Any]) -> int:
    """The history's length once the case has nothing in flight (no workflow task, no
    activity) and the length held still across two looks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + QUIET_TIMEOUT
    last = -1
    while True:
        description = await handle.describe()
        raw = description.raw_description
        busy = raw.HasField("pending_workflow_task") or len(raw.pending_activities) > 0
        length = description.history_length
        if not busy and length == last:
            return length
        last = -1 if busy else length
        if loop.time() > deadline:
            raise AssertionError(f"case {handle.id} did not settle within {QUIET_TIMEOUT:.0f}s")
        await asyncio.sleep(0.1)


async def send(
    driver: CaseDriver, spec: ActionSpec, persona: Persona, situation: Situation
) -> str | None:
    """None when the action was taken, else the refusal."""
    action: Action = spec.model(actor=actor_for(persona, situation), **situation.fields)
    try:
        await driver.desk.act(situation.case_no, action)
    except ActionRejected as refused:
        return str(refused)
    return None


# -------------------------------------------------------------------------- the test
def test_every_declared_action_has_a_situation() -> None:
    assert set(SITUATIONS) == {spec.command for spec in ACTIONS}


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda s: s.command)
async def test_role_matrix(driver: CaseDriver, spec: ActionSpec) -> None:
    build = SITUATIONS[spec.command]
    mismatches: list[str] = []

    # Every role the declaration refuses, on one case: refused, and nothing written.
    refused_here = [p for p in PERSONAS if not expected(spec, p)]
    if refused_here:
        situation = await build(driver)
        handle = driver.desk.handle(situation.case_no)
        before = await quiet_history_length(handle)
        timeline = (await driver.state(situation.case_no)).events
        for persona in refused_here:
            if await send(driver, spec, persona, situation) is None:
                mismatches.append(f"{persona.name}: taken, but the declaration refuses it")
        assert await quiet_history_length(handle) == before, "a refusal wrote to the history"
        assert (await driver.state(situation.case_no)).events == timeline

    # Every role it allows, each on a fresh case in the same state: taken.
    allowed_here = [p for p in PERSONAS if expected(spec, p)]
    assert allowed_here, f"{spec.command}: the declaration lets nobody take it"
    situations = await asyncio.gather(*(build(driver) for _ in allowed_here))
    for persona, situation in zip(allowed_here, situations, strict=True):
        refusal = await send(driver, spec, persona, situation)
        if refusal is not None:
            mismatches.append(f"{persona.name}: refused ({refusal}), but the declaration allows it")

    assert not mismatches, f"{spec.command}: workflow and declaration disagree:\n" + "\n".join(
        mismatches
    )
