"""Signed sessions: short-lived Ed25519 (EdDSA) JSON Web Tokens.

A token says who a person is (user id, name) and which grants they held when they
signed in; the worker checks the signature, the key id, the expiry and — against the
user directory — that the person is still enabled and still holds the grant they act
in. Expiry is checked against a time the caller passes in (``workflow.now()`` inside a
workflow), never the machine's clock implicitly, so the check is the same everywhere.
"""

from __future__ import annotations

import secrets  # deterministic: signing tokens runs in clients, never in a case
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, Field, ValidationError

ISSUER = "onechain"
ALGORITHM = "EdDSA"
#: Clock difference between machines a token's issue time may show.
LEEWAY = timedelta(seconds=60)


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why, fit for the person acting."""


class Claims(BaseModel):
    """What a verified token says."""

    sub: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    kind: str = "person"
    grants: list[str] = Field(default_factory=list)
    #: The session key's public half (``trust.action_proof``): only its holder can act.
    cnf: str | None = None
    jti: str
    iat: int
    exp: int

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.iat, UTC)


def new_token_id() -> str:
    return secrets.token_hex(16)


def issue_token(
    private_key: Ed25519PrivateKey,
    kid: str,
    *,
    user_id: str,
    name: str,
    grants: list[str],
    kind: str,
    lifetime: timedelta,
    now: datetime | None = None,
    jti: str | None = None,
    session_key: str | None = None,
) -> tuple[str, Claims]:
    """Sign a token for ``user_id`` bound to ``session_key`` (the public half of the
    session's key pair, see ``trust.action_proof``); returns the token and its claims."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)  # deterministic: clients sign
    claims = Claims(
        sub=user_id,
        name=name,
        kind=kind,
        grants=sorted(grants),
        cnf=session_key,
        jti=jti or new_token_id(),
        iat=int(issued.timestamp()),
        exp=int((issued + lifetime).timestamp()),
    )
    payload = {"iss": ISSUER, **claims.model_dump(exclude_none=True)}
    token = jwt.encode(payload, private_key, algorithm=ALGORITHM, headers={"kid": kid})
    return token, claims


def verify_token(
    token: str, public_keys: Mapping[str, Ed25519PublicKey], *, now: datetime
) -> Claims:
    """The token's claims if its signature, key id, issuer and lifetime hold at ``now``."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("会话凭据格式错误（not a onechain session token）") from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise InvalidToken("会话凭据签名算法不被接受（unsupported signature algorithm）")
    key = public_keys.get(kid)
    if key is None:
        raise InvalidToken(f"会话凭据的签名密钥未知或已停用（unknown signing key {kid!r}）")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat", "sub"]},
        )
        claims = Claims.model_validate(payload)
    except (jwt.PyJWTError, ValidationError):
        raise InvalidToken("会话凭据签名无效（bad signature）") from None
    if now >= claims.expires_at:
        raise InvalidToken("会话已过期，请重新登录（onechain login）")
    if claims.issued_at > now + LEEWAY:
        raise InvalidToken("会话凭据的签发时间在未来（token issued in the future）")
    return claims


def read_claims(token: str) -> Claims:
    """The claims of a token already verified once (e.g. an accepted Update replayed
    from history): no signature or expiry check, so replay never depends on keys or time."""
    payload = jwt.decode(token, options={"verify_signature": False})
    return Claims.model_validate(payload)
