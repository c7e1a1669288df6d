"""``onechain chains try CODE`` on a real Temporal server with the production worker:
one sample case accepted as the signed-in window clerk, and what it prints next —
the open tasks, the departments that must act and their reviewers, and commands that
really decide the tasks."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

import chains  # noqa: F401  (registers the chains)
from cli import chain_try
from domain.materials import Acceptance
from readmodel.database import ready_engine
from runtime.settings import get_settings
from tests.harness import CaseDriver
from tests.test_cli_cases import cli, invoke  # noqa: F401  (the fixture and the runner)
from trust.accounts import add_user
from workflows import registry
from workflows.chain import Chain

CLERK = "--as", "clerk1:window_clerk:window:窗口"


@pytest.fixture(autouse=True)
async def _end_sample_cases(cli: CaseDriver):  # noqa: F811
    """The sample cases run on this test's worker queue, which goes when the test ends:
    end them then, so no running case is left that no worker will ever answer for (a
    later `reconcile --all-queues` on the shared server would wait on it)."""
    yield
    async for execution in cli.client.list_workflows("ExecutionStatus = 'Running'"):
        if execution.id.startswith("case-TRY-"):
            await cli.client.get_workflow_handle(execution.id).terminate("test over")


def _chain() -> Chain:
    """Any registered chain will do."""
    return registry.all_chains()[0]


def _add_reviewer(user_id: str, department: str) -> None:
    engine = ready_engine(get_settings().resolved_database_url)
    add_user(engine, user_id=user_id, name="审查员", grants=[f"reviewer:{department}"], by="test")


async def test_try_starts_one_sample_case_and_its_printed_commands_decide_it(
    cli: CaseDriver,  # noqa: F811
) -> None:
    chain = _chain()
    first = await invoke("chains", "try", chain.code, "--json", *CLERK)  # signs in, makes the db
    assert first.exit_code == 0, first.output
    shown = json.loads(first.stdout)
    case_no = shown["case_no"]
    assert case_no.startswith(f"TRY-{chain.code.upper()}-")
    assert shown["chain"] == chain.code and shown["acceptance"] == Acceptance.ACCEPTED

    state = await cli.state(case_no)
    assert state.chain == chain.code
    chain.validate_form(shown["form"])  # the sample went through the model
    assert [t["id"] for t in shown["open_tasks"]] == [t.id for t in state.open_tasks]
    asked = {d for t in state.open_tasks for d in t.departments}
    assert asked <= set(shown["departments"]) <= set(chain.departments)
    assert f"onechain cases show {case_no}" in shown["next"]

    # a reviewer the office has is named; a department without one gets `users add`
    department = state.open_tasks[0].departments[0]
    _add_reviewer("li.reviewer", department)
    again = await invoke("chains", "try", chain.code, "--json", "--case-no", f"{case_no}-B", *CLERK)
    assert again.exit_code == 0, again.output
    shown = json.loads(again.stdout)
    assert "li.reviewer" in shown["reviewers"][department]  # (other tests may add more)
    others = [d for d in shown["departments"] if not shown["reviewers"][d]]
    for other in others:
        assert (
            f"onechain users add reviewer.{other} --name 审查员 --role reviewer:{other}"
            in (shown["next"])
        )

    # the printed decide command, run as the reviewer it names, decides the task
    task = shown["open_tasks"][0]
    reviewer = shown["reviewers"][department][0]
    command = next(
        line
        for line in shown["next"]
        if f"case decide {shown['case_no']} {task['id']}" in line and reviewer in line
    )
    assert f"ONECHAIN_SESSION_FILE=~/.config/onechain/{reviewer}.json" in command
    words = shlex.split(command)
    words = words[words.index("onechain") + 1 :]
    decided = await invoke(*words, "--as", f"{reviewer}:reviewer:{department}")
    assert decided.exit_code == 0, decided.output
    state = await cli.state(shown["case_no"])
    part = next(t for t in state.tasks if t.id == task["id"]).part(department)
    assert part is not None and part.verdict is not None and part.verdict.value == "approve"


async def test_try_prints_what_to_do_next_in_words(cli: CaseDriver) -> None:  # noqa: F811
    chain = _chain()
    result = await invoke("chains", "try", chain.code, *CLERK)
    assert result.exit_code == 0, result.output
    assert f"{chain.name_zh} ({chain.code})" in result.stdout
    assert "open now:" in result.stdout and "one session per person" in result.stdout
    assert "onechain case decide TRY-" in result.stdout


async def test_try_is_refused_for_a_reviewer_and_for_an_unknown_chain(
    cli: CaseDriver,  # noqa: F811
) -> None:
    chain = _chain()
    refused = await invoke("chains", "try", chain.code, "--as", "r1:reviewer:fire")
    assert refused.exit_code == 2
    assert "window clerk or a coordinator" in refused.output
    unknown = await invoke("chains", "try", "no_such_chain", *CLERK)
    assert unknown.exit_code == 2 and "no_such_chain" in unknown.output


async def test_try_without_a_worker_says_to_start_or_restart_it(
    cli: CaseDriver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("ONECHAIN_TASK_QUEUE", f"{cli.desk.task_queue}-nobody")
    monkeypatch.setattr(chain_try, "FIRST_TASKS_SECONDS", 1.5)
    get_settings.cache_clear()
    try:
        result = await invoke("chains", "try", _chain().code, *CLERK)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 3
    assert "no worker answered" in result.stdout and "restart" in result.stdout
