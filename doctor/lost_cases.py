"""Temporal holds cases the read model lacks: a lost or replaced read model.

A read model restored from nothing (deleted, then made again by ``db upgrade``) looks
healthy on its own: a schema at head, no cases, no people. Only Temporal remembers
the cases, so the check asks its visibility store for the deployment's case
workflows (type ``CaseWorkflow`` on the workers' task queue) and looks each up in the
read model. Cases started within ``grace`` are left out: the worker projects a new
case a moment after it starts. The advice is to restore, never ``users bootstrap``:
on a lost database whoever bootstraps first becomes administrator.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.service import RPCError

from doctor.findings import Finding, fail, ok, warn

CHECK = "cases"
WORKFLOW_TYPE = "CaseWorkflow"
CASE_ID_PREFIX = "case-"
#: How many missing case numbers a finding names.
SHOWN = 5
RESTORE_ADVICE = (
    "the read model was lost or replaced: restore it (`onechain backup restore ARCHIVE`, "
    "then `onechain reconcile`), never `onechain users bootstrap`"
)


@dataclass(frozen=True)
class TemporalCases:
    """The deployment's case workflows as Temporal's visibility lists them."""

    count: int
    #: case number → when its workflow started
    started: dict[str, datetime]


def case_query(task_queue: str) -> str:
    return f"WorkflowType = '{WORKFLOW_TYPE}' AND TaskQueue = '{_quoted(task_queue)}'"


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


async def temporal_cases(client: Client, task_queue: str) -> TemporalCases:
    """Count and list the case workflows on ``task_queue`` (raises ``RPCError``)."""
    query = case_query(task_queue)
    count = (await client.count_workflows(query)).count
    started: dict[str, datetime] = {}
    async for execution in client.list_workflows(query):
        if execution.id.startswith(CASE_ID_PREFIX):
            started[execution.id.removeprefix(CASE_ID_PREFIX)] = execution.start_time
    return TemporalCases(count, started)


def lost_cases(
    held: TemporalCases,
    known: Collection[str],
    *,
    grace: timedelta,
    now: datetime | None = None,
) -> Finding:
    """Fail when Temporal holds settled cases that ``known`` (the read model's case
    numbers) lacks; name how many and a few of them."""
    cutoff = (now or datetime.now(UTC)) - grace
    missing = sorted(
        case_no
        for case_no, started in held.started.items()
        if case_no not in known and started <= cutoff
    )
    if missing:
        shown = ", ".join(missing[:SHOWN]) + (" …" if len(missing) > SHOWN else "")
        return fail(
            CHECK,
            f"Temporal holds {len(missing)} of {held.count} case(s) the read model lacks "
            f"(e.g. {shown}): {RESTORE_ADVICE}",
        )
    return ok(CHECK, f"the read model knows all {held.count} case(s) Temporal holds")


async def cases_check(
    client: Client, task_queue: str, known: Collection[str], *, grace: timedelta
) -> tuple[Finding, bool]:
    """The finding, and whether Temporal holds any case at all (for the people check's
    advice: with cases there, an empty list of people is a loss, not a new install)."""
    try:
        held = await temporal_cases(client, task_queue)
    except RPCError as error:
        return warn(CHECK, f"cannot list Temporal's cases: {error.message}"), False
    return lost_cases(held, known, grace=grace), held.count > 0
