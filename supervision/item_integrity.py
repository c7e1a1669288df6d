"""督办 items changed around onechain: noticed, and put on the record as outside changes.

An insider who wants a late department to look punctual has two doors besides the
engine: terminate (or cancel) the item's workflow with the stock ``temporal`` CLI, so
it never escalates; or edit its row in ``supervision_items``, which lists and the
monthly report read. Neither passes through the item's Updates, and neither can touch
the sealed audit trail, which holds every step the workflow took. So:

* a visibility query lists item workflows in a closed status onechain never produces
  (terminated, cancelled, timed out; an item nobody sent *fails* on purpose);
* each row of ``supervision_items`` is compared with the item's last step on the
  audit trail (status and step count), and every finding the trail sealed when it was
  stored must still be in ``supervision_findings`` as it was (rule, department,
  severity): deleting a finding to hide a department's record is noticed too.

What differs becomes an audit row of kind ``outside_change`` (once per change), which
the ``outside_change`` rule turns into a finding for the supervisors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from readmodel.audit import AuditEntry, AuditRecord, _lock_head, append
from readmodel.database import read_session, write_session
from readmodel.outside import AUDIT_KIND as OUTSIDE_KIND
from readmodel.supervision import SupervisionItemRecord

#: The audit kind of 督办 steps (``activities.supervision_items``).
STEP_KIND = "supervision_item"
ABNORMAL_ITEMS = (
    "WorkflowType = 'SupervisionItemWorkflow' AND ExecutionStatus != 'Running' "
    "AND ExecutionStatus != 'Completed' AND ExecutionStatus != 'Failed'"
)


#: Changes seen in Temporal (the others were made in the database).
_TEMPORAL = frozenset({"terminated", "canceled", "timed_out", "closed"})


@dataclass(frozen=True)
class ItemChange:
    finding_id: int
    key: str  # once per change
    what: str
    summary: str
    at: datetime
    identity: str = ""


def _finding_id(workflow_id: str) -> int | None:
    number = workflow_id.removeprefix("dubian-")
    return int(number) if number.isdigit() else None


async def abnormal_items(client: Client) -> list[ItemChange]:
    """Item workflows terminated, cancelled or timed out (never onechain's doing)."""
    found: list[ItemChange] = []
    async for execution in client.list_workflows(ABNORMAL_ITEMS):
        finding_id = _finding_id(execution.id)
        if finding_id is None:
            continue
        status = execution.status.name.lower() if execution.status else "closed"
        found.append(
            ItemChange(
                finding_id=finding_id,
                key=f"item:{status}:{execution.run_id}",
                what=status,
                summary=f"督办事项 #{finding_id} 的流程被外部{status}（item workflow {status} "
                "outside onechain）",
                at=execution.close_time or datetime.now(UTC),
            )
        )
    return found


def table_mismatches(session: Session) -> list[ItemChange]:
    """Rows of ``supervision_items`` that say something the audit trail does not."""
    last: dict[int, tuple[str, int]] = {}
    for data in session.exec(
        select(AuditRecord.data).where(AuditRecord.kind == STEP_KIND).order_by(col(AuditRecord.id))
    ):
        finding_id = (data or {}).get("finding_id")
        if isinstance(finding_id, int):
            steps = last.get(finding_id, ("", 0))[1]
            last[finding_id] = (str(data.get("status")), steps + 1)
    found: list[ItemChange] = []
    for item in session.exec(select(SupervisionItemRecord)):
        recorded = last.get(item.finding_id)
        if recorded == (item.status, item.steps):
            continue
        trail = f"{recorded[0]}，{recorded[1]} 步" if recorded else "无记录"
        found.append(
            ItemChange(
                finding_id=item.finding_id,
                key=f"item-row:{item.finding_id}:{item.status}:{item.steps}",
                what="row_edited",
                summary=f"督办事项 #{item.finding_id} 的记录与审计链不符：表中为 {item.status}，"
                f"{item.steps} 步；审计链为 {trail}（supervision_items edited outside onechain）",
                at=datetime.now(UTC),
            )
        )
    return found


def finding_mismatches(session: Session) -> list[ItemChange]:
    """Findings the sealed trail records that the findings table lost or says otherwise
    (deleted or edited in the database to hide a department's record)."""
    from readmodel.supervision import FindingRecord
    from supervision.engine import FINDING_KIND

    table = {
        f.key: (f.rule, f.department, f.severity, f.id or 0)
        for f in session.exec(select(FindingRecord))
    }
    found: list[ItemChange] = []
    for data in session.exec(select(AuditRecord.data).where(AuditRecord.kind == FINDING_KIND)):
        key = str((data or {}).get("key"))
        sealed = (data.get("rule"), data.get("department"), data.get("severity"))
        held = table.get(key)
        if held is not None and held[:3] == sealed:
            continue
        what = "finding_deleted" if held is None else "finding_edited"
        said = "已被删除" if held is None else f"与审计链不符（表中 {held[0]}/{held[1]}/{held[2]}）"
        found.append(
            ItemChange(
                finding_id=held[3] if held else 0,
                key=f"{what}:{key}:{held[:3] if held else ''}",
                what=what,
                summary=f"监察发现 {key} {said}（supervision_findings changed outside onechain）",
                at=datetime.now(UTC),
            )
        )
    return found


def record_item_changes(engine: Engine, changes: list[ItemChange]) -> list[ItemChange]:
    """Put each change not yet recorded on the audit trail; returns those that were new."""
    if not changes:
        return []
    with write_session(engine) as session:
        _lock_head(session)
        known = {
            str((data or {}).get("key"))
            for data in session.exec(
                select(AuditRecord.data).where(
                    AuditRecord.kind == OUTSIDE_KIND, AuditRecord.actor_role == "outside"
                )
            )
        }
        new = [c for c in changes if c.key not in known]
        append(
            session,
            [
                AuditEntry(
                    at=c.at,
                    kind=OUTSIDE_KIND,
                    actor_id="temporal:unknown" if c.what in _TEMPORAL else "database:unknown",
                    actor_role="outside",
                    summary=c.summary,
                    data={"key": c.key, "what": c.what, "finding_id": c.finding_id},
                )
                for c in new
            ],
        )
    return new


def check_table(engine: Engine) -> list[ItemChange]:
    """The rows that differ from the trail, recorded; returns those new to the trail."""
    with read_session(engine) as session:
        changes = table_mismatches(session) + finding_mismatches(session)
    return record_item_changes(engine, changes)
