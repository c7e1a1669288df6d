"""Departments the 人才引进 chain needs (issue 21): the talent office (人才办).

Seeded with the rows the code's list gained at this revision (copied here, not
imported, so this revision always seeds the same rows). A code the office already
added by hand (``onechain departments add``) is left as it is, with its name.

Revision ID: 0010_chain_departments
Revises: 0009_supervision_items
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

revision: str = "0010_chain_departments"
down_revision: str | None = "0009_supervision_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED_BY = "0010_chain_departments"
ADDED_AT_0010: dict[str, str] = {"talent": "人才工作领导小组办公室（人才办）"}

_DEPARTMENTS = sa.table(
    "departments",
    sa.column("code", sa.String(32)),
    sa.column("name", sa.String(64)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("updated_by", sa.String(64)),
)


def _now() -> datetime:
    # SQLite keeps readmodel.tables.UTCDateTime values naive (UTC); PostgreSQL aware.
    now = datetime.now(UTC).replace(microsecond=0)
    return now.replace(tzinfo=None) if op.get_context().dialect.name == "sqlite" else now


def upgrade() -> None:
    # Offline (`db upgrade --sql`) nothing can be read: the SQL inserts every row (an
    # office that added one of these codes by hand deletes that INSERT first).
    there: set[str] = set()
    if not context.is_offline_mode():
        there = {row[0] for row in op.get_bind().execute(sa.select(_DEPARTMENTS.c.code))}
    rows = [
        {"code": code, "name": name, "updated_at": _now(), "updated_by": SEEDED_BY}
        for code, name in ADDED_AT_0010.items()
        if code not in there
    ]
    if rows:
        op.bulk_insert(_DEPARTMENTS, rows)


def downgrade() -> None:
    # Only the rows this revision seeded (one renamed since keeps its name and stays).
    op.execute(
        _DEPARTMENTS.delete().where(
            _DEPARTMENTS.c.code.in_(list(ADDED_AT_0010)) & (_DEPARTMENTS.c.updated_by == SEEDED_BY)
        )
    )
