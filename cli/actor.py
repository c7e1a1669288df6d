"""``--as user:role[:department][:name]``: who the CLI acts as.

The workflow checks the role; the CLI only parses it. Default from
``ONECHAIN_AS`` so an operator sets it once per shell.
"""

from __future__ import annotations

import os

from pydantic import ValidationError

from cli.output import EXIT_USAGE, fail
from domain.roles import Actor, Role

AS_HELP = (
    "Act as USER:ROLE[:DEPARTMENT][:NAME], roles: "
    + ", ".join(r.value for r in Role)
    + " (default: $ONECHAIN_AS)"
)


def parse_actor(text: str | None) -> Actor:
    text = text or os.environ.get("ONECHAIN_AS")
    if not text:
        fail("--as USER:ROLE[:DEPARTMENT] is required (or set ONECHAIN_AS)", EXIT_USAGE)
    parts = text.split(":")
    if len(parts) < 2:
        fail(f"--as {text!r}: expected USER:ROLE[:DEPARTMENT][:NAME]", EXIT_USAGE)
    user, role = parts[0], parts[1]
    department = parts[2] if len(parts) > 2 and parts[2] else None
    name = parts[3] if len(parts) > 3 and parts[3] else user
    try:
        return Actor(user_id=user, name=name, role=Role(role), department=department)
    except ValueError as error:
        if isinstance(error, ValidationError):
            reason = error.errors()[0]["msg"]
        else:
            reason = f"unknown role {role!r} (roles: {', '.join(r.value for r in Role)})"
        fail(f"--as {text!r}: {reason}", EXIT_USAGE)
