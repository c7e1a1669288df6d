"""Departments live in the shared database: seeded from the code's list, added and
renamed by administrators, shown by their office names, checked by ``chains check``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.app import app
from cli.departments import office_department_names
from domain.departments import DEPARTMENTS
from readmodel.database import (
    create_read_model,
    create_schema,
    make_engine,
    read_session,
    ready_engine,
)
from readmodel.departments import (
    DepartmentError,
    DepartmentNames,
    add_department,
    department_codes,
    list_departments,
    rename_department,
)
from runtime.settings import get_settings
from tests.harness import sign_in_cli
from tests.test_cli_cases import wide_terminal
from tests.test_cli_chains import GOOD_CHAIN

# A chain whose only department is one the office has not added yet.
NEW_CODE = "sports_bureau"
SPORTS_CHAIN = GOOD_CHAIN.replace('"market"', f'"{NEW_CODE}"').replace("pharmacy_ok", "sports_ok")


# ---------------------------------------------------------------- the table
def test_seeded_with_the_codes_list_and_changed_by_code(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        create_schema(engine)
        with read_session(engine) as session:
            assert {r.code: r.name for r in list_departments(session)} == DEPARTMENTS
        some = next(iter(DEPARTMENTS))
        add_department(engine, NEW_CODE, "体育局", by="admin")
        assert rename_department(engine, some, "新名称", by="admin") == (
            DEPARTMENTS[some],
            "新名称",
        )
        names = DepartmentNames.of(engine)
        assert names(some) == "新名称" and names(NEW_CODE) == "体育局"
        assert department_codes(engine) == {*DEPARTMENTS, NEW_CODE}
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("code", "name", "says"),
    [
        ("Sports", "体育局", "lower-case"),
        ("s", "体育局", "2–32"),
        ("sports-bureau", "体育局", "lower-case"),
        (NEW_CODE, "  ", "cannot be empty"),
        (NEW_CODE, "体育\x1b[31m局", "control character"),
        (NEW_CODE, "局" * 65, "at most 64"),
    ],
)
def test_bad_codes_and_names_say_what_is_wrong(
    database_url: str, code: str, name: str, says: str
) -> None:
    engine = make_engine(database_url)
    try:
        create_schema(engine)
        with pytest.raises(DepartmentError, match=says):
            add_department(engine, code, name, by="admin")
        assert code not in department_codes(engine) or code in DEPARTMENTS
    finally:
        engine.dispose()


def test_names_fall_back_to_the_code_list_when_the_database_cannot_answer(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'no-schema.sqlite3'}")  # no tables at all
    try:
        names = DepartmentNames.of(engine)
        some = next(iter(DEPARTMENTS))
        assert names(some) == DEPARTMENTS[some] and names("unknown_x") == "unknown_x"
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the commands
@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data folder (and database) with a signed-in session file."""
    monkeypatch.setenv("ONECHAIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    get_settings.cache_clear()
    office_department_names.cache_clear()
    create_read_model(get_settings().resolved_database_url)  # as `onechain db upgrade`
    yield tmp_path / "session.json"
    get_settings.cache_clear()
    office_department_names.cache_clear()


def onechain(*args: str) -> Result:
    with wide_terminal():
        return CliRunner().invoke(app, list(args))


def test_list_needs_no_role_and_shows_every_department(office: Path) -> None:
    result = onechain("departments", "list", "--json")
    assert result.exit_code == 0, result.output
    assert {d["code"]: d["name"] for d in json.loads(result.stdout)} == DEPARTMENTS


def test_add_and_rename_need_an_administrator(office: Path) -> None:
    sign_in_cli(office, "coordinator", user_id="dept-coordinator")
    for args in (("add", NEW_CODE, "体育局"), ("rename", next(iter(DEPARTMENTS)), "x")):
        result = onechain("departments", *args)
        assert result.exit_code == 2 and "administrator" in result.stderr
    assert NEW_CODE not in department_codes(ready_engine(get_settings().resolved_database_url))


def test_add_rename_and_the_names_people_see(office: Path) -> None:
    sign_in_cli(office, "administrator", user_id="dept-admin")
    result = onechain("departments", "add", NEW_CODE, "体育局")
    assert result.exit_code == 0, result.output
    assert onechain("departments", "add", NEW_CODE, "体育局").exit_code == 2  # already there
    unknown = onechain("departments", "rename", "no_such_dept", "某局")
    assert unknown.exit_code == 2 and "no_such_dept" in unknown.stderr
    fire = next(iter(sorted(DEPARTMENTS)))
    result = onechain("departments", "rename", fire, "更名后的部门")
    assert result.exit_code == 0 and DEPARTMENTS[fire] in result.stdout
    listed = {d["code"]: d for d in json.loads(onechain("departments", "list", "--json").stdout)}
    assert listed[NEW_CODE]["name"] == "体育局" and listed[fire]["name"] == "更名后的部门"
    assert listed[fire]["updated_by"] == "dept-admin"
    office_department_names.cache_clear()
    assert office_department_names()(fire) == "更名后的部门"  # what chains show prints
    audit = onechain("audit", "verify")
    assert audit.exit_code == 0, audit.output


def test_chains_check_checks_departments_against_the_database(office: Path, tmp_path: Path) -> None:
    module = tmp_path / "sports.py"
    module.write_text(SPORTS_CHAIN, encoding="utf-8")
    result = onechain("chains", "check", str(module))
    assert result.exit_code == 1
    assert f"declares unknown department '{NEW_CODE}'" in result.stdout

    sign_in_cli(office, "administrator", user_id="dept-admin")
    assert onechain("departments", "add", NEW_CODE, "体育局").exit_code == 0
    result = onechain("chains", "check", str(module))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sports_ok: ok")
