"""``onechain keys``: the keystore (payload, lookup, signing and audit keys) of ``runtime.keys``.

Prints key ids, kinds and dates only: never key material. The folder is
``ONECHAIN_KEYS_DIR`` or ``<data_dir>/keys``; keys given in environment variables
(``ONECHAIN_PAYLOAD_KEYS`` ...) are listed with the variable's name as their source.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import typer

from cli.output import EXIT_USAGE, emit_json, fail, message, table
from runtime.keys import KeystoreError, init_keys, keys_dir, list_keys, retire, rotate
from runtime.settings import get_settings

app = typer.Typer(
    help="Secret keys: sealing payloads, hashing ids, signing sessions, sealing the audit "
    "trail (never printed).",
    no_args_is_help=True,
)

KindArg = Annotated[
    Literal["payload", "signing"],
    typer.Argument(
        metavar="KIND", help="payload (seals Temporal payloads) or signing (session tokens)."
    ),
]


RotateKindArg = Annotated[
    Literal["payload", "signing", "audit"],
    typer.Argument(
        metavar="KIND",
        help="payload (seals Temporal payloads), signing (session tokens) or audit "
        "(seals the audit trail; old audit keys still verify their rows).",
    ),
]


@app.command("init")
def init_command() -> None:
    """Create the keys that are missing (payload, lookup, signing, audit); safe to run again."""
    directory = keys_dir(get_settings())
    try:
        created = init_keys(directory)
    except (KeystoreError, OSError) as error:
        fail(str(error), EXIT_USAGE)
    if created:
        message(f"created {', '.join(created)} in {directory}")
    else:
        message(f"all keys present in {directory}; nothing created")


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Key ids per kind: which is active, which are retired, where each comes from."""
    directory = keys_dir(get_settings())
    try:
        infos = list_keys(directory)
    except KeystoreError as error:
        fail(str(error), EXIT_USAGE)
    if as_json:
        emit_json({"directory": str(directory), "keys": [dataclasses.asdict(i) for i in infos]})
        return
    if not infos:
        message(f"no keys in {directory}: run `onechain keys init`")
        return
    table(
        f"keys ({directory})",
        ["kind", "key id", "state", "created", "source", "private key here"],
        [
            (
                i.kind,
                i.kid,
                "active" if i.active else "retired" if i.retired else "verifies/decrypts",
                i.created,
                i.source,
                "" if i.private is None else ("yes" if i.private else "no"),
            )
            for i in infos
        ],
    )


@app.command("rotate")
def rotate_command(kind: RotateKindArg) -> None:
    """Make a new key of KIND active; older keys still decrypt / verify until retired.

    Running workers and clients load keys at start: restart them to use the new key.
    """
    directory = keys_dir(get_settings())
    try:
        kid = rotate(directory, kind)
    except KeystoreError as error:
        fail(str(error), EXIT_USAGE)
    message(f"{kind} key {kid} is now active (restart workers and clients to use it)")


@app.command("retire")
def retire_command(
    kind: KindArg,
    kid: Annotated[str, typer.Argument(help="The key id to retire (see `keys list`).")],
) -> None:
    """Stop using an old key. A retired payload key no longer decrypts the histories it
    sealed; a retired signing key no longer verifies its tokens. The active key cannot
    be retired: rotate first."""
    directory = keys_dir(get_settings())
    try:
        retire(directory, kind, kid)
    except KeystoreError as error:
        fail(str(error), EXIT_USAGE)
    message(f"{kind} key {kid} retired")
