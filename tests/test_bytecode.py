"""The worker keeps compiled modules in its data folder when bytecode writing is off
(``runtime/bytecode.py``): the sandbox re-imports the workflow module for every case,
and without a ``.pyc`` it would compile it every time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import importlib.util, sys
from pathlib import Path
from runtime.bytecode import keep_bytecode
keep_bytecode(Path(sys.argv[1]))
import workflows.case_workflow as module
print(importlib.util.cache_from_source(module.__file__))
"""


def run(tmp_path: Path, **env: str) -> Path:
    environment = {**os.environ, **env}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "pycache")],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    return Path(result.stdout.strip())


def test_with_bytecode_writing_off_the_cache_goes_to_the_data_folder(tmp_path: Path) -> None:
    compiled = run(tmp_path, PYTHONDONTWRITEBYTECODE="1")
    assert compiled.is_relative_to(tmp_path / "pycache")
    assert compiled.is_file()  # written, so the next import (next case) reads it


def test_a_chosen_cache_folder_is_kept(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    compiled = run(tmp_path, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=str(chosen))
    assert compiled.is_relative_to(chosen) and compiled.is_file()
    assert not (tmp_path / "pycache").exists()
