"""Every file onechain writes that may hold personal data or secrets is 0600, whatever
the umask: the SQLite read model (and its -wal/-shm), `import --errors-out` files
(ids and phones), the demo accounts file, `report --csv`, `audit export -o` and
backups (their own tests, under ``loose_umask`` too).

Each writer runs under umask 022, which would make its files 0644 by default.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cli.app import app
from readmodel.database import create_read_model, ready_engine, reset_engines
from runtime.private_files import open_private
from runtime.settings import get_settings

runner = CliRunner()


@contextmanager
def loose_umask() -> Iterator[None]:
    """Umask 022 for a while (a command run in-process may have narrowed it)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_read_model_and_its_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "data" / "readmodel.sqlite3"
    url = f"sqlite:///{database}"
    try:
        with loose_umask():
            create_read_model(url)
            with ready_engine(url).begin() as connection:  # a write: -wal and -shm exist
                connection.execute(text("DELETE FROM cases"))
            files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
            assert all(f.exists() for f in files), files
            assert [mode(f) for f in files] == [0o600] * 3

            reset_engines()  # a file left 0644 (older version, by hand) is narrowed
            database.chmod(0o644)
            ready_engine(url)
            assert mode(database) == 0o600
    finally:
        reset_engines()


def test_import_errors_out_files_are_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_import import messy_rows, write_csv

    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # a dry run reaches nothing
    get_settings.cache_clear()
    source = write_csv(tmp_path / "in.csv", messy_rows("PF"), "utf-8-sig")
    for name in ("errors.csv", "errors.xlsx"):
        target = tmp_path / name
        target.write_text("left 0644 by someone")
        target.chmod(0o644)
        with loose_umask():
            result = runner.invoke(
                app, ["import", str(source), "--dry-run", "--errors-out", str(target)]
            )
        assert result.exit_code == 1, result.output  # some rows rejected
        assert target.stat().st_size > 100 and mode(target) == 0o600, name
    get_settings.cache_clear()


def test_the_demo_accounts_file_is_owner_only(tmp_path: Path) -> None:
    from simulator.demo_people import ensure_demo_people

    database = tmp_path / "readmodel.sqlite3"
    create_read_model(f"sqlite:///{database}")
    accounts = tmp_path / "demo-accounts.txt"
    accounts.write_text("")
    accounts.chmod(0o644)
    try:
        with loose_umask():
            created = ensure_demo_people(ready_engine(f"sqlite:///{database}"), accounts)
        assert created and mode(accounts) == 0o600
        assert next(iter(created)) in accounts.read_text(encoding="utf-8")
    finally:
        reset_engines()


def test_open_private_never_changes_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """`-o /dev/stdout` on a terminal must not chmod the terminal; a FIFO stands in."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    fifo.chmod(0o644)  # whatever the umask of this process is now
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with loose_umask(), open_private(fifo, "w") as handle:
            handle.write("x")
        assert mode(fifo) == 0o644
    finally:
        os.close(reader)
