"""Placeholder keystore (signing keys only) until the full keystore lands.

The full version (payload keys, look-up key, rotation, environment variables) comes
from the codec branch; this keeps the same names for the signing part.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class MissingKeys(RuntimeError):
    pass


@dataclass(frozen=True)
class SigningKeys:
    active_kid: str
    private_key: Ed25519PrivateKey | None
    public_keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def init_keys(directory: Path) -> list[str]:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if list(directory.glob("signing-*.pem")):
        return []
    kid = f"s-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(directory / f"signing-{kid}.pem", pem)
    return [kid]


def load_signing_keys(directory: Path) -> SigningKeys:
    files = sorted(directory.glob("signing-*.pem"))
    if not files:
        raise MissingKeys(f"no signing key in {directory}: run `onechain keys init`")
    public: dict[str, Ed25519PublicKey] = {}
    active: tuple[str, Ed25519PrivateKey] | None = None
    for path in files:
        kid = path.stem.removeprefix("signing-")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        public[kid] = key.public_key()
        active = (kid, key)
    assert active is not None
    return SigningKeys(active_kid=active[0], private_key=active[1], public_keys=public)


def keys_dir(settings: object) -> Path:
    configured = getattr(settings, "keys_dir", None)
    return Path(configured) if configured else Path(settings.data_dir) / "keys"
