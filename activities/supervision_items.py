"""What a 督办 item's workflow reads and writes outside itself.

``load_finding`` is a local activity, so the finding the item was sent for lands in
history and replay never reads the table again. ``record_supervision_step`` writes one
step to the item's row, the audit trail and the notifications, in one transaction and
once (a retried attempt finds the step recorded and writes nothing).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlmodel import Session
from temporalio import activity

from activities.projection import read_model_engine
from domain.projection import Notification
from domain.supervision_items import (
    STEP_ZH,
    FindingBrief,
    ItemStep,
    RecordItemStep,
    supervision_workflow_id,
)
from readmodel.audit import AuditEntry, append
from readmodel.database import read_session, write_session
from readmodel.projection import record_notification
from readmodel.supervision import FindingRecord, SupervisionItemRecord

logger = logging.getLogger(__name__)

#: The audit trail's kind for 督办 steps (shown in the case's timeline).
AUDIT_KIND = "supervision_item"


@activity.defn(name="load_finding")
def load_finding(finding_id: int) -> FindingBrief | None:
    with read_session(read_model_engine()) as session:
        row = session.get(FindingRecord, finding_id)
        if row is None or row.id is None:
            return None
        return FindingBrief(
            id=row.id,
            rule=row.rule,
            case_no=row.case_no,
            department=row.department,
            severity=row.severity,
            sentence=row.sentence,
        )


def _apply(item: SupervisionItemRecord, request: RecordItemStep) -> None:
    step = request.step
    item.status = step.status.value
    item.steps = step.no
    item.updated_at = step.at
    if step.step is ItemStep.SEND:
        item.sent_by, item.sent_at, item.respond_by = step.actor.user_id, step.at, step.respond_by
    elif step.step is ItemStep.RESPOND:
        item.responded_at, item.response = step.at, step.reason
    elif step.step in (ItemStep.ESCALATE, ItemStep.OVERDUE):
        item.escalated_at = step.at
    elif step.step is ItemStep.CLOSE:
        item.closed_at = step.at


def _audit_entry(request: RecordItemStep) -> AuditEntry:
    finding, step = request.finding, request.step
    return AuditEntry(
        at=step.at,
        kind=AUDIT_KIND,
        actor_id=step.actor.user_id,
        actor_name=step.actor.name,
        actor_role=step.actor.role.value,
        case_no=finding.case_no,
        summary=f"督办 #{finding.id} {STEP_ZH[step.step]}：{finding.sentence}"[:500],
        reason=step.reason,
        data={
            "finding_id": finding.id,
            "rule": finding.rule,
            "department": finding.department,
            "step": step.step.value,
            "status": step.status.value,
            "step_no": step.no,
            "workflow_id": supervision_workflow_id(finding.id),
        },
    )


def _notification(request: RecordItemStep) -> Notification:
    finding, step = request.finding, request.step
    return Notification(
        case_no=finding.case_no or "",
        seq=step.no,
        kind=f"supervision:{finding.id}",
        recipients=request.notify,
        message=f"督办 #{finding.id} {STEP_ZH[step.step]}：{finding.sentence}（{step.reason}）",
        at=step.at,
    )


def record_step(session: Session, request: RecordItemStep) -> bool:
    """Write the step unless it is already written; True if it was new."""
    finding = request.finding
    item = session.get(SupervisionItemRecord, finding.id)
    if item is not None and item.steps >= request.step.no:
        return False
    item = item or SupervisionItemRecord(
        finding_id=finding.id,
        status=request.step.status.value,
        rule=finding.rule,
        case_no=finding.case_no,
        department=finding.department,
        updated_at=datetime.now(UTC),
    )
    _apply(item, request)
    session.add(item)
    append(session, [_audit_entry(request)])
    if request.notify:
        record_notification(session, _notification(request))
    return True


@activity.defn(name="record_supervision_step")
def record_supervision_step(request: RecordItemStep) -> None:
    with write_session(read_model_engine()) as session:
        new = record_step(session, request)
    logger.info(
        "supervision item %d step %d %s %s",
        request.finding.id,
        request.step.no,
        request.step.step.value,
        "recorded" if new else "already recorded",
    )
