"""A worker polling onechain's task queue: without one, no case moves."""

from __future__ import annotations

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from doctor.findings import Finding, fail, ok


async def worker_polling(client: Client, task_queue: str) -> Finding:
    counts: dict[str, set[str]] = {}
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
            counts[label] = {p.identity for p in described.pollers}
    except RPCError as error:
        return fail("worker", f"cannot describe task queue {task_queue!r}: {error.message}")
    workers = counts["workflow"] | counts["activity"]
    if not counts["workflow"]:
        return fail(
            "worker",
            f"no worker is polling task queue {task_queue!r} (in the last minutes): cases "
            "stand still; start one with `onechain worker` (or check ONECHAIN_TASK_QUEUE)",
        )
    if not counts["activity"]:
        return fail("worker", f"workers poll {task_queue!r} for workflows but not activities")
    return ok("worker", f"{len(workers)} worker(s) polling task queue {task_queue!r}")
