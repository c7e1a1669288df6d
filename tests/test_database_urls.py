"""A database URL that cannot work gets one line naming what is wrong and the fix,
never a driver's traceback: missing psycopg, an unreachable server (which host and
port, exit 3), a SQLite folder that cannot be made, unsupported schemes. The password
of a URL never appears."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from readmodel.database import reset_engines
from runtime.settings import get_settings

runner = CliRunner()
COMMANDS = (["db", "current"], ["db", "upgrade"], ["cases", "list"], ["report"], ["worker"])


@pytest.fixture
def url(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set ONECHAIN_DATABASE_URL through the returned monkeypatch; settings re-read."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    reset_engines()
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()  # the environment first: settings read after this are the session's
    reset_engines()
    get_settings.cache_clear()


def refused(url: pytest.MonkeyPatch, value: str, code: int) -> list[str]:
    url.setenv("ONECHAIN_DATABASE_URL", value)
    get_settings.cache_clear()
    lines = []
    for command in COMMANDS:
        reset_engines()
        result = runner.invoke(app, command)
        assert result.exit_code == code, (command, result.output)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, command
        assert "Traceback" not in result.output and "secret" not in result.output, command
        lines.append(result.stderr)
    return lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_postgresql_without_psycopg_says_install_the_extra(url: pytest.MonkeyPatch) -> None:
    url.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    for line in refused(url, "postgresql+psycopg://onechain:secret@db.example:5432/rm", 2):
        assert "install the postgres extra: pip install 'onechain[postgres]'" in line


def test_unreachable_postgresql_names_host_and_port_and_exits_3(url: pytest.MonkeyPatch) -> None:
    port = free_port()
    for line in refused(url, f"postgresql+psycopg://onechain:secret@127.0.0.1:{port}/rm", 3):
        assert f"PostgreSQL at 127.0.0.1:{port}" in line and "database rm" in line


def test_sqlite_folder_that_cannot_be_made_is_named(
    url: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    in_the_way = tmp_path / "data"
    in_the_way.write_text("a file where the data folder should be")
    database = in_the_way / "readmodel.sqlite3"
    url.setenv("ONECHAIN_DATABASE_URL", f"sqlite:///{database}")
    get_settings.cache_clear()
    for command in COMMANDS:
        reset_engines()
        result = runner.invoke(app, command)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, command
        assert str(database) in result.stderr, command
        if command[0] == "db":  # upgrade would make it, current looks where it would be
            assert result.exit_code == 2 and "cannot create the folder" in result.stderr
        else:  # nothing else makes a read model: there is none
            assert result.exit_code == 3 and "does not exist" in result.stderr, result.output
            assert "onechain db upgrade" in result.stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("mysql://onechain:secret@db/rm", "supports SQLite and PostgreSQL, not mysql"),
        ("postgresql+psycopg2://onechain:secret@db/rm", "postgresql+psycopg://"),
        ("not a url with secret", "is not a database URL"),
    ],
)
def test_unsupported_urls(url: pytest.MonkeyPatch, value: str, says: str) -> None:
    for line in refused(url, value, 2):
        assert says in line
