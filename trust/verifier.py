"""Who acts, proven: a token's signature and lifetime, then the user directory's word
that the person is enabled, the session not ended, and the grant still theirs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain.roles import Actor, Grant, Role
from trust.action_proof import ActionBinding, ProofClaims, verify_proof
from trust.directory import UserDirectory
from trust.tokens import Claims, read_claims, verify_token


class NotPermitted(Exception):
    """The identity is proven but may not act this way; the message says why."""


@dataclass(frozen=True)
class IdentityVerifier:
    public_keys: Mapping[str, Ed25519PublicKey]
    directory: UserDirectory

    def verify(self, token: str | None, grant_label: str | None, now: datetime) -> Actor:
        """The verified actor of a session token alone (the codec server's bearer check);
        raises ``InvalidToken``, ``NotPermitted`` or ``DirectoryUnavailable`` with a
        message fit to show the person acting."""
        if not token:
            raise NotPermitted("未登录：操作需要会话凭据，请先 onechain login（no session token）")
        return self._permitted(verify_token(token, self.public_keys, now=now), grant_label)

    def verify_action(
        self,
        token: str | None,
        grant_label: str | None,
        proof: str | None,
        binding: ActionBinding,
        now: datetime,
    ) -> tuple[Actor, ProofClaims]:
        """The verified actor of one call: the token, then the proof that its session's
        key holder sent exactly ``binding`` just now, then the directory."""
        if not token:
            raise NotPermitted("未登录：操作需要会话凭据，请先 onechain login（no session token）")
        claims = verify_token(token, self.public_keys, now=now)
        proof_claims = verify_proof(proof, claims, binding, now=now)
        return self._permitted(claims, grant_label), proof_claims

    def _permitted(self, claims: Claims, grant_label: str | None) -> Actor:
        snapshot = self.directory.snapshot()
        entry = snapshot.users.get(claims.sub)
        if entry is None:
            raise NotPermitted(f"用户 {claims.sub} 不存在（unknown user）")
        if not entry.enabled:
            raise NotPermitted(f"用户 {claims.sub} 已停用（user disabled）")
        if claims.jti in snapshot.revoked:
            raise NotPermitted("会话已注销，请重新登录（session ended）")
        grant = acting_grant(grant_label)
        if grant.label() not in entry.grants:
            held = "、".join(sorted(entry.grants)) or "无"
            raise NotPermitted(f"用户 {claims.sub} 没有角色 {grant.label()}（holds: {held}）")
        if grant.role is Role.SYSTEM and entry.kind != "service":
            raise NotPermitted("system 角色只属于服务账号（system is for service accounts）")
        return grant.actor(claims.sub, claims.name)


def acting_grant(grant_label: str | None) -> Grant:
    if not grant_label:
        raise NotPermitted("未指明以哪个角色操作（no grant header）")
    try:
        return Grant.parse(grant_label)
    except ValueError as error:
        raise NotPermitted(f"角色 {grant_label!r} 无效：{error}") from None


def replayed_actor(token: str, grant_label: str | None) -> Actor:
    """The actor of an action the validator already accepted (deterministic: no keys,
    no clock, no directory — replay must not depend on them)."""
    claims = read_claims(token)
    return acting_grant(grant_label).actor(claims.sub, claims.name)
