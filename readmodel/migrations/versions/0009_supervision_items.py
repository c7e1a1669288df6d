"""督办 items (issue 22): one row per finding sent to a department; the audit trail
indexed by kind.

Revision ID: 0009_supervision_items
Revises: 0008_supervision
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_supervision_items"
down_revision: str | None = "0008_supervision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How readmodel.tables.UTCDateTime is stored.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "supervision_items",
        sa.Column("finding_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("sent_by", sa.String(length=64), nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("respond_by", UTC_DATETIME, nullable=True),
        sa.Column("responded_at", UTC_DATETIME, nullable=True),
        sa.Column("response", sa.String(), nullable=True),
        sa.Column("escalated_at", UTC_DATETIME, nullable=True),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_index(
        "ix_supervision_items_department", "supervision_items", ["department", "status"]
    )
    op.create_index("ix_supervision_items_status", "supervision_items", ["status", "updated_at"])
    # 电子监察 reads the audit trail by kind (rules' month queries, integrity checks)
    op.create_index("ix_audit_kind", "audit_log", ["kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_kind", table_name="audit_log")
    op.drop_index("ix_supervision_items_status", table_name="supervision_items")
    op.drop_index("ix_supervision_items_department", table_name="supervision_items")
    op.drop_table("supervision_items")
