"""The console's screens and widgets never import the app (``tui.app``).

The app imports every screen; a screen importing the app (even only for type
hints) closed a circle through the whole console. Screens reach the app through
``tui.console.Console``. Checked twice: in the source (any ``import``, also under
``TYPE_CHECKING``) and by importing each module in a clean interpreter.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = [
    *sorted(
        str(path.relative_to(ROOT).with_suffix("")).replace("/", ".")
        for folder in ("tui/screens", "tui/widgets")
        for path in (ROOT / folder).glob("*.py")
        if path.name != "__init__.py"
    ),
    "tui.console",
]


def imported_names(path: Path) -> set[str]:
    """Every module an ``import`` or ``from … import`` in the file names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_screens_exist() -> None:
    assert any(m.startswith("tui.screens.") for m in MODULES)
    assert any(m.startswith("tui.widgets.") for m in MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_source_does_not_import_the_app(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    names = imported_names(path)
    assert "tui.app" not in names, f"{path.relative_to(ROOT)} imports tui.app"
    assert not any(n == "tui.app" or n.startswith("tui.app.") for n in names)


def test_importing_every_screen_leaves_the_app_unloaded() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tui'))))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    loaded = set(json.loads(output.stdout.strip().splitlines()[-1]))
    assert set(MODULES) <= loaded  # every module did import
    assert "tui.app" not in loaded
