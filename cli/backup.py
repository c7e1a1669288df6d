"""``onechain backup create|verify|restore``: what ``reconcile`` cannot rebuild.

People and their sessions, departments, loaded holiday schedules, the audit trail and
the keystore go into one owner-only archive (see ``readmodel.backup``); everything
else is rebuilt from Temporal by ``onechain reconcile``. Like ``onechain db``, these
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

ArchivePath = Annotated[Path, typer.Argument(help="The archive file (a .tar.gz).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _keys() -> Path:
    from runtime.keys import keys_dir

    return keys_dir(get_settings())


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


@app.command("create")
@guarded
def create(path: ArchivePath, as_json: AsJson = False) -> None:
    """Write the archive (mode 0600; it holds password hashes and keys: keep it safe)."""
    from readmodel.backup import BackupError, create_backup
    from readmodel.database import ready_engine

    engine = ready_engine(get_settings().resolved_database_url)
    try:
        manifest = create_backup(engine, _keys(), path)
    except BackupError as error:
        fail(str(error), EXIT_USAGE)
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
def verify(path: ArchivePath, as_json: AsJson = False) -> None:
    """Check the archive: every part's sha256, the row counts and the audit hash chain."""
    from readmodel.backup import BackupError, read_archive

    try:
        archive = read_archive(path)
    except BackupError as error:
        fail(str(error), EXIT_USAGE)
    manifest = archive.manifest
    summary = {
        "path": str(path),
        "ok": True,
        "schema_revision": manifest["schema_revision"],
        "created_at": manifest["created_at"],
        "created_by": manifest["created_by"],
        "counts": manifest["counts"],
        "key_files": len(archive.key_files()),
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
    as_json: AsJson = False,
) -> None:
    """Restore into an empty database (made at this version's schema) or one that matches.

    Refuses, changing nothing, when the schema revision differs or the target already holds other people, sessions, audit rows or keys (unless --force). Then run `onechain reconcile` to rebuild cases, e-licences and notifications from Temporal, and `onechain audit verify`.
    """
    from readmodel.backup import BackupError, RestoreRefused, read_archive, restore_backup
    from readmodel.database import create_read_model, engine_for

    try:
        archive = read_archive(path)
    except BackupError as error:
        fail(str(error), EXIT_USAGE)
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
