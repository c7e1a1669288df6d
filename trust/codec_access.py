"""Who may read sealed case data through the codec server: a signed-in person
(``Authorization: Bearer <session token>``) holding a role that works with applicants'
personal data, checked like every action (signature, expiry, enabled, session open)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio.api.common.v1 import Payload

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


#: The audit kind of a read of sealed case data through the codec server.
PERSONAL_DATA_READ = "personal_data_read"


def _case_numbers(payloads: Sequence[Payload]) -> list[str]:
    """Case numbers the decoded payloads name (a start's, a case state's ``case_no``)."""
    found: list[str] = []
    for payload in payloads:
        if payload.metadata.get("encoding") != b"json/plain":
            continue
        try:
            value = json.loads(payload.data)
        except ValueError:
            continue
        candidates = [value] + [v for v in value.values()] if isinstance(value, dict) else []
        for item in candidates:
            number = item.get("case_no") if isinstance(item, dict) else None
            if isinstance(number, str) and number not in found:
                found.append(number)
    return found


def read_recorder(
    engine: Engine, via: str = "codec-server"
) -> Callable[[str | None, Sequence[Payload]], None]:
    """A ``record_read`` for ``runtime.codec_server``: one audit row per decode, naming
    the reader (from their verified token, or "local" on an insecure local server), the
    cases whose data was read and how many payloads."""
    from trust.audit_log import record_account_event

    def record(authorization: str | None, payloads: Sequence[Payload]) -> None:
        reader = "local"
        if authorization and authorization.startswith("Bearer "):
            try:
                reader = read_claims(authorization.removeprefix("Bearer ").strip()).sub
            except Exception:
                reader = "unknown"
        cases = _case_numbers(payloads)
        record_account_event(
            engine,
            PERSONAL_DATA_READ,
            reader,
            f"经编解码服务读取案件数据：{'、'.join(cases[:5]) or '（未识别案件）'}",
            {"via": via, "payloads": len(payloads), "cases": cases[:50]},
        )

    return record
