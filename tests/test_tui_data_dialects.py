"""The console's queries (``tui.data``) answer the same on PostgreSQL as on SQLite:
the same sample cases in both, every list filter and sort, the overview and the
department loads compared value for value (the SQLite answers are what the TUI
tests check in detail)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from readmodel.database import create_schema, make_engine
from tui.data import SORTS, CaseFilter, department_loads, filter_choices, list_page, overview
from tui.demo import fill

TODAY = date(2026, 5, 20)
CASES = 300


@pytest.fixture(scope="module")
def engines(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[Engine, Engine]]:
    """The same sample cases in a SQLite file and in a PostgreSQL database."""
    server_url = request.getfixturevalue("postgres_server")
    admin = make_engine(server_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text('CREATE DATABASE "tui_data"'))
    admin.dispose()
    folder = tmp_path_factory.mktemp("tui-data")
    sqlite = make_engine(f"sqlite:///{Path(folder) / 'readmodel.sqlite3'}")
    postgresql = make_engine(make_url(server_url).set(database="tui_data"))
    for engine in (sqlite, postgresql):
        create_schema(engine)
        fill(engine, CASES, TODAY)
    yield sqlite, postgresql
    sqlite.dispose()
    postgresql.dispose()
    admin = make_engine(server_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text('DROP DATABASE "tui_data" WITH (FORCE)'))
    admin.dispose()


def filters(engine: Engine) -> list[CaseFilter]:
    choices = filter_choices(engine)
    found = [CaseFilter(sort=sort) for sort in SORTS]
    found += [CaseFilter(chain=chain, sort="case_no") for chain in choices.chains]
    found += [CaseFilter(stage=stage) for stage in choices.stages[:5]]
    found += [CaseFilter(department=d) for d in choices.departments]
    found += [
        CaseFilter(problems_only=True, sort="newest"),
        CaseFilter(warning="red"),
        CaseFilter(status="running", problems_only=True),
        CaseFilter(search="幼儿园"),
        CaseFilter(search="kg"),
        CaseFilter(search="%_"),
    ]
    return found


def plain(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value


def test_lists_overview_and_loads_are_the_same_on_both(engines: tuple[Engine, Engine]) -> None:
    sqlite, postgresql = engines
    assert filter_choices(sqlite) == filter_choices(postgresql)
    for flt in filters(sqlite):
        for offset in (0, 40):
            on_sqlite = list_page(sqlite, flt, offset=offset, limit=40)
            on_postgresql = list_page(postgresql, flt, offset=offset, limit=40)
            assert plain(on_sqlite) == plain(on_postgresql), flt
    assert list_page(sqlite, CaseFilter()).total == CASES
    assert plain(overview(sqlite, TODAY)) == plain(overview(postgresql, TODAY))
    loads = department_loads(sqlite)
    assert any(load.open_tasks for load in loads)
    assert [plain(x) for x in loads] == [plain(x) for x in department_loads(postgresql)]
