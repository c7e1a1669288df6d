"""The case's and each task's clock in the read model (issue 12).

Lists and the case page must agree on 剩余 / 超 N: both count with
``domain.deadlines.days_left`` over the same clock, stopped periods included, and a
late case says which task is late and which periods were stopped. The clock is the
workflow's ``domain.case.Clock`` as JSON, written by the projection with the rows.
Rows written before this revision have no clock (NULL) until their case's next
projection; lists then count from the due date alone, as before.

Revision ID: 0005_case_and_task_clocks
Revises: 0004_calendars_departments
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_case_and_task_clocks"
down_revision: str | None = "0004_calendars_departments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("promised_clock", sa.JSON(), nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("clock", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("clock")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("promised_clock")
