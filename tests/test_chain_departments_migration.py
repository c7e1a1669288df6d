"""Revision 0010 seeds the departments the new chains need (the talent office), and
leaves a code an office already added by hand as it was."""

from __future__ import annotations

from sqlalchemy import text

from readmodel.database import make_engine
from readmodel.departments import DepartmentNames
from readmodel.schema import migrate

BEFORE = "0009_supervision_items"
SEEDING = "0010_chain_departments"


def _names(engine: object) -> dict[str, str]:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        rows = connection.execute(text("SELECT code, name FROM departments")).all()
    return {code: name for code, name in rows}


def test_the_talent_office_is_seeded_and_removed_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, BEFORE)
        assert "talent" not in _names(engine)
        migrate(engine, SEEDING)
        assert _names(engine)["talent"] == "人才工作领导小组办公室（人才办）"
        assert DepartmentNames.of(engine)("talent") == "人才工作领导小组办公室（人才办）"
        migrate(engine, BEFORE, down=True)
        assert "talent" not in _names(engine)
    finally:
        engine.dispose()


def test_a_code_the_office_added_by_hand_keeps_its_name(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, BEFORE)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO departments (code, name, updated_at, updated_by) "
                    "VALUES ('talent', '市委人才办', CURRENT_TIMESTAMP, 'admin')"
                )
            )
        migrate(engine, SEEDING)
        assert _names(engine)["talent"] == "市委人才办"
        migrate(engine, BEFORE, down=True)  # not the revision's row: it stays
        assert _names(engine)["talent"] == "市委人才办"
    finally:
        engine.dispose()
