"""onechain's own counters, emitted from workflow code through ``workflow.metric_meter()``.

The SDK does not record workflow metrics while replaying, so a case counts once
however often it is replayed; the counters land on the worker's metrics endpoint
(``onechain worker --metrics``) beside the SDK's own ``temporal_*`` metrics, with the
SDK's labels (namespace, task queue, workflow type) added. Labels carry chain codes,
statuses and action names only — never personal data.
"""

from __future__ import annotations

from temporalio import workflow

CASES_STARTED = "onechain_cases_started"
CASES_CONCLUDED = "onechain_cases_concluded"
DEADLINES_FIRED = "onechain_deadlines_fired"
ACTIONS = "onechain_actions"


def case_started(chain: str) -> None:
    workflow.metric_meter().create_counter(
        CASES_STARTED, "Cases admitted and started, by chain."
    ).add(1, {"chain": chain})


def case_concluded(chain: str, status: str) -> None:
    workflow.metric_meter().create_counter(
        CASES_CONCLUDED, "Cases concluded, by chain and status."
    ).add(1, {"chain": chain, "status": status})


def deadline_fired(chain: str, kind: str) -> None:
    """``kind``: the event, e.g. ``task_warning``, ``case_overdue``."""
    workflow.metric_meter().create_counter(
        DEADLINES_FIRED, "Yellow-card warnings and red-card overdue events fired."
    ).add(1, {"chain": chain, "kind": kind})


def action(chain: str, outcome: str) -> None:
    """One coordinator or department action (the current Update), ``done`` or ``refused``."""
    info = workflow.current_update_info()
    workflow.metric_meter().create_counter(ACTIONS, "Actions on cases, by kind and outcome.").add(
        1, {"chain": chain, "action": info.name if info else "unknown", "outcome": outcome}
    )
