"""Official holiday schedules and departments move into the shared database (issue 9).

``calendar_schedules``: one row per year loaded with ``onechain calendar load``.
**One-time import**: the schedule files older versions kept in the data folder of
the machine that runs this upgrade (``<ONECHAIN_DATA_DIR>/calendars/<year>.json``)
are copied in, so an upgraded office loses no loaded year. The files are left where
they are and never read again. A damaged file stops the upgrade (nothing is
written) with a message naming it: a wrong date would move legal deadlines, so it
is not skipped silently — fix it or move it aside, then upgrade again. A database
given the schema on first use imports the files of the process that created it.

``departments``: seeded with the list the code had at this revision (copied here,
not imported, so this revision always seeds the same rows).

Revision ID: 0004_calendars_departments
Revises: 0003_licence_holder_hash
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0004_calendars_departments"
down_revision: str | None = "0003_licence_holder_hash"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED_BY = "0004_calendars_departments"

DEPARTMENTS_AT_0003: dict[str, str] = {
    "window": "政务服务中心综合窗口",
    "education": "教育局",
    "fire": "消防救援支队",
    "health": "卫生健康委",
    "market": "市场监管局",
    "civil_affairs": "民政局",
    "urban": "城市管理局",
    "ecology": "生态环境局",
    "public_security": "公安局",
    "bank": "开户银行",
    "tax": "税务局",
    "hrss": "人力资源社会保障局",
    "natural_resources": "自然资源和规划局",
    "housing": "住房城乡建设局",
    "civil_defence": "人防办",
    "water": "水利局",
    "seismic": "地震局",
    "traffic": "交通运输局",
    "quality": "工程质量监督站",
    "archives": "城建档案馆",
    "development": "发展改革委",
    "culture_tourism": "文化和旅游局",
    "sports": "体育局",
}


def _now() -> datetime:
    # SQLite keeps readmodel.tables.UTCDateTime values naive (UTC); PostgreSQL aware.
    now = datetime.now(UTC).replace(microsecond=0)
    return now.replace(tzinfo=None) if op.get_context().dialect.name == "sqlite" else now


def legacy_calendars_dir() -> Path:
    """Where older versions saved loaded schedules on this machine."""
    from runtime.settings import get_settings

    return get_settings().calendars_dir


def _legacy_schedules() -> list[dict[str, object]]:
    from domain.calendar_sources import ScheduleFileError, saved_schedules
    from readmodel.errors import ReadModelError

    folder = legacy_calendars_dir()
    try:
        schedules = saved_schedules(folder)
    except ScheduleFileError as error:
        raise ReadModelError(
            f"cannot import the loaded holiday schedule {error.path}: {error.problem}. "
            "Fix the file or move it out of that folder, then upgrade again "
            "(and load the year with `onechain calendar load` afterwards)"
        ) from None
    return [
        {
            "year": s.year,
            "holidays": [d.isoformat() for d in sorted(s.holidays)],
            "workdays": [d.isoformat() for d in sorted(s.workdays)],
            "source": s.source,
            "loaded_at": _now(),
            "loaded_by": f"imported from {s.year}.json",
        }
        for s in schedules.values()
    ]


def upgrade() -> None:
    calendars = op.create_table(
        "calendar_schedules",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    departments = op.create_table(
        "departments",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    now = _now()
    op.bulk_insert(
        departments,
        [
            {"code": code, "name": name, "updated_at": now, "updated_by": SEEDED_BY}
            for code, name in DEPARTMENTS_AT_0003.items()
        ],
    )
    if rows := _legacy_schedules():
        op.bulk_insert(calendars, rows)


def downgrade() -> None:
    # Loaded schedules and departments added since are lost: back up before downgrading.
    op.drop_table("departments")
    op.drop_table("calendar_schedules")
