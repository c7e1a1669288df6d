"""``onechain daiban rota``: a coordinator sets the day's 代办员, audited; bad input is
one clear line and exit 2; others may not set it."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select

from readmodel.audit import AuditRecord
from readmodel.database import read_session, ready_engine
from readmodel.rota import on_duty
from runtime.settings import get_settings
from tests.test_users_cli import office, run, secret_in, sign_in

__all__ = ["office"]


def test_coordinator_sets_the_rota_and_it_is_audited(office: Path) -> None:
    admin_password = secret_in(run("users", "bootstrap"))
    assert sign_in("admin", admin_password, "admin-secret-2026").exit_code == 0
    coordinator = secret_in(
        run("users", "add", "li.coord", "--name", "李协调", "--role", "coordinator")
    )
    clerk = secret_in(
        run("users", "add", "wang.agent", "--name", "王代办", "--role", "window_clerk")
    )
    assert clerk

    refused = run("daiban", "rota", "set", "2026-12-09", "wang.agent")
    assert refused.exit_code == 2  # an administrator is not a coordinator

    assert sign_in("li.coord", coordinator, "coord-secret-2026").exit_code == 0
    bad_day = run("daiban", "rota", "set", "2026-13-09", "wang.agent")
    assert bad_day.exit_code == 2 and "DAY: not a date" in bad_day.stderr
    nobody = run("daiban", "rota", "set", "2026-12-09", "nobody")
    assert nobody.exit_code == 2 and "no enabled person 'nobody'" in nobody.stderr

    done = run("daiban", "rota", "set", "2026-12-09", "wang.agent", "--reason", "周三值班")
    assert done.exit_code == 0, done.output
    engine = ready_engine(get_settings().resolved_database_url)
    from datetime import date

    assert on_duty(engine, date(2026, 12, 9)) == "wang.agent"
    shown = json.loads(run("daiban", "rota", "show", "--from", "2026-12-08", "--json").stdout)
    assert [(r["day"], r["agent"], r["set_by"], r["reason"]) for r in shown] == [
        ("2026-12-09", "wang.agent", "li.coord", "周三值班")
    ]
    with read_session(engine) as session:
        entries = session.exec(select(AuditRecord).where(AuditRecord.kind == "rota_set")).all()
    assert [(e.actor_id, e.data["agent"], e.data["reason"]) for e in entries] == [
        ("li.coord", "wang.agent", "周三值班")
    ]
