"""Sealing a backup archive with a passphrase: scrypt, then AES-256-GCM.

A backup holds password hashes, the audit trail and the keys that open every sealed
history, so it is never written in clear. The file is a clear header, then the
sealed tar.gz::

    ONECHAIN-BACKUP-SEALED/1\\n
    {"cipher": "AES-256-GCM", "kdf": "scrypt", "n": 32768, "r": 8, "p": 1,
     "salt": "<base64>", "nonce": "<base64>", "version": 1}\\n
    <ciphertext and 16-byte tag>

The key is scrypt(passphrase, salt) with the header's parameters; the whole header is
the cipher's associated data, so a changed parameter fails like a wrong passphrase.
GCM cannot tell a wrong passphrase from a damaged file: both are "wrong passphrase or
damaged archive". Archives made before this start with gzip's magic instead and are
read as they are (``is_sealed`` tells them apart).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"ONECHAIN-BACKUP-SEALED/1\n"
VERSION = 1
#: scrypt cost: 2^15 × 8 × 128 bytes = 32 MiB and about 0.1 s per try on a server.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_BYTES, NONCE_BYTES, KEY_BYTES = 16, 12, 32
#: A passphrase shorter than this is refused when sealing (not when opening).
MIN_PASSPHRASE = 8
WRONG = "wrong passphrase or damaged archive"


class SealError(Exception):
    """The archive cannot be sealed or opened; the message says why."""


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC)


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def seal(data: bytes, passphrase: str) -> bytes:
    """``data`` sealed under ``passphrase`` (header, then ciphertext)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise SealError(f"the backup passphrase must have at least {MIN_PASSPHRASE} characters")
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    header: dict[str, Any] = {
        "version": VERSION,
        "kdf": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": base64.b64encode(salt).decode(),
        "cipher": "AES-256-GCM",
        "nonce": base64.b64encode(nonce).decode(),
    }
    head = MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n"
    key = _key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return head + AESGCM(key).encrypt(nonce, data, head)


def unseal(data: bytes, passphrase: str) -> bytes:
    """The archive inside a sealed file; ``SealError`` for a wrong passphrase, a
    damaged file or a header this version cannot read."""
    if not is_sealed(data):
        raise SealError("not a sealed onechain backup")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise SealError(WRONG)
    head, body = data[: end + 1], data[end + 1 :]
    try:
        header = json.loads(head[len(MAGIC) :])
        if header.get("version") != VERSION or header.get("kdf") != "scrypt":
            raise SealError(
                f"a sealed backup of version {header.get('version')}: use a newer onechain"
            )
        salt = base64.b64decode(header["salt"])
        nonce = base64.b64decode(header["nonce"])
        n, r, p = int(header["n"]), int(header["r"]), int(header["p"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SealError(WRONG) from None
    if not (2**10 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):  # no absurd costs
        raise SealError(WRONG)
    try:
        return AESGCM(_key(passphrase, salt, n, r, p)).decrypt(nonce, body, head)
    except (InvalidTag, ValueError):
        raise SealError(WRONG) from None
