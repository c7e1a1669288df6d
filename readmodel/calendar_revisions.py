"""Which running cases compute their due dates with an older calendar revision.

The read model's ``cases.calendar_revision`` is what each case recorded (migration
0010). `doctor`, the console and `calendar load` (to skip cases already on the new
revision when a load is resumed) ask here. "" means unknown: a case admitted before
revisions were recorded; it counts as older.
"""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import col, select

from readmodel.database import read_session
from readmodel.tables import CaseRecord

RUNNING = "running"


def running_behind(engine: Engine, revision: str) -> int:
    """How many running cases are not on ``revision``."""
    with read_session(engine) as session:
        query = select(func.count()).where(
            CaseRecord.status == RUNNING, col(CaseRecord.calendar_revision) != revision
        )
        return int(session.exec(query).one())


def running_on(engine: Engine, revision: str) -> frozenset[str]:
    """Running cases whose read-model row already shows ``revision``."""
    with read_session(engine) as session:
        query = select(CaseRecord.case_no).where(
            CaseRecord.status == RUNNING, CaseRecord.calendar_revision == revision
        )
        return frozenset(session.exec(query).all())
