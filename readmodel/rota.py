"""The 帮办代办 rota (首席帮办代办轮流值班): who is the day's 代办员.

A coordinator sets one person per working day (``onechain daiban rota set``); the
worker's admission reads the day a case is accepted and names that person the
case's 代办员 (``activities.admission``). Like users and calendars these rows are the
office's own records, not derived from Temporal: back them up with the database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Field, SQLModel, select

from readmodel.database import read_session, write_session
from readmodel.tables import UTCDateTime


class RotaRecord(SQLModel, table=True):
    """One working day's 代办员 and who set it, when and why."""

    __tablename__ = "agent_rota"

    day: date = Field(primary_key=True)
    user_id: str = Field(max_length=64)
    set_by: str = Field(max_length=64)
    set_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=500)


def set_rota(engine: Engine, day: date, user_id: str, *, by: str, reason: str = "") -> str | None:
    """Make ``user_id`` the 代办员 on duty for ``day``; returns who was before (or None)."""
    with write_session(engine) as session:
        row = session.get(RotaRecord, day)
        before = row.user_id if row is not None else None
        if row is None:
            row = RotaRecord(day=day, user_id=user_id, set_by=by, set_at=datetime.now(UTC))
        row.user_id, row.set_by, row.set_at, row.reason = user_id, by, datetime.now(UTC), reason
        session.add(row)
    return before


def on_duty(engine: Engine, day: date) -> str | None:
    """The day's 代办员 by user id, or None when no one is set."""
    with read_session(engine) as session:
        row = session.get(RotaRecord, day)
        return row.user_id if row is not None else None


def rota_between(engine: Engine, first: date, last: date) -> list[RotaRecord]:
    """The rota's days from ``first`` to ``last`` (inclusive), in order."""
    with read_session(engine) as session:
        rows = session.exec(
            select(RotaRecord)
            .where(RotaRecord.day >= first, RotaRecord.day <= last)
            .order_by(RotaRecord.day)
        ).all()
        return [RotaRecord.model_validate(r.model_dump()) for r in rows]
