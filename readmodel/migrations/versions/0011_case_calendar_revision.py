"""Each case's calendar revision (issue 23): which loaded schedules its due dates use.

Cases projected before this revision get "" (unknown): `doctor` and the console count
them as on an older revision until a `calendar load` tells them, which also records the
revision they now use.

Revision ID: 0011_case_calendar_revision
Revises: 0010_chain_departments
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_case_calendar_revision"
down_revision: str | None = "0010_chain_departments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("calendar_revision", sa.String(length=32), nullable=False, server_default="")
        )
    # doctor's and the console's count: running cases not on the current revision
    op.create_index("ix_cases_status_calendar", "cases", ["status", "calendar_revision"])


def downgrade() -> None:
    op.drop_index("ix_cases_status_calendar", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("calendar_revision")
