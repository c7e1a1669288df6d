"""One keystore for every secret key onechain uses.

Three kinds of key, each with a short key id (``p-20261202-ab12``) so keys can rotate:

* **payload** — AES-256 keys that seal Temporal payloads (``runtime.codec``). The active
  key encrypts; every non-retired key still decrypts, so a rotated key keeps old cases
  readable. Retiring a payload key makes the histories sealed with it unreadable.
* **signing** — Ed25519 key pairs that sign session tokens. The active private key
  signs; every non-retired public key verifies. A machine that only verifies holds the
  public keys alone (``private_key`` is then ``None``).
* **lookup** — one HMAC-SHA256 key for keyed hashes of personal ids in the read model
  (the e-licence store finds a holder by ``HMAC(key, id)``). It does not rotate: a new
  key would orphan every stored hash.
* **audit** — HMAC-SHA256 keys that seal the audit trail's rows and its anchors
  (``readmodel.audit``, ``readmodel.anchors``): kept out of the database, so whoever
  administers the database cannot rewrite the trail and re-seal it. The active key seals
  new rows; every audit key still verifies the rows it sealed (each row names its key
  id), so an audit key rotates but is never retired.

On disk (the embedded default, ``<data_dir>/keys``, or ``ONECHAIN_KEYS_DIR``)::

    keys/                 0700
      keys.json           which kid is active / retired per kind (no key material)
      payload/<kid>.key   base64 of 32 random bytes                          0600
      lookup/<kid>.key    base64 of 32 random bytes                          0600
      audit/<kid>.key     base64 of 32 random bytes                          0600
      signing/<kid>.pem   Ed25519 private key, PKCS#8 PEM (signing machines)  0600
      signing/<kid>.pub   Ed25519 public key, PEM                             0600

Deployments without a shared folder give keys in environment variables instead; a
variable, when set, wins over the folder for its kind:

* ``ONECHAIN_PAYLOAD_KEYS="kid1:BASE64,kid2:BASE64"`` — 32-byte keys, the first active;
* ``ONECHAIN_LOOKUP_KEY="kid:BASE64"`` (or just ``BASE64``);
* ``ONECHAIN_AUDIT_KEY="kid1:BASE64,kid2:BASE64"`` — 32-byte keys, the first active
  (the key id is required: each audit row records it);
* ``ONECHAIN_SIGNING_PUBLIC_KEYS="kid1:BASE64,kid2:BASE64"`` — raw 32-byte Ed25519
  public keys, the first active;
* ``ONECHAIN_SIGNING_PRIVATE_KEY_FILE=/path/key.pem`` — the active kid's private key
  (PKCS#8 PEM); without it the machine only verifies.

Nothing here ever prints or logs key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from runtime.private_files import make_private_dir
from runtime.settings import Settings

Kind = Literal["payload", "signing", "lookup", "audit"]
RotatableKind = Literal["payload", "signing", "audit"]
RetirableKind = Literal["payload", "signing"]
KINDS: tuple[Kind, ...] = ("payload", "lookup", "signing", "audit")
_PREFIX: dict[str, str] = {"payload": "p", "signing": "s", "lookup": "l", "audit": "a"}
MANIFEST = "keys.json"
SYMMETRIC_KEY_BYTES = 32
INIT_HINT = "run `onechain keys init`"

ENV_PAYLOAD_KEYS = "ONECHAIN_PAYLOAD_KEYS"
ENV_LOOKUP_KEY = "ONECHAIN_LOOKUP_KEY"
ENV_AUDIT_KEY = "ONECHAIN_AUDIT_KEY"
ENV_SIGNING_PUBLIC_KEYS = "ONECHAIN_SIGNING_PUBLIC_KEYS"
ENV_SIGNING_PRIVATE_KEY_FILE = "ONECHAIN_SIGNING_PRIVATE_KEY_FILE"
KEY_ENVIRONMENT_VARIABLES = (
    ENV_PAYLOAD_KEYS,
    ENV_LOOKUP_KEY,
    ENV_AUDIT_KEY,
    ENV_SIGNING_PUBLIC_KEYS,
    ENV_SIGNING_PRIVATE_KEY_FILE,
)


class KeystoreError(RuntimeError):
    """A key is missing, malformed or cannot be changed; the message says which and why."""


@dataclass(frozen=True)
class SigningKeys:
    active_kid: str
    private_key: Ed25519PrivateKey | None
    public_keys: dict[str, Ed25519PublicKey]


@dataclass(frozen=True)
class PayloadKeys:
    active_kid: str
    keys: dict[str, bytes]


@dataclass(frozen=True)
class AuditKeys:
    """The audit trail's HMAC keys: ``active_kid`` seals new rows, all of them verify."""

    active_kid: str
    keys: dict[str, bytes]


