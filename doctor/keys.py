"""Signing keys present and readable, and only by their owner."""

from __future__ import annotations

import stat
from pathlib import Path

from doctor.findings import Finding, fail, ok, warn
from runtime.keys import load_signing_keys


def signing_keys(directory: Path) -> Finding:
    try:
        keys = load_signing_keys(directory)
    except Exception as error:  # KeystoreError, unreadable or damaged key files
        return fail(
            "keys",
            f"{error} (every worker and client needs the same keys folder: ONECHAIN_KEYS_DIR)",
        )
    loose = [
        str(p.relative_to(directory))
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ]
    if loose:
        return warn(
            "keys",
            f"{', '.join(loose)} in {directory} can be read by others: `chmod 600` them",
        )
    return ok(
        "keys",
        f"{len(keys.public_keys)} signing key(s) in {directory}, active {keys.active_kid}",
    )
