"""Every ``onechain_*`` series present from a worker's start, at zero.

The case counters are emitted from workflow code (``workflows.case_metrics``) and would
appear only after their first event: an alert on ``increase(...)`` cannot tell "none
yet" from "not reported", and a dashboard shows gaps. So a worker serving metrics adds
0 to each counter for every registered chain and every label value the workflows emit,
with the labels the SDK gives workflow metrics (namespace, task queue, workflow type).
Only code and catalogue values become labels: chains, statuses, actions — never
personal data.
"""

from __future__ import annotations

from temporalio.common import MetricMeter

from domain.action_catalog import ACTIONS
from domain.case import CaseStatus
from workflows import registry
from workflows.case_metrics import ACTIONS as ACTIONS_METRIC
from workflows.case_metrics import CASES_CONCLUDED, CASES_STARTED, DEADLINES_FIRED

#: The deadline events the clock fires (``CaseFile.fire_clocks``).
DEADLINE_KINDS = ("task_warning", "case_warning", "task_overdue", "case_overdue")
OUTCOMES = ("done", "refused")
CONCLUDED = tuple(s.value for s in CaseStatus if s is not CaseStatus.RUNNING)


def declare_case_metrics(meter: MetricMeter, namespace: str, task_queue: str) -> int:
    """Add 0 to every case counter series; returns how many series were declared."""
    meter = meter.with_additional_attributes(
        {"namespace": namespace, "task_queue": task_queue, "workflow_type": "CaseWorkflow"}
    )
    started = meter.create_counter(CASES_STARTED, "Cases admitted and started, by chain.")
    concluded = meter.create_counter(CASES_CONCLUDED, "Cases concluded, by chain and status.")
    fired = meter.create_counter(
        DEADLINES_FIRED, "Yellow-card warnings and red-card overdue events fired."
    )
    actions = meter.create_counter(ACTIONS_METRIC, "Actions on cases, by kind and outcome.")
    series = 0
    for chain in (c.code for c in registry.all_chains()):
        started.add(0, {"chain": chain})
        series += 1
        for status in CONCLUDED:
            concluded.add(0, {"chain": chain, "status": status})
            series += 1
        for kind in DEADLINE_KINDS:
            fired.add(0, {"chain": chain, "kind": kind})
            series += 1
        for spec in ACTIONS:
            for outcome in OUTCOMES:
                actions.add(0, {"chain": chain, "action": spec.update, "outcome": outcome})
                series += 1
    return series
