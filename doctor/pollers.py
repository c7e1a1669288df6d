"""A worker polling onechain's task queue: without one, no case moves.

Temporal lists every poller it saw in the last few minutes, a worker killed a minute
ago among them. A live worker polls again at least once per long poll (about a
minute), so only pollers seen within :data:`LIVE_WITHIN` count as live.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import PollerInfo, TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from doctor.findings import Finding, fail, ok

#: A poller seen longer ago than this is not counted (a long poll lasts about 60 s).
LIVE_WITHIN = timedelta(seconds=75)


def live_identities(
    pollers: Iterable[PollerInfo], now: datetime, within: timedelta = LIVE_WITHIN
) -> set[str]:
    """The identities of the pollers seen within ``within`` of ``now``."""
    return {
        p.identity for p in pollers if p.last_access_time.ToDatetime(tzinfo=UTC) >= now - within
    }


async def worker_polling(client: Client, task_queue: str) -> Finding:
    counts: dict[str, set[str]] = {}
    seen: set[str] = set()
    try:
        for kind, label in (
            (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "workflow"),
            (TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, "activity"),
        ):
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(
                        name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL
                    ),
                    task_queue_type=kind,
                )
            )
            counts[label] = live_identities(described.pollers, datetime.now(UTC))
            seen |= {p.identity for p in described.pollers}
    except RPCError as error:
        return fail("worker", f"cannot describe task queue {task_queue!r}: {error.message}")
    workers = counts["workflow"] | counts["activity"]
    gone = seen - workers
    if not counts["workflow"]:
        earlier = f" ({len(gone)} seen earlier, gone now)" if gone else ""
        return fail(
            "worker",
            f"no worker is polling task queue {task_queue!r}{earlier}: cases "
            "stand still; start one with `onechain worker` (or check ONECHAIN_TASK_QUEUE)",
        )
    if not counts["activity"]:
        return fail("worker", f"workers poll {task_queue!r} for workflows but not activities")
    earlier = f"; {len(gone)} seen in the last minutes no longer poll" if gone else ""
    return ok("worker", f"{len(workers)} live worker(s) polling task queue {task_queue!r}{earlier}")
