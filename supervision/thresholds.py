"""Rule thresholds: the rule's defaults, overridden by what an administrator stored.

Values are checked by the rule's pydantic model, so an out-of-range value is refused
with the field's bounds before it reaches the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from readmodel.supervision import ThresholdRecord
from supervision.registry import get_rule
from supervision.rule import Rule


class ThresholdError(ValueError):
    pass


def current(session: Session, code: str) -> BaseModel:
    """The thresholds the registered rule ``code`` evaluates with now."""
    return of_rule(session, get_rule(code))


def of_rule(session: Session, rule: Rule) -> BaseModel:
    """``rule``'s thresholds now: its defaults, overridden by what is stored."""
    stored = session.get(ThresholdRecord, rule.code)
    return rule.Thresholds.model_validate(stored.thresholds if stored else {})


def changed(session: Session, code: str, name: str, value: str) -> BaseModel:
    """The thresholds of ``code`` with ``name`` set to ``value`` (validated, not stored)."""
    rule = get_rule(code)
    fields = rule.Thresholds.model_fields
    if name not in fields:
        known = ", ".join(fields) or "none"
        raise ThresholdError(f"rule {code} has no threshold {name!r} (thresholds: {known})")
    values: dict[str, Any] = current(session, code).model_dump()
    values[name] = value
    try:
        return rule.Thresholds.model_validate(values)
    except ValidationError as error:
        problem = error.errors()[0]["msg"]
        raise ThresholdError(f"threshold {code}.{name}={value!r} refused: {problem}") from None


def store(session: Session, code: str, thresholds: BaseModel, by: str) -> None:
    record = session.get(ThresholdRecord, code) or ThresholdRecord(
        rule=code, updated_by=by, updated_at=datetime.now(UTC)
    )
    record.thresholds = thresholds.model_dump()
    record.updated_by = by
    record.updated_at = datetime.now(UTC)
    session.add(record)
