"""Logs an operator can ship (issue 23): JSON lines with level, logger and case number,
and a database outage logged as a first and a last line, not a traceback per retry."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from temporalio.testing import WorkflowEnvironment

from runtime.log_setup import configure


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _unreachable_database(tmp_path: Path) -> OperationalError:
    engine = create_engine(f"sqlite:///{tmp_path / 'gone' / 'readmodel.sqlite3'}")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        return error
    raise AssertionError("a database in a missing folder opened")


def test_json_lines_carry_level_logger_case_and_one_line_errors(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("json")
    log = logging.getLogger("onechain.test")
    log.info("notification stored case_no=QD-2026-001 seq=%d kind=%s", 3, "warned")
    try:
        raise ValueError("bad value\nsecond line")
    except ValueError:
        log.exception("could not project")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "onechain.test"
    assert lines[0]["case_no"] == "QD-2026-001" and "ts" in lines[0]
    assert lines[1]["level"] == "ERROR" and lines[1]["error"] == "ValueError: bad value"
    assert "case_no" not in lines[1]


def test_an_outage_is_a_first_and_a_last_line(
    restore_logging: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    handler = configure("text", quiet_seconds=0.3)
    outages = next(f for f in handler.filters if hasattr(f, "flush_ended"))
    error = _unreachable_database(tmp_path)
    log = logging.getLogger("onechain.projector")
    for _ in range(40):
        try:
            raise error
        except OperationalError:
            log.exception("could not write the read model")
    log.info("still here")
    time.sleep(0.4)
    outages.flush_ended()  # the periodic thread does this every few seconds
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("database outage began") == 1
    assert "database outage ended after" in err and "(39 repeated errors not logged)" in err
    assert "still here" in err


def test_a_worker_logs_json_lines_only(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    env = dict(os.environ, TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host)
    env["ONECHAIN_TASK_QUEUE"] = f"log-{os.getpid()}"
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("onechain")), "worker", "--log-format", "json"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        time.sleep(6)
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "the worker said nothing"
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "message"} <= set(p) for p in parsed)
    assert any("worker" in p["message"].lower() for p in parsed)
