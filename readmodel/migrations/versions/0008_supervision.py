"""电子监察 (issue 22): findings, thresholds and each rule's cursor.

Revision ID: 0008_supervision
Revises: 0007_sign_in_failures
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_supervision"
down_revision: str | None = "0007_sign_in_failures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How readmodel.tables.UTCDateTime is stored.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "supervision_findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(length=200), nullable=False, unique=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("person", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("sentence", sa.String(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("found_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_supervision_findings_rule", "supervision_findings", ["rule", "found_at"])
    op.create_index(
        "ix_supervision_findings_department", "supervision_findings", ["department", "found_at"]
    )
    op.create_table(
        "supervision_thresholds",
        sa.Column("rule", sa.String(length=64), primary_key=True),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "supervision_cursor",
        sa.Column("rule", sa.String(length=64), primary_key=True),
        sa.Column("last_audit_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("supervision_cursor")
    op.drop_table("supervision_thresholds")
    op.drop_index("ix_supervision_findings_department", table_name="supervision_findings")
    op.drop_index("ix_supervision_findings_rule", table_name="supervision_findings")
    op.drop_table("supervision_findings")
