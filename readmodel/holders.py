"""Keyed hashes of holders' ids: how the read model finds a holder without storing the id.

The e-licence store and credit records must answer "what does the holder with id X
hold?", but a stolen database must not hand out every applicant's resident id. So
they store ``HMAC-SHA256(lookup key, normalised id)`` in hex: the same id always gives
the same hash (an index serves the look-up), and without the lookup key (the keystore,
``runtime.keys``) a hash cannot be checked against guessed ids — a plain SHA-256 of an
18-digit resident id could be reversed by trying every birth date and serial.
"""

from __future__ import annotations

import hashlib
import hmac

#: Length of a stored hash: SHA-256 in hex.
HOLDER_HASH_LENGTH = 64


def normalise_holder_id(holder_id: str) -> str:
    """The same id however it was typed: no whitespace, upper case (the trailing ``x``
    of a resident id, letters of a credit code)."""
    return "".join(holder_id.split()).upper()


def holder_hash(lookup_key: bytes, holder_id: str) -> str:
    """``HMAC-SHA256(lookup_key, normalised id)`` as 64 hex digits."""
    message = normalise_holder_id(holder_id).encode("utf-8")
    return hmac.new(lookup_key, message, hashlib.sha256).hexdigest()
