"""``onechain case <action>``: one command per declared action, generated.

Each command comes from its :class:`domain.action_catalog.ActionSpec`: the model's
fields become arguments and options (names, order and help from the declaration, help
falling back to the field's description), ``--role`` and ``--json`` are added, and the
help says who may take the action. A value the model refuses exits 2 naming the option;
an action the workflow refuses prints its reason on stderr and exits 1, changing nothing.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from cli.actor import ROLE_HELP, cli_credentials
from cli.output import EXIT_USAGE, emit_json, fail, guarded, message, run
from domain.action_catalog import ACTIONS, DEPARTMENT_RULE_TEXT, ActionSpec, DepartmentRule, Param
from domain.actions import Action

CASE_HELP = "Case number (办件编号)."
ROLE_PARAM = "role"
JSON_PARAM = "as_json"


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def _optional(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(
        None
    ) in typing.get_args(annotation)


def _required(param: Param, info: FieldInfo) -> bool:
    return info.is_required() if param.required is None else param.required


def _bare(annotation: Any) -> Any:
    """``Annotated[str, ...]`` → ``str`` (the checks stay the model's)."""
    return (
        typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated else annotation
    )


def _cli_type(info: FieldInfo, required: bool) -> Any:
    annotation = info.annotation
    if _is_list(annotation):
        return list[str] if required else list[str] | None
    if _optional(annotation):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _bare(inner[0]) | None
    return _bare(annotation) if required else _bare(annotation) | None


def _max_length(metadata: typing.Iterable[Any]) -> int | None:
    for item in metadata:
        found = _max_length(item.metadata) if isinstance(item, FieldInfo) else None
        found = found or getattr(item, "max_length", None)
        if found:
            return found
    return None


def _limits(info: FieldInfo) -> str:
    """The model's limits in words, e.g. "At most 500 characters." (issue 8)."""
    most = _max_length(info.metadata)
    if _is_list(info.annotation):
        item = typing.get_args(info.annotation)[0]
        each = (
            _max_length(typing.get_args(item)[1:]) if typing.get_origin(item) is Annotated else None
        )
        parts = [f"at most {most}" if most else "", f"{each} characters each" if each else ""]
        text = ", ".join(p for p in parts if p)
        return f" ({text})" if text else ""
    return f" (at most {most} characters)" if most and most > 64 else ""


def _parameter(spec: ActionSpec, param: Param) -> inspect.Parameter:
    info = spec.model.model_fields[param.field]
    required = _required(param, info)
    help_text = (param.help or info.description or "") + _limits(info)
    if param.argument:
        marker: Any = typer.Argument(metavar=param.metavar, help=help_text)
    else:
        marker = typer.Option(param.option, metavar=param.metavar, help=help_text)
    default = inspect.Parameter.empty if required else None
    return inspect.Parameter(
        param.field,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[_cli_type(info, required), marker],
        default=default,
    )


def _common_parameters() -> list[inspect.Parameter]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    return [
        inspect.Parameter(
            ROLE_PARAM,
            keyword,
            annotation=Annotated[
                str | None, typer.Option("--role", metavar="ROLE[:DEPARTMENT]", help=ROLE_HELP)
            ],
            default=None,
        ),
        inspect.Parameter(
            JSON_PARAM,
            keyword,
            annotation=Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")],
            default=False,
        ),
    ]


def _who(spec: ActionSpec) -> str:
    rule = (
        f" ({DEPARTMENT_RULE_TEXT[spec.department_rule]})"
        if spec.department_rule is not DepartmentRule.NONE
        else ""
    )
    return f"Who may: {spec.who()}{rule}."


def _help(spec: ActionSpec) -> str:
    return f"{spec.help}\n\n{_who(spec)}"


def build_action(spec: ActionSpec, values: dict[str, Any], role: str | None) -> Action:
    """The action the command line describes, or exit 2 naming what is wrong with it."""
    fields = {k: v for k, v in values.items() if v is not None and v != []}
    options = {p.field: p.metavar if p.argument else p.option for p in spec.params}
    actor = cli_credentials(role).actor
    try:
        return spec.model(actor=actor, **fields)
    except ValidationError as invalid:
        problems = []
        for error in invalid.errors():
            text = str(error["msg"]).removeprefix("Value error, ")
            loc = [str(p) for p in error["loc"]]
            where = ".".join([options.get(loc[0], loc[0]), *loc[1:]]) if loc else ""
            problems.append(f"{where}: {text}" if where else text)
        fail(f"{spec.command}: {'; '.join(problems)}", EXIT_USAGE)


async def _send(case_no: str, action: Action, role: str | None) -> Any:
    from client.facade import CaseDesk
    from runtime.connect import connect

    desk = CaseDesk(await connect(), credentials=cli_credentials(role))
    return await desk.act(case_no, action)


def command_for(spec: ActionSpec, check_department: Callable[[str], None]) -> Callable[..., None]:
    """The Typer callback of one action's command."""

    def command(**values: Any) -> None:
        case_no = values.pop("case_no")
        role = values.pop(ROLE_PARAM)
        as_json = values.pop(JSON_PARAM)
        for param in spec.params:
            if param.department and values.get(param.field) is not None:
                check_department(values[param.field])
        action = build_action(spec, values, role)
        result = run(_send(case_no, action, role))
        if as_json:
            emit_json(result)
        else:
            message(result.message)

    case = inspect.Parameter(
        "case_no",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[str, typer.Argument(metavar="CASE", help=CASE_HELP)],
    )
    arguments = [_parameter(spec, p) for p in spec.params if p.argument]
    options = [_parameter(spec, p) for p in spec.params if not p.argument]
    parameters = [case, *arguments, *options, *_common_parameters()]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__ = spec.command.replace("-", "_")
    command.__doc__ = _help(spec)
    return command


def register(app: typer.Typer, check_department: Callable[[str], None]) -> None:
    """Add one command per declared action to ``app`` (``onechain case``)."""
    for spec in ACTIONS:
        app.command(spec.command, help=_help(spec))(guarded(command_for(spec, check_department)))
