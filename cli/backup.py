"""``onechain backup create|verify|restore``: what ``reconcile`` cannot rebuild.

People and their sessions, departments, loaded holiday schedules, the audit trail and
the keystore go into one owner-only archive sealed with a passphrase (see
``readmodel.backup``; the private signing key only with ``--include-signing-key``);
everything else is rebuilt from Temporal by ``onechain reconcile``. The passphrase
comes from ``--passphrase-stdin`` (first line), ``ONECHAIN_BACKUP_PASSPHRASE`` or, at
a terminal, a prompt. Like ``onechain db``, these
are operator commands: they need the database URL and the data folder's keys, not a
signed-in session (a new installation has no people to sign in as).

Exit codes: 0 ok, 1 restore refused (the target holds different data), 2 bad usage or
an unreadable or damaged archive, 3 the database unreachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import (
    EXIT_CODES_HELP,
    EXIT_REJECTED,
    EXIT_USAGE,
    emit_json,
    fail,
    guarded,
    message,
    note,
)
from runtime.settings import get_settings

app = typer.Typer(
    help="Back up and restore people, sessions, departments, calendars, the audit trail and keys.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)

ArchivePath = Annotated[Path, typer.Argument(help="The archive file.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
PassphraseStdin = Annotated[
    bool,
    typer.Option(
        "--passphrase-stdin",
        help="Read the passphrase from the first line of stdin "
        "(default: $ONECHAIN_BACKUP_PASSPHRASE, else a prompt at a terminal).",
    ),
]
PASSPHRASE_ENV = "ONECHAIN_BACKUP_PASSPHRASE"


def _passphrase(from_stdin: bool, *, confirm: bool) -> str:
    """The passphrase from stdin, the environment or a prompt; exit 2 when none."""
    import os
    import sys

    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("--passphrase-stdin: stdin gave no passphrase", EXIT_USAGE)
        return line
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if sys.stdin.isatty():
        return str(
            typer.prompt(
                "备份口令 (backup passphrase)", hide_input=True, confirmation_prompt=confirm
            )
        )
    fail(f"the backup passphrase is needed: --passphrase-stdin or {PASSPHRASE_ENV}", EXIT_USAGE)


def _read(path: Path, from_stdin: bool) -> Any:
    """The archive at ``path``, opened with the passphrase when it is sealed."""
    from readmodel.backup import BackupError, is_sealed_file, read_archive

    try:
        sealed = is_sealed_file(path)
        passphrase = _passphrase(from_stdin, confirm=False) if sealed else None
        archive = read_archive(path, passphrase)
    except BackupError as error:
        fail(str(error), EXIT_USAGE)
    if not archive.sealed:
        note(
            f"{path} is an unencrypted archive from an older onechain: read as it is; "
            "make a new (encrypted) backup and destroy this one"
        )
    return archive


def _keys() -> Path:
    from runtime.keys import keys_dir

    return keys_dir(get_settings())


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


@app.command("create")
@guarded
def create(
    path: ArchivePath,
    passphrase_stdin: PassphraseStdin = False,
    include_signing_key: Annotated[
        bool,
        typer.Option(
            "--include-signing-key",
            help="Also put the private signing key in (it mints anyone's session: only for "
            "the machine that signs people in).",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Write the archive, encrypted with a passphrase (scrypt, AES-256-GCM), mode 0600.

    It holds password hashes, the audit trail and the payload and lookup keys; the
    private signing key only with --include-signing-key.
    """
    from readmodel.backup import BackupError, create_backup
    from readmodel.database import ready_engine

    engine = ready_engine(get_settings().resolved_database_url)
    passphrase = _passphrase(passphrase_stdin, confirm=True)
    try:
        manifest = create_backup(
            engine, _keys(), path, passphrase=passphrase, include_signing_key=include_signing_key
        )
    except BackupError as error:
        fail(str(error), EXIT_USAGE)
    if manifest["signing_private_key"] == "included":
        note(
            "警告 (warning): the archive holds the private signing key, which mints anyone's "
            "session: keep it, and its passphrase, like the key files themselves"
        )
    if as_json:
        emit_json({"path": str(path), **manifest})
        return
    message(f"backup written to {path} (schema {manifest['schema_revision']})")
    message(f"rows: {_counts(manifest['counts'])}")
    if manifest["keys"] != "included":
        note(
            f"no keystore folder at {_keys()}: keys given in ONECHAIN_* variables are not in "
            "the archive; keep them safe separately"
        )


@app.command("verify")
@guarded
def verify(
    path: ArchivePath, passphrase_stdin: PassphraseStdin = False, as_json: AsJson = False
) -> None:
    """Open the archive with its passphrase and check it: every part's sha256, the row
    counts and the audit hash chain."""
    archive = _read(path, passphrase_stdin)
    manifest = archive.manifest
    summary = {
        "path": str(path),
        "ok": True,
        "schema_revision": manifest["schema_revision"],
        "created_at": manifest["created_at"],
        "created_by": manifest["created_by"],
        "counts": manifest["counts"],
        "key_files": len(archive.key_files()),
        "encrypted": archive.sealed,
        "signing_private_key": manifest.get("signing_private_key", "included"),
    }
    if as_json:
        emit_json(summary)
        return
    message(
        f"{path}: intact — made {manifest['created_at']} by {manifest['created_by']}, "
        f"schema {manifest['schema_revision']}"
    )
    message(f"rows: {_counts(manifest['counts'])}; key files: {summary['key_files']}")


@app.command("restore")
@guarded
def restore(
    path: ArchivePath,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace people, sessions, audit rows and key files that differ "
            "instead of refusing.",
        ),
    ] = False,
    passphrase_stdin: PassphraseStdin = False,
    as_json: AsJson = False,
) -> None:
    """Restore into an empty database (made at this version's schema) or one that matches.

    Asks for an encrypted archive's passphrase (an unencrypted one from an older onechain restores as it is). Refuses, changing nothing, when the schema revision differs or the target already holds other people, sessions, audit rows or keys (unless --force). Then run `onechain reconcile` to rebuild cases, e-licences and notifications from Temporal, and `onechain audit verify`.
    """
    from readmodel.backup import RestoreRefused, restore_backup
    from readmodel.database import create_read_model, engine_for

    archive = _read(path, passphrase_stdin)
    # Restoring is one of the deliberate ways to make a read model (a lost one's).
    url = get_settings().resolved_database_url
    create_read_model(url)
    engine = engine_for(url)
    try:
        report = restore_backup(engine, _keys(), archive, force=force)
    except RestoreRefused as error:
        fail(str(error), EXIT_REJECTED)
    summary = {
        "path": str(path),
        "schema_revision": report.revision,
        "inserted": report.inserted,
        "replaced": report.replaced,
        "unchanged": report.unchanged,
        "keys_written": report.keys_written,
        "keys_unchanged": report.keys_unchanged,
    }
    if as_json:
        emit_json(summary)
        return
    message(f"restored {path}: inserted {_counts(report.inserted)}")
    if any(report.replaced.values()):
        message(f"replaced: {_counts(report.replaced)}")
    message(f"key files: {len(report.keys_written)} written, {report.keys_unchanged} already there")
    note("next: `onechain reconcile` (cases from Temporal) and `onechain audit verify`")
