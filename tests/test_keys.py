"""The keystore (``runtime.keys``) and ``onechain keys``: owner-only files, key ids that
rotate, keys from environment variables, and clear messages when a key is missing."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from cli.app import app
from runtime.keys import (
    ENV_AUDIT_KEY,
    ENV_LOOKUP_KEY,
    ENV_PAYLOAD_KEYS,
    ENV_SIGNING_PRIVATE_KEY_FILE,
    ENV_SIGNING_PUBLIC_KEYS,
    KeystoreError,
    init_keys,
    list_keys,
    load_audit_keys,
    load_lookup_key,
    load_payload_keys,
    load_signing_keys,
    public_key_text,
    retire,
    rotate,
)
from runtime.settings import get_settings

NO_ENV: dict[str, str] = {}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_each_kind_once_owner_only(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    created = init_keys(directory)
    assert sorted(kid[0] for kid in created) == ["a", "l", "p", "s"]
    assert init_keys(directory) == []  # idempotent
    assert mode(directory) == 0o700
    files = [p for p in directory.rglob("*") if p.is_file()]
    assert files and all(mode(p) == 0o600 for p in files)
    assert all(mode(p) == 0o700 for p in directory.rglob("*") if p.is_dir())

    payload = load_payload_keys(directory, NO_ENV)
    assert payload.active_kid in created and len(payload.keys[payload.active_kid]) == 32
    assert len(load_lookup_key(directory, NO_ENV)) == 32
    audit = load_audit_keys(directory, NO_ENV)
    assert audit.active_kid in created and audit.active_kid.startswith("a-")
    signing = load_signing_keys(directory, NO_ENV)
    assert signing.private_key is not None
    message = b"token"
    signing.public_keys[signing.active_kid].verify(signing.private_key.sign(message), message)


def test_missing_keys_name_the_command_that_makes_them(tmp_path: Path) -> None:
    for load in (load_payload_keys, load_lookup_key, load_signing_keys, load_audit_keys):
        with pytest.raises(KeystoreError, match="onechain keys init"):
            load(tmp_path / "keys", NO_ENV)


def test_rotate_keeps_old_keys_until_retired_and_never_retires_the_active_one(
    tmp_path: Path,
) -> None:
    init_keys(tmp_path)
    first = load_payload_keys(tmp_path, NO_ENV).active_kid
    second = rotate(tmp_path, "payload")
    keys = load_payload_keys(tmp_path, NO_ENV)
    assert keys.active_kid == second and set(keys.keys) == {first, second}

    with pytest.raises(KeystoreError, match="active payload key: rotate first"):
        retire(tmp_path, "payload", second)
    with pytest.raises(KeystoreError, match="no payload key 'p-nope'"):
        retire(tmp_path, "payload", "p-nope")
    retire(tmp_path, "payload", first)
    assert set(load_payload_keys(tmp_path, NO_ENV).keys) == {second}
    assert [
        (k.kid, k.retired) for k in list_keys(tmp_path, NO_ENV) if k.kind == "payload"
    ] == sorted([(first, True), (second, False)])

    old_signer = load_signing_keys(tmp_path, NO_ENV).active_kid
    new_signer = rotate(tmp_path, "signing")
    signing = load_signing_keys(tmp_path, NO_ENV)
    assert signing.active_kid == new_signer and set(signing.public_keys) == {old_signer, new_signer}
    with pytest.raises(KeystoreError, match="only payload, signing and audit keys rotate"):
        rotate(tmp_path, "lookup")  # type: ignore[arg-type]

    # An audit key rotates, but every audit key still verifies the rows it sealed.
    old_audit = load_audit_keys(tmp_path, NO_ENV).active_kid
    new_audit = rotate(tmp_path, "audit")
    audit = load_audit_keys(tmp_path, NO_ENV)
    assert audit.active_kid == new_audit and set(audit.keys) == {old_audit, new_audit}
    with pytest.raises(KeystoreError, match="never retired"):
        retire(tmp_path, "audit", old_audit)  # type: ignore[arg-type]


def test_a_machine_with_public_keys_only_verifies(tmp_path: Path) -> None:
    init_keys(tmp_path)
    kid = load_signing_keys(tmp_path, NO_ENV).active_kid
    (tmp_path / "signing" / f"{kid}.pem").unlink()
    signing = load_signing_keys(tmp_path, NO_ENV)
    assert signing.private_key is None and set(signing.public_keys) == {kid}


def test_keys_from_environment_variables(tmp_path: Path) -> None:
    one, two = b"1" * 32, b"2" * 32
    env = {
        ENV_PAYLOAD_KEYS: f"p-a:{base64.b64encode(one).decode()}, p-b:{base64.b64encode(two).decode()}",
        ENV_LOOKUP_KEY: f"l-a:{base64.b64encode(two).decode()}",
        ENV_AUDIT_KEY: f"a-b:{base64.b64encode(two).decode()},a-a:{base64.b64encode(one).decode()}",
    }
    payload = load_payload_keys(tmp_path, env)
    assert payload.active_kid == "p-a" and payload.keys == {"p-a": one, "p-b": two}
    assert load_lookup_key(tmp_path, env) == two
    audit = load_audit_keys(tmp_path, env)
    assert audit.active_kid == "a-b" and audit.keys == {"a-b": two, "a-a": one}

    private = Ed25519PrivateKey.generate()
    pem = tmp_path / "signer.pem"
    pem.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    other = Ed25519PrivateKey.generate().public_key()
    signing_env = {
        ENV_SIGNING_PUBLIC_KEYS: f"s-new:{public_key_text(private.public_key())},"
        f"s-old:{public_key_text(other)}",
        ENV_SIGNING_PRIVATE_KEY_FILE: str(pem),
    }
    signing = load_signing_keys(tmp_path, signing_env)
    assert signing.active_kid == "s-new" and set(signing.public_keys) == {"s-new", "s-old"}
    assert signing.private_key is not None
    verify_only = load_signing_keys(
        tmp_path, {ENV_SIGNING_PUBLIC_KEYS: signing_env[ENV_SIGNING_PUBLIC_KEYS]}
    )
    assert verify_only.private_key is None

    swapped = {**signing_env, ENV_SIGNING_PUBLIC_KEYS: f"s-old:{public_key_text(other)}"}
    with pytest.raises(KeystoreError, match="does not belong to the active key s-old"):
        load_signing_keys(tmp_path, swapped)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nokid", "item 1 is not KID:BASE64"),
        ("p-a:!!!", "p-a is not base64"),
        (f"p-a:{base64.b64encode(b'short').decode()}", "must be 32 bytes, not 5"),
        (
            f"p-a:{base64.b64encode(b'1' * 32).decode()},p-a:{base64.b64encode(b'2' * 32).decode()}",
            "twice",
        ),
    ],
)
def test_malformed_environment_keys_are_named(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(KeystoreError, match=message):
        load_payload_keys(tmp_path, {ENV_PAYLOAD_KEYS: value})


def test_keys_commands_never_print_key_material(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONECHAIN_KEYS_DIR", str(tmp_path / "k"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        init = runner.invoke(app, ["keys", "init"])
        assert init.exit_code == 0 and "created" in init.stdout
        assert "nothing created" in runner.invoke(app, ["keys", "init"]).stdout
        rotated = runner.invoke(app, ["keys", "rotate", "payload"])
        assert rotated.exit_code == 0, rotated.output
        listed = runner.invoke(app, ["keys", "list", "--json"])
        assert listed.exit_code == 0
        data = json.loads(listed.stdout)
        assert sorted({k["kind"] for k in data["keys"]}) == [
            "audit",
            "lookup",
            "payload",
            "signing",
        ]
        active = next(k["kid"] for k in data["keys"] if k["kind"] == "payload" and k["active"])
        refused = runner.invoke(app, ["keys", "retire", "payload", active])
        assert refused.exit_code == 2 and "rotate first" in refused.stderr

        directory = tmp_path / "k"
        secrets = [p.read_text().strip() for p in directory.rglob("*.key")]
        secrets += [
            line
            for p in directory.rglob("*.p*")
            for line in p.read_text().splitlines()
            if not line.startswith("-----")
        ]
        everything = init.output + rotated.output + listed.output + refused.output
        everything += runner.invoke(app, ["keys", "list"]).output
        assert secrets and not any(secret in everything for secret in secrets)
    finally:
        get_settings.cache_clear()


def test_a_worker_never_makes_keys_and_says_which_command_does(tmp_path: Path) -> None:
    env = {**os.environ, "ONECHAIN_DATA_DIR": str(tmp_path / "data")}
    env.pop("ONECHAIN_KEYS_DIR", None)
    env.pop("ONECHAIN_DATABASE_URL", None)
    made = subprocess.run(
        [sys.executable, "-c", "from cli.app import main; main()", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    result = subprocess.run(
        [sys.executable, "-c", "from cli.app import main; main()", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "onechain keys init" in result.stderr
    assert not (tmp_path / "data" / "keys").exists()
