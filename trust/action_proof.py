"""Proof of possession: what makes a session token lifted from a history worthless.

A session token says who a person is; by itself it is a bearer credential, and every
action's headers land in the case's history. So at sign-in the client makes a fresh
Ed25519 **session key**; the signed token names its public half (claim ``cnf``). Every
start, Update and signal then carries, beside the token, an **action proof** signed with
the session key and bound to exactly that call:

* ``wid`` the workflow (case) it is sent to, ``act`` what it is (``update:decide``,
  ``start:CaseWorkflow``, ``signal:reload_calendar``), ``rid`` its request id (the
  Update id), ``dig`` a SHA-256 digest of its arguments;
* ``iat``/``exp``: valid for :data:`PROOF_LIFETIME` only;
* ``jti``: the worker accepts one proof once per case run.

The session key never leaves the signed-in process (and its owner-only session file),
so whoever reads a history, a log or a backup holds a token and proofs for calls that
already happened, and nothing that signs a new one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets  # deterministic: proofs are signed in clients, never in a case
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, Field, ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from trust.tokens import ALGORITHM, LEEWAY, Claims, InvalidToken

#: How long a proof may be used after it was signed: long enough for a retried call,
#: too short to matter once a history is read.
PROOF_LIFETIME = timedelta(minutes=5)
PROOF_TYPE = "oc-proof"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionKey:
    """The private half of a session's key pair; kept by the signed-in process only."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SessionKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str) -> SessionKey:
        """From :meth:`to_text` (the raw 32 private bytes, base64url)."""
        return cls(Ed25519PrivateKey.from_private_bytes(_unb64(text)))

    def to_text(self) -> str:
        raw = self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return _b64(raw)

    @property
    def public_text(self) -> str:
        """The public half as the token's ``cnf`` claim carries it."""
        return public_key_text(self.private_key.public_key())


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64(raw)


def check_public_key_text(text: str) -> str:
    """``text`` if it is a raw Ed25519 public key in base64url; raises ValueError."""
    try:
        raw = _unb64(text)
        Ed25519PublicKey.from_public_bytes(raw)
    except Exception:
        raise ValueError("session_key is not an Ed25519 public key (32 bytes, base64url)") from None
    return text


@dataclass(frozen=True)
class ActionBinding:
    """The one call a proof is good for."""

    workflow_id: str
    action: str
    request_id: str
    digest: str


def _digest_of(values: Sequence[Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def args_digest(args: Sequence[Any]) -> str:
    """What the client signs: SHA-256 over the arguments as they will travel (the
    payload converter's JSON, keys sorted)."""
    payloads = pydantic_data_converter.payload_converter.to_payloads(list(args))
    return _digest_of([json.loads(payload.data) for payload in payloads])


def received_digest(args: Sequence[Any]) -> str:
    """What the worker checks: the same digest over the arguments as it decoded them.
    A model counts only the fields the sender gave (``exclude_unset``), so a client that
    sends a plain JSON object with some fields hashes the same as the worker does."""
    values = []
    for arg in args:
        if isinstance(arg, BaseModel):
            values.append(arg.model_dump(mode="json", exclude_unset=True))
        else:
            [payload] = pydantic_data_converter.payload_converter.to_payloads([arg])
            values.append(json.loads(payload.data))
    return _digest_of(values)


def start_binding(workflow_id: str, workflow: str, args: Sequence[Any]) -> ActionBinding:
    """What a start's proof is bound to: the workflow id is its request id (a case
    number can be started once)."""
    return ActionBinding(workflow_id, f"start:{workflow}", workflow_id, args_digest(args))


def update_binding(
    workflow_id: str, update: str, update_id: str, args: Sequence[Any], *, received: bool = False
) -> ActionBinding:
    """An Update's binding, as the client sends it or (``received``) as the worker got it."""
    digest = received_digest(args) if received else args_digest(args)
    return ActionBinding(workflow_id, f"update:{update}", update_id, digest)


def signal_binding(workflow_id: str, signal: str, args: Sequence[Any]) -> ActionBinding:
    """Signals have no id of their own; they are idempotent reloads, bound by content."""
    return ActionBinding(workflow_id, f"signal:{signal}", workflow_id, args_digest(args))


class ProofClaims(BaseModel):
    sid: str
    wid: str
    act: str
    rid: str
    dig: str
    jti: str = Field(min_length=8, max_length=64)
    iat: int
    exp: int


def sign_proof(
    key: SessionKey, session_id: str, binding: ActionBinding, now: datetime | None = None
) -> str:
    """A proof for ``binding`` by the holder of the session ``session_id``."""
    issued = int((now or datetime.now(UTC)).timestamp())  # deterministic: clients sign
    claims = ProofClaims(
        sid=session_id,
        wid=binding.workflow_id,
        act=binding.action,
        rid=binding.request_id,
        dig=binding.digest,
        jti=secrets.token_hex(12),
        iat=issued,
        exp=issued + int(PROOF_LIFETIME.total_seconds()),
    )
    return jwt.encode(
        claims.model_dump(), key.private_key, algorithm=ALGORITHM, headers={"typ": PROOF_TYPE}
    )


def verify_proof(
    proof: str | None, token_claims: Claims, binding: ActionBinding, *, now: datetime
) -> ProofClaims:
    """The proof's claims if the session's key signed it for exactly ``binding`` and it
    is still fresh at ``now``; raises :class:`InvalidToken` saying which check failed."""
    if not token_claims.cnf:
        raise InvalidToken("会话未绑定会话密钥，请重新登录（session has no key: sign in again）")
    if not proof:
        raise InvalidToken("缺少操作证明，请升级客户端并重新登录（no action proof）")
    try:
        public = Ed25519PublicKey.from_public_bytes(_unb64(token_claims.cnf))
        payload = jwt.decode(proof, public, algorithms=[ALGORITHM], options={"verify_exp": False})
        claims = ProofClaims.model_validate(payload)
    except (jwt.PyJWTError, ValidationError, ValueError):
        raise InvalidToken("操作证明签名无效（bad action proof signature）") from None
    expected = (token_claims.jti, binding.workflow_id, binding.action, binding.request_id)
    if (claims.sid, claims.wid, claims.act, claims.rid) != expected:
        raise InvalidToken("操作证明不属于本次操作（action proof is for another call）")
    if claims.dig != binding.digest:
        raise InvalidToken("操作证明与操作内容不符（action proof does not match the payload）")
    stamp = int(now.timestamp())
    if stamp >= claims.exp:
        raise InvalidToken("操作证明已过期，请重试（action proof expired）")
    if claims.iat > stamp + int(LEEWAY.total_seconds()):
        raise InvalidToken("操作证明的签发时间在未来（action proof issued in the future）")
    return claims


def read_proof_claims(proof: str) -> ProofClaims | None:
    """An accepted proof's claims without checks (replay), or None if unreadable."""
    try:
        return ProofClaims.model_validate(jwt.decode(proof, options={"verify_signature": False}))
    except Exception:
        return None
