"""Cases changed around onechain (reset, terminated, deleted, started with the stock
``temporal`` CLI): none should exist, and any that does must be on the audit trail."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio.client import Client

from doctor.findings import Finding, fail, ok, warn

CHECK = "outside changes"
#: Changes named in the finding's one line; the rest are counted.
NAMED = 3


async def outside_changes(client: Client, engine: Engine, task_queue: str) -> Finding:
    """Fail while Temporal shows changes not yet recorded (``onechain reconcile`` records
    them) for cases on ``task_queue``, or deleted; warn while cases are marked 「外部改动」 (a supervisor decides what to do)."""
    from readmodel.database import read_session
    from readmodel.outside import altered_count, unrecorded
    from runtime.outside_sweep import find_changes

    found = await find_changes(client, engine, task_queue=task_queue)
    new = unrecorded(engine, found)
    with read_session(engine) as session:
        marked = altered_count(session)
    if new:
        named = "; ".join(f"{c.case_no} {c.summary}" for c in new[:NAMED])
        more = f" and {len(new) - NAMED} more" if len(new) > NAMED else ""
        return fail(
            CHECK,
            f"{len(new)} change(s) made around onechain not on the audit trail: {named}{more} "
            "— run `onechain reconcile` to mark and record them",
        )
    if found or marked:
        return warn(
            CHECK,
            f"{marked} case(s) marked 「外部改动」 (changed outside onechain), all recorded: "
            "see `onechain cases list --status altered` and the audit trail",
        )
    return ok(CHECK, "no case was reset, terminated, deleted or started around onechain")
