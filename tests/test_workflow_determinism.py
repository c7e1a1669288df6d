"""Workflow code must replay to the same decisions: no clock, randomness, environment,
files, threads or databases in the modules a case runs (its engine, the domain code it
calls and every registered chain).

Cases run without Temporal's sandbox (``worker.workflow_runner``: re-importing the
workflow module for every case cost half the CPU of answering a Query for a case not
in the worker's cache, and chains, passed through, were never checked by it anyway).
This scan is the check instead, and it reaches the chains: a chain that calls
``date.today()`` fails here, with the file and line. The recorded-history replay
tests catch what a scan cannot. A line that is safe for a reason the scan cannot see
(code only activities run) says so with ``# deterministic: <why>``.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

from chains import CHAIN_MODULES

ROOT = Path(__file__).parents[1]
#: ``module.attribute`` calls that read the clock, chance or the machine.
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "sleep"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
    ("os", "urandom"),
    ("os", "getenv"),
    ("asyncio", "get_event_loop"),
}
FORBIDDEN_NAMES = {"open", "input"}
#: Modules whose mere import in workflow code is a mistake.
FORBIDDEN_IMPORTS = {
    "random",
    "secrets",
    "socket",
    "subprocess",
    "threading",
    "sqlite3",
    "sqlalchemy",
    "sqlmodel",
    "requests",
    "httpx",
}
MARK = "# deterministic:"


def workflow_modules() -> list[str]:
    """The project modules a case loads: the workflow's imports and every registered
    chain with what it imports (in a fresh interpreter, so this test's own imports
    do not count)."""
    script = (
        "import sys; before = set(sys.modules)\n"
        "import workflows.case_workflow, chains\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    top_level = {path.name for path in ROOT.iterdir() if path.is_dir()}
    return [name for name in loaded if name.split(".")[0] in top_level - {"tests"}]


def source_files(modules: list[str]) -> list[Path]:
    """Their files (namespace packages have none)."""
    specs = [importlib.util.find_spec(module) for module in modules]
    return [Path(s.origin) for s in specs if s is not None and s.origin is not None]


def problems_in(path: Path, root: Path = ROOT) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                if (func.value.id, func.attr) in FORBIDDEN_CALLS:
                    found.append((node.lineno, f"{func.value.id}.{func.attr}()"))
            elif isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
                found.append((node.lineno, f"{func.id}()"))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) == ("os", "environ"):
                found.append((node.lineno, "os.environ"))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for name in names:
                if name.split(".")[0] in FORBIDDEN_IMPORTS:
                    found.append((node.lineno, f"import {name}"))
    relative = path.relative_to(root)
    return [
        f"{relative}:{line}: {what}" for line, what in sorted(found) if MARK not in lines[line - 1]
    ]


def test_the_scan_finds_what_it_forbids(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text(
        "import random\nfrom datetime import date\n\n"
        "def due():\n    return date.today()\n\n"
        "def fine():\n    return date.today()  # deterministic: activities only\n",
        encoding="utf-8",
    )
    assert problems_in(bad, tmp_path) == [
        "probe.py:1: import random",
        "probe.py:5: date.today()",
    ]


def test_workflow_code_reads_no_clock_chance_or_machine() -> None:
    modules = workflow_modules()
    assert "workflows.case_workflow" in modules
    written = {f"chains.{n}" for n in CHAIN_MODULES if importlib.util.find_spec(f"chains.{n}")}
    assert written <= set(modules)
    problems = [p for path in source_files(modules) for p in problems_in(path)]
    assert problems == [], "\n".join(problems)
