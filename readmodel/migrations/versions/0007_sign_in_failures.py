"""Failed sign-ins per person and per source (issue 20): the sign-in service backs off
after a few failures and locks a person out after many, until an administrator
unlocks (``onechain users unlock``).

Revision ID: 0007_sign_in_failures
Revises: 0006_audit_key_id
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_sign_in_failures"
down_revision: str | None = "0006_audit_key_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How readmodel.tables.UTCDateTime is stored.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(length=128), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTC_DATETIME, nullable=False),
        sa.Column("blocked_until", UTC_DATETIME, nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sign_in_failures")
