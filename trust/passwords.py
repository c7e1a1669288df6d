"""Password and service-key hashing with argon2id (argon2-cffi's defaults, RFC 9106)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id

MIN_PASSWORD_LENGTH = 10


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Whether ``secret`` matches; never raises for a wrong or malformed hash."""
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A password to hand over once (printed by ``users add``/``bootstrap``), easy to type:
    four groups of four letters and digits without look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def service_key(user_id: str) -> str:
    """An API key for a service account: names its account so the secret can be checked."""
    return f"oc1.{user_id}.{secrets.token_urlsafe(32)}"


def split_service_key(key: str) -> tuple[str, str] | None:
    parts = key.strip().split(".", 2)
    if len(parts) != 3 or parts[0] != "oc1" or not parts[1] or not parts[2]:
        return None
    return parts[1], key.strip()


def check_new_password(password: str) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少 {MIN_PASSWORD_LENGTH} 个字符（password too short）"
    if password.strip() != password:
        return "密码首尾不能有空白（no leading or trailing spaces）"
    return None
