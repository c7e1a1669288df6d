"""Shared fixtures: real Temporal servers from the wheels, a fresh task queue per test.

The read model, calendar files and keystore go to a temporary data folder for the
whole session (set before anything reads the settings).
"""

from __future__ import annotations

import os
import tempfile

_DATA_DIR = tempfile.mkdtemp(prefix="onechain-test-")
os.environ["ONECHAIN_DATA_DIR"] = _DATA_DIR
os.environ.pop("ONECHAIN_DATABASE_URL", None)

from collections.abc import AsyncIterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from tests.harness import CaseDriver, start_dev_env, start_time_skipping_env, worker_for  # noqa: E402


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(_DATA_DIR)


@pytest.fixture(scope="session", autouse=True)
def session_keystore() -> Path:
    """The session's keys (payload, lookup, signing) in the test data folder, made once,
    as ``onechain up`` makes them for the embedded default."""
    from runtime.keys import init_keys

    directory = Path(_DATA_DIR) / "keys"
    init_keys(directory)
    return directory


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (SQLite in memory) for the whole session."""
    env = await start_dev_env()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def driver(dev_env: WorkflowEnvironment) -> AsyncIterator[CaseDriver]:
    """A worker on a fresh task queue and a driver to start and decide cases."""
    async with worker_for(dev_env.client) as task_queue:
        yield CaseDriver(dev_env.client, task_queue)


@pytest.fixture
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of its own: tests move its clock years ahead."""
    env = await start_time_skipping_env()
    try:
        yield env
    finally:
        await env.shutdown()
