"""Audit rows sealed with a key outside the database (issue 20).

Each audit row names the audit key that sealed it (an HMAC-SHA256 in ``row_hash``,
``readmodel.audit``). Rows written before this revision keep ``key_id`` NULL: they are
the legacy keyless SHA-256 chain, still verified as such, and the first keyed row
chains on the last of them.

Revision ID: 0006_audit_key_id
Revises: 0005_case_and_task_clocks
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_audit_key_id"
down_revision: str | None = "0005_case_and_task_clocks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_id")
