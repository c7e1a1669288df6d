"""The alert rules in deploy/prometheus (issue 23): valid for Prometheus, each alert fires
on what it names and not on a healthy deployment (promtool's own unit tests), and every
metric a rule reads is one a worker serves (names checked against the code)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from runtime.metrics import PROJECTION_LAG
from runtime.open_cases_gauge import ANCHOR_AGE, OPEN_CASES
from runtime.projector import PROJECTION_BACKLOG, PROJECTION_OLDEST, WRITE_FAILURES
from workflows.case_metrics import ACTIONS, CASES_CONCLUDED, CASES_STARTED, DEADLINES_FIRED

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
#: Metrics the workers serve: onechain's own, and the SDK's the rules use.
SERVED = {
    PROJECTION_LAG, ANCHOR_AGE, OPEN_CASES, PROJECTION_BACKLOG, PROJECTION_OLDEST,
    WRITE_FAILURES, ACTIONS, CASES_CONCLUDED, CASES_STARTED, DEADLINES_FIRED,
    "temporal_num_pollers", "up",
}  # fmt: skip

promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    promtool is None, reason="promtool missing (Debian: apt install prometheus; CI installs it)"
)


@needs_promtool
def test_the_rules_are_valid_prometheus_rules() -> None:
    result = subprocess.run(
        [str(promtool), "check", "rules", "onechain-alerts.yml"],
        cwd=RULES, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_each_alert_fires_on_what_it_names() -> None:
    result = subprocess.run(
        [str(promtool), "test", "rules", "onechain-alerts.test.yml"],
        cwd=RULES, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (RULES / "onechain-alerts.test.yml").read_text()))
    defined = set(re.findall(r"- alert: (\w+)", (RULES / "onechain-alerts.yml").read_text()))
    assert defined <= tested, f"alerts with no unit test: {sorted(defined - tested)}"


def test_every_metric_a_rule_reads_is_served() -> None:
    expressions = re.findall(r"expr: (.+)", (RULES / "onechain-alerts.yml").read_text())
    read = {
        name
        for expression in expressions
        for name in re.findall(r"\b((?:onechain|temporal)_[a-z_]+|up)\b(?=[{\[ )])", expression)
    }
    assert read and read <= SERVED, f"metrics no worker serves: {sorted(read - SERVED)}"


def test_every_dashboard_panel_reads_a_served_metric() -> None:
    """deploy/grafana/onechain-dashboard.json: valid JSON, and each panel's query names only
    metrics the workers serve (a renamed metric would leave an empty panel)."""
    import json

    dashboard = json.loads(
        (RULES.parent / "grafana" / "onechain-dashboard.json").read_text(encoding="utf-8")
    )
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        (target,) = panel["targets"]
        read = {
            name.removesuffix("_bucket")
            for name in re.findall(r"\b((?:onechain|temporal)_[a-z_]+|up)\b", target["expr"])
        }
        assert read and read <= SERVED, (panel["title"], sorted(read - SERVED))
