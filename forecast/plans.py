"""Each chain's steps as the forecast draws new cases through them: stages in order,
each a set of tasks that run side by side, with their departments and limits.

Read from the chain's own flow by ``workflows.flow_analysis`` (the flow run against a
recording stand-in on the chain's sample form), so a new chain needs nothing here.
Simplifications, said in docs/forecast.md: a parallel block is one stage whose tasks are
all its branches' steps side by side (a branch of two steps counts as two parallel
tasks); steps waiting for the applicant or with no limit raise no card and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows.chain import Chain
from workflows.flow_analysis import FlowNotDrawable, Parallel, Step, record_flow, steps_of
from workflows.form_samples import build_form, sample_applicant, sample_values


@dataclass(frozen=True)
class PlanStep:
    departments: tuple[str, ...]
    limit: int  # working days
    name: str = ""  # the task's name, as the read model shows it


@dataclass(frozen=True)
class ChainPlan:
    chain: str
    stages: tuple[tuple[PlanStep, ...], ...]

    def stage_of(self, task_name: str) -> int | None:
        """The first stage with a step of this name: where an open task stands (None:
        a step the sample form's flow does not take, e.g. a supplement or a branch)."""
        for number, stage in enumerate(self.stages):
            if any(step.name == task_name for step in stage):
                return number
        return None


def _counted(step: Step) -> PlanStep | None:
    if step.days is None or step.awaits_event or step.stops_case_clock or not step.departments:
        return None
    return PlanStep(tuple(step.departments), int(step.days), step.name)


_PLANS: dict[tuple[str, int], ChainPlan] = {}


def chain_plan(chain: Chain) -> ChainPlan:
    """The stages a new case of ``chain`` goes through, per chain version (cached)."""
    key = (chain.code, chain.version)
    if key not in _PLANS:
        _PLANS[key] = _plan(chain)
    return _PLANS[key]


def _plan(chain: Chain) -> ChainPlan:
    """The stages a new case of ``chain`` goes through (empty when the flow cannot be
    drawn on its sample form: its new cases are then left out, and the caller says so)."""
    try:
        nodes = record_flow(
            chain.flows[chain.version],
            build_form(chain.form, sample_values(chain.form)),
            sample_applicant(chain.applicant_kind),
            [m.code for m in chain.materials],
        )
    except (FlowNotDrawable, LookupError, ValueError):
        return ChainPlan(chain.code, ())
    stages: list[tuple[PlanStep, ...]] = []
    for node in nodes:
        if isinstance(node, Step):
            found = [s for s in [_counted(node)] if s is not None]
        elif isinstance(node, Parallel):
            found = [s for b in node.branches for s in map(_counted, steps_of(b)) if s is not None]
        else:
            continue
        if found:
            stages.append(tuple(found))
    return ChainPlan(chain.code, tuple(stages))


def registered_chains() -> list[Chain]:
    """Every registered chain (importing ``chains`` registers them: the forecast can run
    from a script or a bench that imported nothing else)."""
    import chains  # noqa: F401
    from workflows import registry

    return list(registry.all_chains())
