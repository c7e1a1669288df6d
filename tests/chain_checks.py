"""Small readers of a case's state for the per-chain tests (tests/test_chain_*.py):
which steps the chain's own flow opened, which departments they asked, their limits."""

from __future__ import annotations

from domain.case import CaseState, Task, TaskKind

#: Tasks the engine opens after the flow (publication, verification, rectification).
AFTERCARE = {TaskKind.PUBLICATION, TaskKind.VERIFICATION, TaskKind.RECTIFICATION}


def flow_tasks(state: CaseState) -> list[Task]:
    """The chain's own steps, in the order they opened."""
    return [t for t in state.tasks if t.kind not in AFTERCARE]


def task_named(state: CaseState, name: str) -> Task:
    found = [t for t in state.tasks if t.name == name]
    assert len(found) == 1, f"expected one task {name!r}, found {[t.name for t in state.tasks]}"
    return found[0]


def departments_asked(state: CaseState) -> set[str]:
    """Every department any of the flow's steps asked."""
    return {d for t in flow_tasks(state) for d in t.departments}


def open_departments(state: CaseState) -> list[str]:
    return sorted(d for t in state.open_tasks for d in t.departments)


def limit_of(state: CaseState, name: str) -> int:
    clock = task_named(state, name).clock
    assert clock is not None, f"task {name!r} has no clock"
    return clock.limit_days


def surveys(state: CaseState) -> list[list[str]]:
    """The departments of each joint site survey, sorted."""
    return [sorted(t.departments) for t in state.tasks if t.kind is TaskKind.JOINT_SURVEY]
