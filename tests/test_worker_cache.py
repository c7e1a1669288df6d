"""The worker's case cache is the operator's to size (``ONECHAIN_WORKER_CACHE``): it
trades memory for Queries and actions that need no replay (docs/deploy.md, sizing)."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

import worker
from runtime.settings import Settings, get_settings


def test_a_negative_cache_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(worker_cache=-1)
    assert "worker_cache" in str(refused.value)


async def test_the_worker_keeps_as_many_cases_as_configured(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONECHAIN_WORKER_CACHE", "7")
    get_settings.cache_clear()
    try:
        built = worker.build_worker(dev_env.client, f"cache-{uuid.uuid4().hex[:6]}")
        assert built.config()["max_cached_workflows"] == 7
        # A caller's own choice (tests forcing replays) still wins.
        forced = worker.build_worker(
            dev_env.client, f"cache-{uuid.uuid4().hex[:6]}", max_cached_workflows=0
        )
        assert forced.config()["max_cached_workflows"] == 0
    finally:
        monkeypatch.delenv("ONECHAIN_WORKER_CACHE")
        get_settings.cache_clear()
