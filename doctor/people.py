"""Someone can sign in, and someone can administer."""

from __future__ import annotations

from sqlalchemy import Engine

from doctor.findings import Finding, fail, ok, warn
from readmodel.accounts import list_users
from readmodel.database import read_session


def people(engine: Engine, *, temporal_holds_cases: bool = False) -> Finding:
    """With cases in Temporal, nobody here means a lost read model: the advice is to
    restore it, since whoever bootstraps a lost database first is administrator."""
    with read_session(engine) as session:
        enabled = [u for u in list_users(session) if u.enabled]
    admins = [u for u in enabled if "administrator" in u.grants]
    if not enabled and temporal_holds_cases:
        return fail(
            "users",
            "no one can sign in, yet Temporal holds cases: the read model was lost; restore "
            "it (`onechain backup restore ARCHIVE`), not `onechain users bootstrap`",
        )
    if not enabled:
        return fail(
            "users",
            "no one can sign in: run `onechain users bootstrap` to create the first administrator",
        )
    if not admins:
        return warn(
            "users",
            f"{len(enabled)} user(s) but no enabled administrator: nobody can add people, "
            "load calendars or change departments",
        )
    return ok("users", f"{len(enabled)} user(s), {len(admins)} administrator(s)")
