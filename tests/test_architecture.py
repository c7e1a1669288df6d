"""The one-way arrows of DESIGN.md, checked by importing each layer in a clean
interpreter and looking at what it dragged in."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def modules_loaded_by(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    return set(json.loads(output.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        (
            "workflows.case_workflow",
            {"sqlmodel", "sqlalchemy", "typer", "textual", "activities", "readmodel"},
        ),
        ("domain.casefile", {"temporalio", "sqlmodel", "typer", "textual"}),
        ("chains", {"sqlmodel", "sqlalchemy", "typer", "textual", "activities", "readmodel"}),
        ("activities", {"typer", "textual", "client", "cli"}),
        ("client.facade", {"typer", "textual", "readmodel", "activities"}),
        # The flow analysis and diagrams are pure: the CLI and the docs only present them.
        (
            "workflows.flow_diagram",
            {"typer", "rich", "textual", "sqlmodel", "sqlalchemy", "temporalio", "cli"},
        ),
    ],
)
def test_layer_does_not_import(module: str, forbidden: set[str]) -> None:
    loaded = modules_loaded_by(module)
    assert not {name for name in loaded if name.split(".")[0] in forbidden}
