"""Reading the read model: filtered, paged case lists and per-case details.

Lists are paged and sorted in SQL (the TUI shows a window of rows, never all of
them). "Most urgent first" is red, then yellow, then the nearest next due date,
then case number; it uses the stored ``warning_rank``/``due_sort`` keys so the
indexes in ``readmodel.tables`` can serve it directly.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_
from sqlmodel import Session, col, select

from readmodel.holders import holder_hash
from readmodel.tables import (
    CaseDepartmentRecord,
    CaseRecord,
    CreditRecord,
    EventRecord,
    LicenceStoreRecord,
    NotificationRecord,
    PublicationRecord,
    TaskRecord,
)

#: The warning level that means a limit has passed (红牌超期).
OVERDUE_WARNING = "red"

OneOrMany = str | Collection[str] | None


def _match(column: Any, value: OneOrMany) -> ColumnElement[bool] | None:
    """``column = value`` for one value, ``column IN (...)`` for several, nothing for None."""
    if value is None:
        return None
    if isinstance(value, str):
        return col(column) == str(value)
    return col(column).in_([str(v) for v in value])


def _case_filters(
    *,
    chain: OneOrMany,
    status: OneOrMany,
    department: str | None,
    warning: OneOrMany,
    overdue_only: bool,
    search: str | None,
) -> list[ColumnElement[bool]]:
    filters = [
        f
        for f in (
            _match(CaseRecord.chain, chain),
            _match(CaseRecord.status, status),
            _match(CaseRecord.warning, warning),
        )
        if f is not None
    ]
    if overdue_only:
        filters.append(col(CaseRecord.warning) == OVERDUE_WARNING)
    if department:
        pending_here = select(CaseDepartmentRecord.case_no).where(
            CaseDepartmentRecord.department == department
        )
        filters.append(col(CaseRecord.case_no).in_(pending_here))
    text = (search or "").strip()
    if text:
        filters.append(
            or_(
                col(CaseRecord.case_no).icontains(text, autoescape=True),
                col(CaseRecord.applicant_name).icontains(text, autoescape=True),
            )
        )
    return filters


def list_cases(
    session: Session,
    *,
    chain: OneOrMany = None,
    status: OneOrMany = None,
    department: str | None = None,
    warning: OneOrMany = None,
    overdue_only: bool = False,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[CaseRecord]:
    """One page of cases, most urgent first.

    ``chain``, ``status`` and ``warning`` take one value or several. ``department``
    keeps cases currently waiting on that department. ``overdue_only`` keeps red
    cases. ``search`` matches part of the case number or the applicant's name.
    """
    stmt: Select[Any] = (
        select(CaseRecord)
        .where(
            *_case_filters(
                chain=chain,
                status=status,
                department=department,
                warning=warning,
                overdue_only=overdue_only,
                search=search,
            )
        )
        .order_by(
            col(CaseRecord.warning_rank),
            col(CaseRecord.due_sort),
            col(CaseRecord.case_no),
        )
        .limit(limit)
        .offset(offset)
    )
    return list(session.exec(stmt).all())


def count_cases(
    session: Session,
    *,
    chain: OneOrMany = None,
    status: OneOrMany = None,
    department: str | None = None,
    warning: OneOrMany = None,
    overdue_only: bool = False,
    search: str | None = None,
) -> int:
    """How many cases ``list_cases`` would page through with the same filters."""
    stmt = (
        select(func.count())
        .select_from(CaseRecord)
        .where(
            *_case_filters(
                chain=chain,
                status=status,
                department=department,
                warning=warning,
                overdue_only=overdue_only,
                search=search,
            )
        )
    )
    return int(session.exec(stmt).one())


def get_case(session: Session, case_no: str) -> CaseRecord | None:
    """The case row, or None if the case has not been projected (yet)."""
    return session.get(CaseRecord, case_no)


def case_tasks(session: Session, case_no: str) -> list[TaskRecord]:
    """The case's tasks in the order they started."""
    stmt = (
        select(TaskRecord)
        .where(TaskRecord.case_no == case_no)
        .order_by(col(TaskRecord.started_at), col(TaskRecord.task_id))
    )
    return list(session.exec(stmt).all())


def case_events(session: Session, case_no: str) -> list[EventRecord]:
    """The case's audit log in sequence order."""
    stmt = select(EventRecord).where(EventRecord.case_no == case_no).order_by(col(EventRecord.seq))
    return list(session.exec(stmt).all())


def notifications(session: Session, case_no: str | None = None) -> list[NotificationRecord]:
    """Stored notifications, oldest first; all of them or one case's."""
    stmt = select(NotificationRecord)
    if case_no is not None:
        stmt = stmt.where(NotificationRecord.case_no == case_no)
    stmt = stmt.order_by(col(NotificationRecord.at), col(NotificationRecord.id))
    return list(session.exec(stmt).all())


def licences_for_holder(
    session: Session, holder_id: str, type: str | None = None, *, lookup_key: bytes
) -> list[LicenceStoreRecord]:
    """The licences issued to a holder (optionally of one type), oldest first; found
    by the keyed hash of ``holder_id`` (the store keeps no ids)."""
    stmt = select(LicenceStoreRecord).where(
        LicenceStoreRecord.holder_hash == holder_hash(lookup_key, holder_id)
    )
    if type is not None:
        stmt = stmt.where(LicenceStoreRecord.type == type)
    stmt = stmt.order_by(col(LicenceStoreRecord.issued_on), col(LicenceStoreRecord.number))
    return list(session.exec(stmt).all())


def valid_licences(
    session: Session, holder_id: str, types: Collection[str], on: date, *, lookup_key: bytes
) -> list[LicenceStoreRecord]:
    """The holder's licences of these types that count on ``on``: issued by then, not
    expired, not revoked (a later case reuses them instead of asking again)."""
    if not types:
        return []
    stmt = (
        select(LicenceStoreRecord)
        .where(LicenceStoreRecord.holder_hash == holder_hash(lookup_key, holder_id))
        .where(col(LicenceStoreRecord.type).in_(list(types)))
        .where(LicenceStoreRecord.status == "valid")
        .where(LicenceStoreRecord.issued_on <= on)
        .where(
            or_(col(LicenceStoreRecord.valid_to).is_(None), col(LicenceStoreRecord.valid_to) >= on)
        )
        .order_by(col(LicenceStoreRecord.issued_on).desc())
    )
    return list(session.exec(stmt).all())


def credit_records(session: Session, holder_id: str, *, lookup_key: bytes) -> list[CreditRecord]:
    """The holder's credit marks, found by the keyed hash of ``holder_id``."""
    stmt = select(CreditRecord).where(
        CreditRecord.holder_hash == holder_hash(lookup_key, holder_id)
    )
    return list(session.exec(stmt).all())


def publication(session: Session, case_no: str) -> PublicationRecord | None:
    return session.get(PublicationRecord, case_no)
