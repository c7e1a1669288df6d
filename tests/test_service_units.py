"""The systemd units in deploy/ (issue 23): each passes `systemd-analyze verify` and scores
"OK" (exposure at most 3.0) in `systemd-analyze security`, and every long-running part has
one. Checked on copies whose ExecStart points at this environment's `onechain` (the units
name /srv/onechain/.venv, which exists only on a server)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = sorted(DEPLOY.glob("onechain-*.service"))
ONECHAIN = Path(sys.executable).with_name("onechain")
pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze missing (Debian: apt install systemd; CI installs it)",
)


def _installed_copy(unit: Path, folder: Path) -> Path:
    """The unit as a server would have it, with this environment's onechain; the worker
    template as its first instance."""
    name = unit.name.replace("onechain-worker.service", "onechain-worker@1.service")
    copy = folder / name
    copy.write_text(unit.read_text().replace("/srv/onechain/.venv/bin/onechain", str(ONECHAIN)))
    return copy


def test_every_long_running_part_has_a_unit() -> None:
    names = {u.name for u in UNITS}
    for part in ("worker", "signin", "web", "codec", "backup"):
        assert f"onechain-{part}.service" in names, part
    assert (DEPLOY / "onechain-backup.timer").is_file()


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_unit_verifies_and_scores_ok(unit: Path, tmp_path: Path) -> None:
    copy = _installed_copy(unit, tmp_path)
    extra = [str(tmp_path / "onechain-backup.timer")] if "backup" in unit.name else []
    if extra:
        shutil.copy(DEPLOY / "onechain-backup.timer", extra[0])
    verified = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy), *extra],
        capture_output=True, text=True,
    )  # fmt: skip
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    scored = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(copy)],
        capture_output=True, text=True,
    )  # fmt: skip
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", scored.stdout + scored.stderr)
    assert found, scored.stdout + scored.stderr
    assert float(found.group(1)) <= 3.0, scored.stdout
