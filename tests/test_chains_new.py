"""``onechain chains new``: the module and test it writes pass ``chains check`` and
the test's own cases at once, on a real Temporal server. Written into a temporary
copy of the project (its ``chains/__init__.py`` and docs), so the real registry and
files stay as they are."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

import chains  # noqa: F401  (registers the chains)
import docsgen
from cli import chains as chains_cli
from cli.app import app
from tests.harness import CaseDriver
from workflows import registry

ROOT = Path(__file__).resolve().parent.parent
CODE = "zz_new_pharmacy"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A copy of what ``chains new`` touches: chains/__init__.py, tests/, docs/."""
    (tmp_path / "chains").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "chains" / "__init__.py", tmp_path / "chains" / "__init__.py")
    shutil.copy(docsgen.IMPORT_DOC, tmp_path / "docs" / "import-format.md")
    try:
        yield tmp_path
    finally:
        registry.unregister(CODE)
        for name in (f"chains.{CODE}", f"tests.test_chain_{CODE}"):
            sys.modules.pop(name, None)


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def new(project: Path, *args: str, user_input: str | None = None) -> object:
    return CliRunner().invoke(
        app, ["chains", "new", CODE, "--root", str(project), *args], input=user_input
    )


async def test_new_chain_passes_check_and_its_own_test(project: Path, driver: CaseDriver) -> None:
    result = new(
        project,
        *("--name-zh", "我要开测试药店", "--departments", "market,urban,fire"),
        *("--promised-days", "8", "--statutory-days", "20", "--applicant-kind", "either"),
    )
    assert result.exit_code == 0, result.output
    module_file = project / "chains" / f"{CODE}.py"
    test_file = project / "tests" / f"test_chain_{CODE}.py"
    assert module_file.is_file() and test_file.is_file()
    init = (project / "chains" / "__init__.py").read_text(encoding="utf-8")
    assert f'"{CODE}")' in init or f'"{CODE}",' in init
    # The docs of the copy now include it, and are current.
    assert (project / "docs" / "chains" / f"{CODE}.md").is_file()
    assert CODE in (project / "docs" / "import-format.md").read_text(encoding="utf-8")
    assert docsgen.stale(project) == []
    registry.unregister(CODE)

    check = CliRunner().invoke(app, ["chains", "check", str(module_file)])
    assert check.exit_code == 0, check.output
    assert check.stdout.startswith(f"{CODE}: ok")

    ruff = Path(sys.executable).parent / "ruff"
    config = ["--config", str(ROOT / "pyproject.toml")]
    formatted = subprocess.run(
        [str(ruff), "format", "--check", *config, str(module_file), str(test_file)],
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr

    # The generated test's cases, as `./run.sh test tests/test_chain_<code>.py` runs them.
    module = load(module_file, f"chains.{CODE}")
    registry.register(module.chain)
    generated = load(test_file, f"tests.test_chain_{CODE}")
    cases = [f for name, f in vars(generated).items() if name.startswith("test_")]
    assert len(cases) == 3
    for case in cases:
        await case(driver)


def test_new_chain_asks_on_a_terminal(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chains_cli, "_on_terminal", lambda: True)
    answers = "我要开问答店\nQ and A shop\nmarket\n5\n20\nperson\n"
    result = new(project, user_input=answers)
    assert result.exit_code == 0, result.output
    text = (project / "chains" / f"{CODE}.py").read_text(encoding="utf-8")
    assert 'name_zh="我要开问答店"' in text and 'applicant_kind="person"' in text
    assert "promised_days=5" in text and 'DEPARTMENTS = ("market",)' in text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "missing --name-zh, --departments"),
        (("--name-zh", "x", "--departments", "spaceport"), "unknown spaceport"),
        (
            ("--name-zh", "x", "--departments", "market", "--promised-days", "30"),
            "shorter than --promised-days 30",
        ),
    ],
)
def test_new_chain_bad_input(project: Path, args: tuple[str, ...], says: str) -> None:
    result = new(project, *args)
    assert result.exit_code == 2 and says in result.stderr
    assert not (project / "chains" / f"{CODE}.py").exists()


def test_new_chain_refuses_a_registered_code(project: Path) -> None:
    taken = registry.all_chains()[0].code
    result = CliRunner().invoke(
        app,
        [
            "chains",
            "new",
            taken,
            "--root",
            str(project),
            "--name-zh",
            "x",
            "--departments",
            "market",
        ],
    )
    assert result.exit_code == 2 and "already registered" in result.stderr


def test_the_guides_example_chain_passes_check(tmp_path: Path) -> None:
    """The pharmacy of docs/writing-a-chain.md (its declaration and its first flow) is a
    correct chain: what a new user copies works."""
    import re

    guide = (ROOT / "docs" / "writing-a-chain.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", guide, re.S)
    declaration = next(b for b in blocks if b.startswith("# chains/pharmacy.py"))
    flow = next(b for b in blocks if b.startswith("@chain.flow(version=1)"))
    path = tmp_path / "pharmacy.py"
    path.write_text(declaration + "\n\n" + flow, encoding="utf-8")
    result = CliRunner().invoke(app, ["chains", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("pharmacy: ok")
