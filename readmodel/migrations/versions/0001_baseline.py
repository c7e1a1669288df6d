"""Baseline: the read model as onechain created it before migrations.

Exactly what ``SQLModel.metadata.create_all`` made from ``readmodel/tables.py`` at
that time (tests/test_migrations.py compares the two on SQLite and PostgreSQL), so a
database made before migrations is stamped with this revision instead of rebuilt.

Column types are plain SQLAlchemy on purpose: ``DateTime(timezone=True)`` is how
``readmodel.tables.UTCDateTime`` is stored (its UTC handling is Python-side), and
``String(n)`` is what SQLModel's ``AutoString`` renders. Defaults live in Python, so
there are no server defaults. Unnamed unique constraints stay unnamed, as create_all
made them (PostgreSQL names them ``<table>_<columns>_key``).

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How readmodel.tables.UTCDateTime is stored.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_departments",
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("case_no", "department"),
    )
    op.create_index("ix_case_departments_department", "case_departments", ["department", "case_no"])

    op.create_table(
        "cases",
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("chain_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("applicant_id_masked", sa.String(length=32), nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("acceptance", sa.String(length=32), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("statutory_due_on", sa.Date(), nullable=False),
        sa.Column("warning", sa.String(length=16), nullable=False),
        sa.Column("case_warning", sa.String(length=16), nullable=False),
        sa.Column("open_departments", sa.JSON(), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("concluded_at", UTC_DATETIME, nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("warning_rank", sa.Integer(), nullable=False),
        sa.Column("due_sort", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("case_no"),
    )
    op.create_index("ix_cases_warning_due", "cases", ["warning", "due_sort", "case_no"])
    op.create_index("ix_cases_urgency", "cases", ["warning_rank", "due_sort", "case_no"])
    op.create_index(
        "ix_cases_chain_status_urgency",
        "cases",
        ["chain", "status", "warning_rank", "due_sort", "case_no"],
    )
    op.create_index(
        "ix_cases_status_urgency", "cases", ["status", "warning_rank", "due_sort", "case_no"]
    )

    op.create_table(
        "credit_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.String(length=64), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_no", "kind"),
    )
    op.create_index("ix_credit_records_holder_id", "credit_records", ["holder_id"])

    op.create_table(
        "events",
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("case_no", "seq"),
    )
    op.create_index("ix_events_actor_at", "events", ["actor_id", "at"])

    op.create_table(
        "licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("holder_id", sa.String(length=64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_reason", sa.String(), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index("ix_licences_holder_type", "licences", ["holder_id", "type"])
    op.create_index("ix_licences_case_no", "licences", ["case_no"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_no", "seq", "kind", name="uq_notifications_key"),
    )

    op.create_table(
        "publications",
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("licence_numbers", sa.JSON(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("published_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("case_no"),
    )

    op.create_table(
        "tasks",
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("open_departments", sa.JSON(), nullable=False),
        sa.Column("assignees", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("concluded_at", UTC_DATETIME, nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("warning", sa.String(length=16), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("extension_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_no", "task_id"),
    )
    op.create_index("ix_tasks_status_due", "tasks", ["status", "due_on"])


def downgrade() -> None:
    for table in (
        "tasks",
        "publications",
        "notifications",
        "licences",
        "events",
        "credit_records",
        "cases",
        "case_departments",
    ):
        op.drop_table(table)  # drops the table's indexes with it
