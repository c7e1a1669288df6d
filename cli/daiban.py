"""``onechain daiban rota set|show``: the 帮办代办 rota (首席帮办代办轮流值班).

A coordinator names one 代办员 per working day; a case accepted that day gets that
person as its 代办员 (the worker reads the rota at admission). Setting the rota needs a
coordinator's session and is written to the audit trail. A case's 代办员 can also be
named (or changed) by the window or a coordinator: ``onechain case assign-agent``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import typer

from cli.output import EXIT_USAGE, emit_json, fail, guarded, message, table

app = typer.Typer(help="帮办代办: the agents' rota (coordinators set it).", no_args_is_help=True)
rota_app = typer.Typer(help="Who is the day's agent (代办员).", no_args_is_help=True)
app.add_typer(rota_app, name="rota")


def _engine() -> Any:
    from readmodel.database import ready_engine
    from runtime.settings import get_settings

    return ready_engine(get_settings().resolved_database_url)


def _day(text: str, option: str) -> date:
    if text == "today":
        from domain.timezone import cst_date

        return cst_date(datetime.now(UTC))
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: not a date (YYYY-MM-DD or today): {text!r}", EXIT_USAGE)
        raise  # unreachable: fail exits


@rota_app.command("set")
@guarded
def set_day(
    day: Annotated[str, typer.Argument(metavar="DAY", help="YYYY-MM-DD, or today.")],
    user: Annotated[str, typer.Argument(metavar="USER", help="The agent's user id.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (recorded in the audit trail).")
    ] = "",
) -> None:
    """Make USER the agent on duty on DAY (a coordinator's session is required)."""
    from cli.users import require_role
    from domain.text import check_plain_text
    from readmodel.accounts import directory_snapshot
    from readmodel.database import read_session
    from readmodel.rota import set_rota
    from trust.audit_log import record_account_event

    when = _day(day, "DAY")
    try:
        check_plain_text(reason)
    except ValueError as error:
        fail(f"--reason: {error}", EXIT_USAGE)
    coordinator = require_role("coordinator")
    engine = _engine()
    with read_session(engine) as session:
        entry = directory_snapshot(session).users.get(user)
    if entry is None or not entry.enabled or entry.kind == "service":
        fail(f"USER: no enabled person {user!r} (see `onechain users list`)", EXIT_USAGE)
    before = set_rota(engine, when, user, by=coordinator, reason=reason)
    record_account_event(
        engine,
        "rota_set",
        coordinator,
        f"{when.isoformat()} 值班代办员：{user}" + (f"（原 {before}）" if before else ""),
        {"day": when.isoformat(), "agent": user, "before": before, "reason": reason},
    )
    message(f"{when.isoformat()} 值班代办员：{user}")


@rota_app.command("show")
@guarded
def show(
    start: Annotated[
        str, typer.Option("--from", help="First day (YYYY-MM-DD or today).")
    ] = "today",
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="How many days.")] = 14,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The rota from --from for --days days: who is on duty, who set it and why."""
    from readmodel.rota import rota_between

    first = _day(start, "--from")
    rows = [
        {
            "day": r.day.isoformat(),
            "agent": r.user_id,
            "set_by": r.set_by,
            "set_at": r.set_at.isoformat(timespec="seconds"),
            "reason": r.reason,
        }
        for r in rota_between(_engine(), first, first + timedelta(days=days - 1))
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        "值班代办员",
        ["日期", "代办员", "设置人", "设置时间", "理由"],
        [list(r.values()) for r in rows],
    )
