"""Keep the sandboxed workflow modules compiled, even where bytecode writing is off.

Temporal's sandbox imports the workflow's own modules (``workflows.case_workflow``
and those it imports that are not passed through) afresh for every workflow instance
the worker creates: every new case, and every case replayed after leaving the cache.
Without a ``.pyc`` each of those imports compiles the source again — 25 ms of CPU a
case for ``case_workflow.py`` alone, 12 % of a worker's time in a profile of 2,000
cases starting. ``PYTHONDONTWRITEBYTECODE=1`` (common in container images, set on
this project's development machine) means no ``.pyc`` is ever written.

The user's wish behind that setting is a clean source tree, so the worker keeps its
bytecode in its own data folder (``sys.pycache_prefix``) instead of beside the source.
"""

from __future__ import annotations

import sys
from pathlib import Path


def keep_bytecode(cache_dir: Path) -> None:
    """Let this process cache compiled modules under ``cache_dir`` when writing
    bytecode is switched off and no cache folder was chosen (else change nothing)."""
    if not sys.dont_write_bytecode:
        return
    if sys.pycache_prefix is None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            return  # no place of our own: compile as before rather than fail
        sys.pycache_prefix = str(cache_dir)
    sys.dont_write_bytecode = False
