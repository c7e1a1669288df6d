"""An installable release (issue 23): the wheel a city installs gives a working onechain.

Built offline from a copy of the source tree (``pip wheel --no-build-isolation``, as
``python -m build --no-isolation`` would), installed into a fresh virtual environment
without the source tree in reach, then run as an operator would: ``--help``, ``db
upgrade`` on a new SQLite file (the migrations come from the wheel), ``doctor`` against
a real Temporal. The wheel's dependencies come from this test environment (a ``.pth``
naming its site-packages), because nothing may download at test time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
NOT_SHIPPED = shutil.ignore_patterns(
    ".venv", ".git", "data", "build", "dist", "*.egg-info", "__pycache__", "tests", "bench"
)


def _wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SHIPPED)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("onechain-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)],
        check=True,
    )  # fmt: skip
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_wheel_installs_a_working_onechain(
    tmp_path: Path, dev_env: WorkflowEnvironment
) -> None:
    wheel = _wheel(tmp_path)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "tui/app.tcss",
        "cli/web_page/app_index.html",  # the browser page, font served locally
        "readmodel/migrations/script.py.mako",
        "worker.py",
    } <= shipped
    assert any(name.startswith("chains/") for name in shipped)

    venv = _fresh_venv(tmp_path, wheel)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ONECHAIN_", "TEMPORAL_", "PYTHON", "VIRTUAL_ENV"))
    }
    environment.update(
        ONECHAIN_DATA_DIR=str(tmp_path / "data"),
        TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
    )

    def onechain(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "onechain"), *args],
            capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120,
        )  # fmt: skip

    assert "Usage" in onechain("--help").stdout
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import cli, tui.app; print(cli.__file__); print(tui.app.OneChainApp.CSS_PATH)"],
        capture_output=True, text=True, env=environment, cwd=tmp_path, check=True,
    ).stdout.split()  # fmt: skip
    assert all(path.startswith(str(venv)) for path in where), where  # the wheel's, not the tree's
    assert Path(where[1]).is_file()

    upgraded = onechain("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "data" / "readmodel.sqlite3").is_file()
    doctor = onechain("doctor", "--json")
    checks = {c["check"]: c["level"] for c in json.loads(doctor.stdout)["checks"]}
    assert checks["temporal"] == "ok", doctor.stdout
    assert checks["namespace"] == "ok", doctor.stdout
