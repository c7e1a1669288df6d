"""帮办代办 (issue 26): each case's 代办员, and the day's rota.

Revision ID: 0012_case_agent
Revises: 0011_case_calendar_revision
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_case_agent"
down_revision: str | None = "0011_case_calendar_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How readmodel.tables.UTCDateTime is stored.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("agent", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_cases_agent_urgency", "cases", ["agent", "warning_rank", "due_sort", "case_no"]
    )
    op.create_table(
        "agent_rota",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", UTC_DATETIME, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_rota")
    op.drop_index("ix_cases_agent_urgency", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("agent")
