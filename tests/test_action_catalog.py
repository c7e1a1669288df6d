"""One declaration per action: everything that names an action is made from
``domain/action_catalog.py``, and what is made from it matches it.

(The workflow's rules are checked against the same declarations on a real server by
``tests/test_role_matrix.py``.)
"""

from __future__ import annotations

import typing
from typing import Any

import typer
from temporalio import workflow
from typer.testing import CliRunner

import docsgen.actions
from cli.app import app
from client.facade import UPDATE_FOR_ACTION
from domain.action_catalog import ACTIONS, console_forms, console_texts, spec_for
from domain.actions import Decide, DecideOnBehalf
from domain.roles import Actor, Role
from tui import messages
from tui.permissions import KEYS, ROLES, Act, may
from tui.screens.action_form import NEEDS_REASON
from workflows.case_workflow import CaseWorkflow

runner = CliRunner()


def test_every_declared_update_exists_in_the_workflow_with_its_model() -> None:
    updates = workflow._Definition.from_class(CaseWorkflow).updates  # type: ignore[union-attr]
    for spec in ACTIONS:
        assert spec.update in updates, spec.update
        hints = typing.get_type_hints(updates[spec.update].fn)
        assert hints["action"] is spec.model, spec.update
    declared = {spec.update for spec in ACTIONS}
    assert declared == {name for name in updates if name}, "an Update nobody can send"


def test_the_facade_sends_each_model_as_its_declared_update() -> None:
    assert {spec.model: spec.update for spec in ACTIONS} == UPDATE_FOR_ACTION
    assert spec_for(DecideOnBehalf).update == "decide_on_behalf"  # not taken for a Decide
    assert spec_for(Decide).update == "decide"


def _command(name: str) -> Any:
    group = typer.main.get_command(app)
    case = group.commands["case"]  # type: ignore[attr-defined]
    return case.commands[name]


def test_every_action_has_its_generated_command() -> None:
    group = typer.main.get_command(app).commands["case"]  # type: ignore[attr-defined]
    assert set(group.commands) == {spec.command for spec in ACTIONS}
    for spec in ACTIONS:
        command = _command(spec.command)
        arguments = [p.name for p in command.params if p.param_type_name == "argument"]
        assert arguments == ["case_no"] + [p.field for p in spec.params if p.argument]
        options = {o for p in command.params if p.param_type_name == "option" for o in p.opts}
        for param in spec.params:
            if not param.argument:
                assert param.option in options, (spec.command, param.option)
        assert {"--role", "--json"} <= options
        help_text = runner.invoke(app, ["case", spec.command, "--help"]).output
        assert "Who may:" in help_text and spec.who().split(",")[0] in help_text


def test_a_bad_value_exits_2_naming_the_option(tmp_path, monkeypatch) -> None:
    """Model validation runs before anything is sent: no server needed."""
    from runtime.settings import get_settings
    from tests.harness import sign_in_cli

    monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
    monkeypatch.delenv("ONECHAIN_API_KEY", raising=False)
    get_settings.cache_clear()
    try:
        sign_in_cli(tmp_path / "session.json", "coordinator", user_id="catalog-coord")
        result = runner.invoke(app, ["case", "urge", "C1", "T1", "--reason", "x" * 501])
        assert result.exit_code == 2, result.output
        assert "urge: --reason: String should have at most 500 characters" in result.stderr
        result = runner.invoke(app, ["case", "urge", "C1", "T1", "--reason", "a\x1b[31mb"])
        assert result.exit_code == 2, result.output
        assert "--reason: contains a control character (U+001B)" in result.stderr
        result = runner.invoke(
            app, ["case", "supplement", "C1", "T1", "--item", "ok", "--item", "y" * 101]
        )
        assert result.exit_code == 2 and "--item.1: " in result.stderr, result.output
    finally:
        get_settings.cache_clear()


def test_the_console_gate_and_labels_come_from_the_declarations() -> None:
    forms = list(console_forms())
    assert {Act(f.act) for _, f in forms} == set(Act)
    for spec, form in forms:
        act = Act(form.act)
        assert ROLES[act] == spec.roles
        assert KEYS[act] == form.key
        assert (act in NEEDS_REASON) == form.reason_required
        for role in Role:
            actor = Actor(
                user_id="u",
                name="某人",
                role=role,
                department="fire" if role is Role.REVIEWER else None,
            )
            assert may(actor, act) == (role in spec.roles)
    for language, catalog in (("zh", messages.ZH), ("en", messages.EN)):
        for key, text in console_texts(language).items():
            assert catalog[key] == text


def test_readme_role_table_is_current() -> None:
    assert not docsgen.actions.stale(), "README.md's role table: run `onechain actions docs`"
    result = runner.invoke(app, ["actions", "docs", "--check"])
    assert result.exit_code == 0, result.output
    text = docsgen.actions.README.read_text(encoding="utf-8")
    for spec in ACTIONS:
        assert f"`onechain case {spec.command}` | {spec.who()} |" in text


def test_actions_docs_check_fails_on_a_stale_table(tmp_path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(
        f"# x\n{docsgen.actions.BEGIN}\n| old |\n{docsgen.actions.END}\nrest\n", encoding="utf-8"
    )
    assert docsgen.actions.stale(stale)
    assert docsgen.actions.write(stale)
    assert not docsgen.actions.stale(stale)
    assert stale.read_text(encoding="utf-8").endswith("rest\n")
