"""Sealing personal data in Temporal history: an AES-256-GCM ``PayloadCodec``.

Every payload a client or worker sends (case start input, activity inputs such as
``issue_licences`` with the holder's id, Update arguments, Query results) is encrypted
before it leaves the process, so the Temporal server, its SQLite file and its Web UI
hold ciphertext only. Each sealed payload names its key id in the metadata, so after
``onechain keys rotate payload`` new payloads use the new key while old cases still
decode with the old one. The key id is also the AEAD's associated data: a payload
whose metadata was edited to name another key fails to decrypt instead of being
silently mis-read.

A payload larger than ``COMPRESS_ABOVE`` bytes is compressed (zlib) before it is
sealed, and says so in its metadata; the flag is part of the associated data too, so
it cannot be flipped. Why: a case keeps its read-model rows in its memo and upserts
the changed ones with each change (``workflows.projection_memo``); JSON rows compress
to a third, and every byte is written to history, to the visibility store, and read
back on replay. Compression before encryption can leak through sizes when an attacker
mixes chosen text with a secret in one payload and watches the sizes; here a payload
holds one case's data, whose only outside author is its own applicant.

Payloads without the ``binary/encrypted`` encoding pass through undecoded: histories
recorded before the codec existed (``tests/histories``) still replay.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from runtime.keys import PayloadKeys

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
COMPRESSION_METADATA = "compression"
ZLIB = b"zlib"
#: Smaller payloads gain little and are sealed as they are.
COMPRESS_ABOVE = 256


class PayloadKeyError(ValueError):
    """A sealed payload cannot be opened here: unknown key id, or wrong/tampered data."""


class SealingCodec(PayloadCodec):
    """AES-256-GCM with a random 12-byte nonce per payload; ``nonce || ciphertext``."""

    def __init__(self, keys: PayloadKeys) -> None:
        self._active_kid = keys.active_kid
        self._active_aad = keys.active_kid.encode("utf-8")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.keys.items()}
        self._active = self._ciphers[keys.active_kid]

    @property
    def active_kid(self) -> str:
        return self._active_kid

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        plain = payload.SerializeToString()
        metadata = {"encoding": ENCODING, KEY_ID_METADATA: self._active_aad}
        aad = self._active_aad
        if len(plain) > COMPRESS_ABOVE:
            plain = zlib.compress(plain, 6)
            metadata[COMPRESSION_METADATA] = ZLIB
            aad = _compressed_aad(aad)
        sealed = self._active.encrypt(nonce, plain, aad)
        return Payload(metadata=metadata, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not sealed (recorded before the codec): pass through
        kid_bytes = payload.metadata.get(KEY_ID_METADATA, b"")
        kid = kid_bytes.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            known = ", ".join(sorted(self._ciphers)) or "none"
            raise PayloadKeyError(
                f"payload sealed with key id {kid!r}, which is not among this machine's "
                f"payload keys ({known}; see `onechain keys list`): copy that key into the "
                "keys folder or ONECHAIN_PAYLOAD_KEYS; a retired key no longer decrypts, "
                "and a lost key cannot be made again"
            )
        data = payload.data
        compression = payload.metadata.get(COMPRESSION_METADATA)
        if compression not in (None, ZLIB):
            raise PayloadKeyError(f"payload compressed with {compression!r}, which is unknown here")
        aad = _compressed_aad(kid_bytes) if compression == ZLIB else kid_bytes
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], aad)
        except InvalidTag:
            raise PayloadKeyError(
                f"payload sealed with key id {kid!r} failed authentication: the key "
                "under that id is not the one that sealed it, or the payload was altered"
            ) from None
        if compression == ZLIB:
            plain = zlib.decompress(plain)
        return Payload.FromString(plain)


def _compressed_aad(kid: bytes) -> bytes:
    """The associated data of a compressed payload: its key id and the flag."""
    return kid + b"|" + ZLIB
