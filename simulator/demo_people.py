"""The demo's people: made only by ``onechain up --demo`` (a normal start never creates
accounts), with one-time passwords written to ``data/demo-accounts.txt`` (mode 0600)
and said on screen, plus a service account for the demo's window and department
simulator. The demo console is signed in as the demo coordinator directly.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from domain.departments import DEPARTMENTS
from domain.roles import Grant, Role
from readmodel import accounts as store
from readmodel.database import read_session
from runtime.keys import SigningKeys
from runtime.private_files import open_private
from trust.accounts import Session, _start_session, add_user
from trust.action_proof import SessionKey
from trust.credentials import Credentials
from trust.signer import ServiceCredentials

COORDINATOR_ID = "demo-coordinator"
SIMULATOR_ID = "demo-simulator"
#: (user id, name, roles) of the people a newcomer can sign in as.
DEMO_PEOPLE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (COORDINATOR_ID, "协调员（演示）", ("coordinator",)),
    ("demo-supervisor", "督办员（演示）", ("supervisor",)),
    ("demo-window", "窗口人员（演示）", ("window_clerk:window",)),
    ("demo-admin", "管理员（演示）", ("administrator",)),
    ("demo-fire", "消防审查员（演示）", ("reviewer:fire",)),
)


def simulator_grants() -> list[str]:
    """The window, every department's reviewer, and the rating platform."""
    reviewers = [f"reviewer:{code}" for code in DEPARTMENTS if code != "window"]
    return ["window_clerk:window", *reviewers, Role.SYSTEM.value]


def ensure_demo_people(engine: Engine, accounts_file: Path) -> dict[str, str]:
    """Create the demo people that are missing; returns {user id: one-time password}
    for those created now (also appended to ``accounts_file``)."""
    with read_session(engine) as session:
        existing = {u.user_id for u in store.list_users(session)}
    created: dict[str, str] = {}
    for user_id, name, grants in DEMO_PEOPLE:
        if user_id not in existing:
            created[user_id] = add_user(
                engine, user_id=user_id, name=name, grants=grants, by="up --demo"
            )
    if SIMULATOR_ID not in existing:
        add_user(
            engine,
            user_id=SIMULATOR_ID,
            name="部门模拟器（演示）",
            grants=simulator_grants(),
            service=True,
            by="up --demo",
        )
    if created:
        accounts_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open_private(accounts_file, "a", encoding="utf-8") as handle:
            for user_id, password in created.items():
                handle.write(f"{user_id}\t{password}\n")
    return created


def _session_for(
    engine: Engine, keys: SigningKeys, user_id: str, lifetime: timedelta, key: SessionKey
) -> Session:
    with read_session(engine) as session:
        record = store.get_user(session, user_id)
        session.expunge(record)
    return _start_session(engine, keys, record, lifetime, key.public_text)


def demo_console_credentials(engine: Engine, keys: SigningKeys) -> Credentials:
    """The demo console, signed in as the demo coordinator (no password asked)."""
    key = SessionKey.generate()
    session = _session_for(engine, keys, COORDINATOR_ID, timedelta(hours=8), key)
    return Credentials(token=session.token, grant=Grant(role=Role.COORDINATOR), key=key)


def demo_simulator_credentials(engine: Engine, keys: SigningKeys) -> ServiceCredentials:
    """The demo's window and departments act as one service account, a grant per action."""
    return ServiceCredentials(
        lambda key: _session_for(engine, keys, SIMULATOR_ID, timedelta(hours=1), key).token
    )
