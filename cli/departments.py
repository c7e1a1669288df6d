"""``onechain departments list|add|rename``: the office's departments, in the shared database.

Chains name departments by code; each office has its own departments and names, so
they live in the database (``readmodel.departments``), seeded with the code's list.
Adding and renaming need an administrator's session and are written to the audit
trail. A chain naming a code that is not here fails ``onechain chains check``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.output import EXIT_USAGE, emit_json, fail, guarded, message, table

if TYPE_CHECKING:
    from readmodel.departments import DepartmentNames

app = typer.Typer(
    help="The office's departments (chains name them by code; add/rename: administrators).",
    no_args_is_help=True,
)

CodeArg = Annotated[
    str, typer.Argument(metavar="CODE", help="Department code as chains write it, e.g. fire.")
]
NameArg = Annotated[
    str, typer.Argument(metavar="NAME", help="Name people read, e.g. 消防救援支队.")
]


def _engine() -> Any:
    from readmodel.database import ready_engine
    from runtime.settings import get_settings

    return ready_engine(get_settings().resolved_database_url)


@app.command("list")
@guarded
def list_departments(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every department: code, name, who changed it last."""
    from readmodel.database import read_session
    from readmodel.departments import list_departments as listed

    with read_session(_engine()) as session:
        rows = [
            {
                "code": r.code,
                "name": r.name,
                "updated_at": r.updated_at.isoformat(),
                "updated_by": r.updated_by,
            }
            for r in listed(session)
        ]
    if as_json:
        emit_json(rows)
        return
    table("部门", ["代码", "名称", "更新", "更新人"], [list(r.values()) for r in rows])


@app.command("add")
@guarded
def add(code: CodeArg, name: NameArg) -> None:
    """Add a department chains may name (an administrator's session is required)."""
    from cli.users import require_administrator
    from readmodel.departments import DepartmentError, add_department
    from trust.audit_log import record_account_event

    admin = require_administrator()
    engine = _engine()
    try:
        record = add_department(engine, code, name, by=admin)
    except DepartmentError as error:
        fail(str(error), EXIT_USAGE)
    record_account_event(
        engine,
        "department_added",
        admin,
        f"新增部门 {record.code} {record.name}",
        {"code": record.code, "name": record.name},
    )
    message(f"部门 {record.code} 已添加：{record.name}")


@app.command("rename")
@guarded
def rename(code: CodeArg, name: NameArg) -> None:
    """Give a department a new name; chains keep its code (administrators only)."""
    from cli.users import require_administrator
    from readmodel.departments import DepartmentError, rename_department
    from trust.audit_log import record_account_event

    admin = require_administrator()
    engine = _engine()
    try:
        old, new = rename_department(engine, code, name, by=admin)
    except DepartmentError as error:
        fail(str(error), EXIT_USAGE)
    record_account_event(
        engine,
        "department_renamed",
        admin,
        f"部门 {code} 更名：{old} → {new}",
        {"code": code, "old": old, "new": new},
    )
    message(f"部门 {code} 已更名：{old} → {new}")


@functools.cache
def office_department_names() -> DepartmentNames:
    """Names as the office keeps them (the code list when the database cannot answer),
    for commands that show departments."""
    from readmodel.database import ready_engine
    from readmodel.departments import DepartmentNames, load_names
    from runtime.settings import get_settings

    return DepartmentNames(lambda: load_names(ready_engine(get_settings().resolved_database_url)))