@dataclass(frozen=True)
class KeyInfo:
    """What ``keys list`` shows: never the key itself."""

    kind: str
    kid: str
    active: bool
    retired: bool
    created: str
    source: str  # "folder" or the environment variable's name
    private: bool | None = None  # signing keys: is the private half here?


def keys_dir(settings: Settings) -> Path:
    """``ONECHAIN_KEYS_DIR``, by default ``<data_dir>/keys``."""
    return settings.keys_dir if settings.keys_dir is not None else settings.data_dir / "keys"


# --------------------------------------------------------------------------------------
# Files: owner-only, created with their mode (never chmod after the bytes are written)


def _write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` 0600 (fails if it exists: a key is never overwritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _replace_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with a new 0600 file."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    _write_new_file(temp, data)
    os.replace(temp, path)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One writer at a time (``up`` and a ``keys`` command may start together)."""
    make_private_dir(directory)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": 1}
    except (OSError, ValueError) as error:
        raise KeystoreError(f"cannot read the key manifest {path}: {error}") from None
    if not isinstance(manifest, dict):
        raise KeystoreError(f"the key manifest {path} is not a JSON object")
    return manifest


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    _replace_file(directory / MANIFEST, text.encode("utf-8"))


def _new_kid(kind: Kind, now: datetime) -> str:
    return f"{_PREFIX[kind]}-{now:%Y%m%d}-{secrets.token_hex(2)}"


def _entries(manifest: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    section = manifest.get(kind) or {}
    keys = section.get("keys") or {}
    return dict(keys)


def _active(manifest: Mapping[str, Any], kind: str) -> str | None:
    section = manifest.get(kind) or {}
    active = section.get("active")
    return active if isinstance(active, str) else None


def _create_key(directory: Path, kind: Kind, manifest: dict[str, Any], now: datetime) -> str:
    """Write a new key of ``kind`` and make it active in ``manifest`` (caller saves it)."""
    kid = _new_kid(kind, now)
    while kid in _entries(manifest, kind):
        kid = _new_kid(kind, now)
    folder = directory / kind
    make_private_dir(folder)
    if kind == "signing":
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_new_file(folder / f"{kid}.pem", pem)
        _write_new_file(folder / f"{kid}.pub", public)
    else:
        secret = secrets.token_bytes(SYMMETRIC_KEY_BYTES)
        _write_new_file(folder / f"{kid}.key", base64.b64encode(secret) + b"\n")
    section = manifest.setdefault(kind, {})
    section.setdefault("keys", {})[kid] = {"created": now.isoformat(timespec="seconds")}
    section["active"] = kid
    return kid


# --------------------------------------------------------------------------------------
# Managing keys


def init_keys(directory: Path) -> list[str]:
    """Create whatever is missing (a payload key, a lookup key, a signing key pair, an
    audit key);
    returns the key ids created, empty when everything was already there."""
    created: list[str] = []
    with _locked(directory):
        manifest = _read_manifest(directory)
        now = datetime.now(UTC)
        for kind in KINDS:
            if _active(manifest, kind) is None:
                created.append(_create_key(directory, kind, manifest, now))
        if created:
            _write_manifest(directory, manifest)
    return created


def rotate(directory: Path, kind: RotatableKind) -> str:
    """A new key of ``kind`` becomes active; the old ones still decrypt / verify."""
    if kind not in ("payload", "signing", "audit"):
        raise KeystoreError(f"only payload, signing and audit keys rotate, not {kind!r}")
    with _locked(directory):
        manifest = _read_manifest(directory)
        if _active(manifest, kind) is None:
            raise KeystoreError(f"no {kind} key in {directory} to rotate: {INIT_HINT}")
        kid = _create_key(directory, kind, manifest, datetime.now(UTC))
        _write_manifest(directory, manifest)
    return kid


def retire(directory: Path, kind: RetirableKind, kid: str) -> None:
    """Stop using ``kid`` for decryption / verification (its file stays, marked retired).

    The active key cannot be retired: rotate first. Retiring a payload key makes the
    histories sealed with it unreadable, so retire one only when no case needs it.
    """
    if kind not in ("payload", "signing"):
        raise KeystoreError(
            f"{kind} keys are never retired (the rows they sealed must still verify)"
        )
    with _locked(directory):
        manifest = _read_manifest(directory)
        entries = _entries(manifest, kind)
        if kid not in entries:
            known = ", ".join(sorted(entries)) or "none"
            raise KeystoreError(f"no {kind} key {kid!r} in {directory} (known: {known})")
        if _active(manifest, kind) == kid:
            raise KeystoreError(
                f"{kid} is the active {kind} key: rotate first (`onechain keys rotate {kind}`)"
            )
        if entries[kid].get("retired"):
            return
        manifest[kind]["keys"][kid]["retired"] = datetime.now(UTC).isoformat(timespec="seconds")
        _write_manifest(directory, manifest)


def list_keys(directory: Path, environ: Mapping[str, str] | None = None) -> list[KeyInfo]:
    """Every key this machine would use (or has retired), without key material."""
    env = os.environ if environ is None else environ
    manifest = _read_manifest(directory)
    infos: list[KeyInfo] = []
    from_env = {
        "payload": ENV_PAYLOAD_KEYS,
        "lookup": ENV_LOOKUP_KEY,
        "signing": ENV_SIGNING_PUBLIC_KEYS,
        "audit": ENV_AUDIT_KEY,
    }
    for kind in KINDS:
        variable = from_env[kind]
        if env.get(variable):
            kids = [kid for kid, _ in _parse_env_list(variable, env[variable], kind)]
            for index, kid in enumerate(kids):
                private = (
                    bool(env.get(ENV_SIGNING_PRIVATE_KEY_FILE)) and index == 0
                    if kind == "signing"
                    else None
                )
                infos.append(KeyInfo(kind, kid, index == 0, False, "", variable, private))
            continue
        active = _active(manifest, kind)
        for kid, entry in sorted(_entries(manifest, kind).items()):
            private = (directory / kind / f"{kid}.pem").exists() if kind == "signing" else None
            infos.append(
                KeyInfo(
                    kind,
                    kid,
                    kid == active,
                    bool(entry.get("retired")),
                    str(entry.get("created", "")),
                    "folder",
                    private,
                )
            )
    return infos


# --------------------------------------------------------------------------------------
# Loading keys


def _missing(kind: str, directory: Path, variable: str) -> KeystoreError:
    return KeystoreError(
        f"no {kind} key: none in {directory} and {variable} is not set; {INIT_HINT} "
        f"(or set ONECHAIN_KEYS_DIR / {variable})"
    )


def _decode_symmetric(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeystoreError(f"{where} is not base64") from None
    if len(key) != SYMMETRIC_KEY_BYTES:
        raise KeystoreError(f"{where} must be {SYMMETRIC_KEY_BYTES} bytes, not {len(key)}")
    return key


def _parse_env_list(variable: str, value: str, kind: str) -> list[tuple[str, str]]:
    """``kid1:BASE64,kid2:BASE64`` → [(kid, base64)], checked for shape (not decoded)."""
    pairs: list[tuple[str, str]] = []
    for position, item in enumerate(value.split(","), start=1):
        item = item.strip()
        kid, sep, material = item.partition(":")
        if not sep or not kid.strip() or not material.strip():
            raise KeystoreError(
                f"{variable} item {position} is not KID:BASE64 "
                f"(expected e.g. {_PREFIX[kind]}-20261202-ab12:...)"
            )
        pairs.append((kid.strip(), material.strip()))
    kids = [kid for kid, _ in pairs]
    if len(set(kids)) != len(kids):
        raise KeystoreError(f"{variable} names a key id twice")
    return pairs


def _folder_key_file(directory: Path, kind: str, kid: str, suffix: str) -> Path:
    path = directory / kind / f"{kid}{suffix}"
    if not path.is_file():
        raise KeystoreError(
            f"{kind} key {kid} is listed in {directory / MANIFEST} but {path} is missing"
        )
    return path


def _usable(manifest: Mapping[str, Any], kind: str) -> list[str]:
    """The active kid first, then every other non-retired kid."""
    active = _active(manifest, kind)
    entries = _entries(manifest, kind)
    others = sorted(kid for kid, entry in entries.items() if not entry.get("retired"))
    return [active, *[kid for kid in others if kid != active]] if active else []


def load_payload_keys(directory: Path, environ: Mapping[str, str] | None = None) -> PayloadKeys:
    """The payload keys: ``ONECHAIN_PAYLOAD_KEYS`` if set, else the folder's."""
    env = os.environ if environ is None else environ
    if env.get(ENV_PAYLOAD_KEYS):
        pairs = _parse_env_list(ENV_PAYLOAD_KEYS, env[ENV_PAYLOAD_KEYS], "payload")
        keys = {
            kid: _decode_symmetric(material, f"{ENV_PAYLOAD_KEYS} key {kid}")
            for kid, material in pairs
        }
        return PayloadKeys(active_kid=pairs[0][0], keys=keys)
    kids = _usable(_read_manifest(directory), "payload")
    if not kids:
        raise _missing("payload", directory, ENV_PAYLOAD_KEYS)
    keys = {}
    for kid in kids:
        path = _folder_key_file(directory, "payload", kid, ".key")
        keys[kid] = _decode_symmetric(path.read_text(encoding="ascii"), str(path))
    return PayloadKeys(active_kid=kids[0], keys=keys)


def load_lookup_key(directory: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The HMAC key for keyed hashes of ids: ``ONECHAIN_LOOKUP_KEY`` if set, else the folder's."""
    env = os.environ if environ is None else environ
    value = env.get(ENV_LOOKUP_KEY)
    if value:
        material = value.partition(":")[2] if ":" in value else value
        return _decode_symmetric(material, ENV_LOOKUP_KEY)
    kid = _active(_read_manifest(directory), "lookup")
    if kid is None:
        raise _missing("lookup", directory, ENV_LOOKUP_KEY)
    path = _folder_key_file(directory, "lookup", kid, ".key")
    return _decode_symmetric(path.read_text(encoding="ascii"), str(path))


def load_audit_keys(directory: Path, environ: Mapping[str, str] | None = None) -> AuditKeys:
    """The audit trail's keys: ``ONECHAIN_AUDIT_KEY`` if set, else the folder's (every
    audit key there, retired or not: old rows name theirs)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_AUDIT_KEY):
        pairs = _parse_env_list(ENV_AUDIT_KEY, env[ENV_AUDIT_KEY], "audit")
        keys = {
            kid: _decode_symmetric(material, f"{ENV_AUDIT_KEY} key {kid}")
            for kid, material in pairs
        }
        return AuditKeys(active_kid=pairs[0][0], keys=keys)
    manifest = _read_manifest(directory)
    active = _active(manifest, "audit")
    if active is None:
        raise _missing("audit", directory, ENV_AUDIT_KEY)
    keys = {}
    for kid in [active, *sorted(k for k in _entries(manifest, "audit") if k != active)]:
        path = _folder_key_file(directory, "audit", kid, ".key")
        keys[kid] = _decode_symmetric(path.read_text(encoding="ascii"), str(path))
    return AuditKeys(active_kid=active, keys=keys)


def _public_from_raw(material: str, where: str) -> Ed25519PublicKey:
    raw = _decode_symmetric(material, where)  # Ed25519 public keys are 32 bytes too
    return Ed25519PublicKey.from_public_bytes(raw)


def _private_from_pem(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise KeystoreError(f"cannot read the signing key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeystoreError(f"{path} is not an Ed25519 private key")
    return key


def _public_from_pem(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as error:
        raise KeystoreError(f"cannot read the public key {path}: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeystoreError(f"{path} is not an Ed25519 public key")
    return key


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_signing_keys(directory: Path, environ: Mapping[str, str] | None = None) -> SigningKeys:
    """The signing keys: ``ONECHAIN_SIGNING_PUBLIC_KEYS`` (+ ``..._PRIVATE_KEY_FILE``) if
    set, else the folder's. ``private_key`` is None where only public keys are present."""
    env = os.environ if environ is None else environ
    if env.get(ENV_SIGNING_PUBLIC_KEYS):
        pairs = _parse_env_list(ENV_SIGNING_PUBLIC_KEYS, env[ENV_SIGNING_PUBLIC_KEYS], "signing")
        publics = {
            kid: _public_from_raw(material, f"{ENV_SIGNING_PUBLIC_KEYS} key {kid}")
            for kid, material in pairs
        }
        active = pairs[0][0]
        private: Ed25519PrivateKey | None = None
        if env.get(ENV_SIGNING_PRIVATE_KEY_FILE):
            private = _private_from_pem(Path(env[ENV_SIGNING_PRIVATE_KEY_FILE]))
            if _raw(private.public_key()) != _raw(publics[active]):
                raise KeystoreError(
                    f"{ENV_SIGNING_PRIVATE_KEY_FILE} does not belong to the active key {active} "
                    f"(the first in {ENV_SIGNING_PUBLIC_KEYS})"
                )
        return SigningKeys(active_kid=active, private_key=private, public_keys=publics)
    kids = _usable(_read_manifest(directory), "signing")
    if not kids:
        raise _missing("signing", directory, ENV_SIGNING_PUBLIC_KEYS)
    publics = {
        kid: _public_from_pem(_folder_key_file(directory, "signing", kid, ".pub")) for kid in kids
    }
    private_path = directory / "signing" / f"{kids[0]}.pem"
    private = _private_from_pem(private_path) if private_path.is_file() else None
    return SigningKeys(active_kid=kids[0], private_key=private, public_keys=publics)


def public_key_text(public: Ed25519PublicKey) -> str:
    """A public key as ``ONECHAIN_SIGNING_PUBLIC_KEYS`` wants it (base64 of 32 raw bytes)."""
    return base64.b64encode(_raw(public)).decode("ascii")
