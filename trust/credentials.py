"""What a client sends with every call so the worker knows who acts: the session token,
the grant (role) the person acts in, and a proof bound to the call
(:mod:`trust.action_proof`), as three Temporal headers.

The client interceptor (:mod:`trust.client_interceptor`) reads the credentials of the
current call from a context variable that :class:`client.facade.CaseDesk` sets, so one
client connection can serve one signed-in person (CLI, console) or several (tests,
the simulator acting for several departments).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from temporalio.api.common.v1 import Payload
from temporalio.converter import default

from domain.roles import Actor, Grant
from trust.action_proof import ActionBinding, SessionKey, sign_proof
from trust.tokens import read_claims

TOKEN_HEADER = "onechain-token"
GRANT_HEADER = "onechain-grant"
PROOF_HEADER = "onechain-proof"
TRUST_HEADERS = (TOKEN_HEADER, GRANT_HEADER, PROOF_HEADER)
#: Metadata on the trust headers' payloads: the codec server never hands them out.
TRUST_METADATA_KEY = "onechain-trust"


@dataclass(frozen=True)
class Credentials:
    """A signed session, the session's private key and the grant the person acts in."""

    token: str
    grant: Grant
    key: SessionKey

    def proof_for(self, binding: ActionBinding) -> str:
        """A fresh proof that this session's holder sends exactly this call."""
        return sign_proof(self.key, read_claims(self.token).jti, binding)

    @property
    def actor(self) -> Actor:
        """Who the token says acts (for display and for filling action models; the worker
        derives the same from the verified token and never trusts this copy)."""
        claims = read_claims(self.token)
        return self.grant.actor(claims.sub, claims.name)


_current: ContextVar[Credentials | None] = ContextVar("onechain_credentials", default=None)


@contextlib.contextmanager
def acting_as(credentials: Credentials | None) -> Iterator[None]:
    """Send ``credentials`` with every Temporal call made inside this block."""
    reset = _current.set(credentials)
    try:
        yield
    finally:
        _current.reset(reset)


def current_credentials() -> Credentials | None:
    return _current.get()


def _text_payload(text: str) -> Payload:
    payload = default().payload_converter.to_payload(text)
    assert payload is not None
    payload.metadata[TRUST_METADATA_KEY] = b"1"
    return payload


def is_trust_payload(payload: Payload) -> bool:
    """A header payload that carries a token, grant or proof (after unsealing)."""
    return TRUST_METADATA_KEY in payload.metadata


def _text(payload: Payload | None) -> str | None:
    if payload is None:
        return None
    try:
        value = default().payload_converter.from_payload(payload, str)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def with_credential_headers(
    headers: Mapping[str, Payload],
    credentials: Credentials | None,
    binding: ActionBinding | None = None,
) -> dict[str, Payload]:
    """``headers`` plus ours (with a proof for ``binding``); any trust header the caller
    set is replaced, never merged."""
    merged = {k: v for k, v in headers.items() if k not in TRUST_HEADERS}
    if credentials is not None:
        merged[TOKEN_HEADER] = _text_payload(credentials.token)
        merged[GRANT_HEADER] = _text_payload(credentials.grant.label())
        if binding is not None:
            merged[PROOF_HEADER] = _text_payload(credentials.proof_for(binding))
    return merged


def credential_headers(headers: Mapping[str, Payload]) -> tuple[str | None, str | None]:
    """(token, grant label) found in ``headers``."""
    return _text(headers.get(TOKEN_HEADER)), _text(headers.get(GRANT_HEADER))


def proof_header(headers: Mapping[str, Payload]) -> str | None:
    """The action proof found in ``headers``."""
    return _text(headers.get(PROOF_HEADER))
