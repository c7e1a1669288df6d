"""``onechain db ...``: the read model's schema (alembic migrations).

``upgrade`` brings the configured database (``ONECHAIN_DATABASE_URL``, default the
SQLite file in the data folder) to this version's schema; ``current`` says where it
stands; ``history`` lists the revisions; ``revision`` writes a new one (developers).
``require_read_model`` is the check ``up``, ``server``, ``worker``, ``web`` and ``tui`` run
before they start.

Exit codes: 0 ok, 2 bad URL, missing driver or a schema this version must not touch,
3 database unreachable, missing or empty.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from cli.output import (
    EXIT_CODES_HELP,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    emit_json,
    fail,
    guarded,
    message,
    table,
)
from runtime.settings import get_settings

app = typer.Typer(
    help="The read model's database schema: upgrade, current, history (alembic).",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)

STATE_WORDS = {
    "empty": "missing or empty: run `onechain db upgrade` (new installation) or restore a backup",
    "pre_migrations": "made before migrations (recognised and stamped on first use)",
    "current": "up to date",
    "behind": "behind this version: run `onechain db upgrade`",
    "ahead": "upgraded by a newer onechain: run that version or restore a backup",
    "unrecognised": "not a schema this version knows",
}


def require_read_model(
    *, upgrade_behind: bool = False, create: bool = False, say: Callable[[str], None]
) -> None:
    """Check (and upgrade, or create when ``create``, as allowed) the read model before
    a long-running command starts; on a problem print one line and exit 2 (or 3 if it
    is unreachable, missing or empty)."""
    from readmodel.database import create_read_model, prepare_engine
    from readmodel.errors import ReadModelError

    url = get_settings().resolved_database_url
    try:
        change = (
            create_read_model(url)
            if create
            else prepare_engine(url, upgrade_behind=upgrade_behind)[1]
        )
    except ReadModelError as error:
        fail(str(error), EXIT_UNREACHABLE if error.unreachable else EXIT_USAGE)
    if change is not None and change.changed:
        say(f"read model: {change.describe()}")


@app.command()
@guarded
def upgrade(
    sql: Annotated[
        bool,
        typer.Option(
            "--sql",
            help="Print the SQL for the configured database's dialect instead of running it "
            "(nothing is connected to).",
        ),
    ] = False,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="With --sql: the revision the database is at (default: empty)."
        ),
    ] = None,
) -> None:
    """Create the read model, or upgrade it to this version's schema (back it up first).

    The one command that creates it (no other command does, so a lost database is
    noticed): a missing SQLite file is made (0600), an empty database gets the schema; one made before migrations is recognised and
    stamped 0001_baseline first. All revisions run in one transaction.
    """
    from readmodel.database import create_read_model
    from readmodel.schema import revisions, upgrade_sql

    url = get_settings().resolved_database_url
    if sql:
        known = {s.revision for s in revisions()}
        if from_ is not None and from_ not in known:
            fail(f"--from {from_!r}: not a revision of this version ({', '.join(sorted(known))})")
        upgrade_sql(url, from_, sys.stdout)
        return
    if from_ is not None:
        fail("--from only goes with --sql")
    change = create_read_model(url)
    if not change.changed:
        message(f"read model already at head ({change.revision}); nothing to do")
    else:
        message(f"read model: {change.describe()}")


@app.command()
@guarded
def current(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show the read model's schema revision and whether it matches this version.

    Changes nothing (a SQLite file that does not exist yet is not created).
    """
    from sqlalchemy.engine import make_url

    from readmodel.database import check_sqlite_folder, describe, engine_for, normalise_url
    from readmodel.schema import SchemaState, SchemaStatus, head_revision, status_of

    url = get_settings().resolved_database_url
    parsed = normalise_url(url)
    missing_file = (
        parsed.get_backend_name() == "sqlite"
        and bool(parsed.database)
        and parsed.database != ":memory:"
        and not Path(parsed.database).expanduser().exists()
    )
    if missing_file:
        check_sqlite_folder(Path(str(parsed.database)).expanduser())
        status = SchemaStatus(SchemaState.EMPTY, None, head_revision())
    else:
        status = status_of(engine_for(url))
    data = {
        "database": make_url(url).render_as_string(hide_password=True),
        "where": describe(url),
        "revision": status.revision,
        "head": status.head,
        "state": status.state.value,
        "up_to_date": status.up_to_date,
    }
    if as_json:
        emit_json(data)
        return
    state = STATE_WORDS[status.state.value] + (f": {status.detail}" if status.detail else "")
    message(f"database  {data['where']}")
    message(f"revision  {status.revision or '(none)'}")
    message(f"head      {status.head}")
    message(f"state     {state}")


@app.command()
@guarded
def history(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """List this version's schema revisions, oldest first (no database needed)."""
    from readmodel.schema import head_revision, revisions

    head = head_revision()
    rows = [
        {
            "revision": script.revision,
            "down_revision": script.down_revision,
            "description": (script.doc or "").strip().splitlines()[0] if script.doc else "",
            "head": script.revision == head,
        }
        for script in revisions()
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        "Read-model schema revisions",
        ["revision", "after", "description"],
        [
            [
                f"{r['revision']}{' (head)' if r['head'] else ''}",
                r["down_revision"] or "",
                r["description"],
            ]
            for r in rows
        ],
    )


@app.command()
@guarded
def revision(
    text: Annotated[str, typer.Argument(help="What the change does, e.g. 'add users table'.")],
    autogenerate: Annotated[
        bool,
        typer.Option(
            "--autogenerate",
            help="Fill in the operations by comparing readmodel/tables.py with the current "
            "head (read the result: renames and some types need a human).",
        ),
    ] = False,
) -> None:
    """For developers: write the next migration file (NNNN_slug.py) in
    readmodel/migrations/versions. Every table change needs one."""
    from readmodel.schema import MIGRATIONS_DIR, new_revision

    versions = MIGRATIONS_DIR / "versions"
    if not versions.is_dir() or not _writable(versions):
        fail(f"cannot write migrations into {versions}: use a source checkout")
    path = new_revision(text, autogenerate=autogenerate)
    message(f"wrote {path}")


def _writable(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK)
