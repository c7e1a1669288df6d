"""Who may read sealed case data through the codec server: a signed-in person
(``Authorization: Bearer <session token>``) holding a role that works with applicants'
personal data, checked like every action (signature, expiry, enabled, session open)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from domain.roles import Role
from trust.directory import DirectoryUnavailable
from trust.tokens import InvalidToken, read_claims
from trust.verifier import IdentityVerifier, NotPermitted

#: Roles whose work needs the applicant's id and phone in clear.
PERSONAL_DATA_ROLES = frozenset(
    {Role.WINDOW_CLERK, Role.COORDINATOR, Role.SUPERVISOR, Role.ADMINISTRATOR}
)


def signed_in_reader(verifier: IdentityVerifier) -> Callable[[str | None], str | None]:
    """An ``authorize`` for ``runtime.codec_server``: None to allow, else the refusal."""

    def authorize(authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Bearer "):
            return "sign in: send Authorization: Bearer <onechain session token>"
        token = authorization.removeprefix("Bearer ").strip()
        try:
            grants = read_claims(token).grants
        except Exception:
            return "not a onechain session token"
        allowed = [g for g in grants if g.split(":")[0] in {r.value for r in PERSONAL_DATA_ROLES}]
        if not allowed:
            return "your roles may not see applicants' personal data"
        try:
            verifier.verify(token, allowed[0], datetime.now(UTC))
        except (InvalidToken, NotPermitted, DirectoryUnavailable) as refused:
            return str(refused)
        return None

    return authorize
