"""The e-licence store and credit records keep a keyed hash of the holder's id, not the id.

``licences.holder_id`` and ``credit_records.holder_id`` become ``holder_hash``:
``HMAC-SHA256(lookup key, normalised id)`` in hex (``readmodel.holders``), so a copy of
the database no longer hands out applicants' resident ids and credit codes. Existing
rows are converted with the keystore's lookup key (``onechain keys init`` makes it;
``ONECHAIN_LOOKUP_KEY`` or the keys folder). The hash is spelled out here instead of
imported, so this revision keeps doing what it did if the app's code changes later.

``--sql`` (offline) mode cannot convert rows: the key is never printed. It emits the
schema change and a warning comment; with rows in these tables run ``onechain db
upgrade`` on a connected machine instead. The downgrade restores the columns but not
the ids (a keyed hash cannot be reversed): those rows get an empty ``holder_id``.

Revision ID: 0003_licence_holder_hash
Revises: 0002_people_sessions_audit
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003_licence_holder_hash"
down_revision: str | None = "0002_people_sessions_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("licences", "credit_records")


def _holder_hash(key: bytes, holder_id: str) -> str:
    normalised = "".join(holder_id.split()).upper()
    return hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def _lookup_key() -> bytes:
    from runtime.keys import keys_dir, load_lookup_key
    from runtime.settings import get_settings

    return load_lookup_key(keys_dir(get_settings()))


def _hash_existing_rows() -> None:
    bind = op.get_bind()
    counts = {
        table: bind.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        for table in TABLES
    }
    if not any(counts.values()):
        return  # nothing to convert: no key needed
    key = _lookup_key()
    for table in TABLES:
        rows = bind.execute(sa.text(f"SELECT id, holder_id FROM {table}")).all()
        for row_id, holder_id in rows:
            bind.execute(
                sa.text(f"UPDATE {table} SET holder_hash = :hash WHERE id = :id"),
                {"hash": _holder_hash(key, holder_id or ""), "id": row_id},
            )


#: Where the column sits, so the table matches ``create_all`` column for column.
AFTER = {"licences": "holder_name", "credit_records": "id"}
#: The index on the holder column, by table: (name, columns after the column's name).
INDEX = {
    "licences": ("ix_licences_holder_type", ["type"]),
    "credit_records": ("ix_credit_records_holder_{}", []),
}


def _index_name(table: str, column: str) -> str:
    return INDEX[table][0].format(column.removeprefix("holder_"))


def _offline_table(
    table: str, holder_columns: list[str], *, nullable: bool = False, indexed: bool = True
) -> sa.Table | None:
    """The table as it stands before a batch step, for ``--sql`` mode, where batch mode
    cannot reflect it (online, alembic reflects the real table instead).

    Spelled as 0001_baseline made it; unique constraints are unnamed on SQLite and
    carry PostgreSQL's own names there, as ``create_all`` left them."""
    if not context.is_offline_mode():
        return None
    postgres = op.get_context().dialect.name == "postgresql"
    holders = [sa.Column(c, sa.String(length=64), nullable=nullable) for c in holder_columns]
    index = _index_name(table, holder_columns[0])
    meta = sa.MetaData()
    holder_index = [sa.Index(index, holder_columns[0], *INDEX[table][1])] if indexed else []
    if table == "licences":
        return sa.Table(
            "licences",
            meta,
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("number", sa.String(length=64), nullable=False),
            sa.Column("case_no", sa.String(length=64), nullable=False),
            sa.Column("type", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("department", sa.String(length=64), nullable=False),
            sa.Column("holder_name", sa.String(length=200), nullable=False),
            *holders,
            sa.Column("issued_on", sa.Date(), nullable=False),
            sa.Column("valid_to", sa.Date(), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("revoked_reason", sa.String(), nullable=False),
            sa.Column("revoked_on", sa.Date(), nullable=True),
            sa.UniqueConstraint("number", name="licences_number_key" if postgres else None),
            *holder_index,
            sa.Index("ix_licences_case_no", "case_no"),
        )
    return sa.Table(
        "credit_records",
        meta,
        sa.Column("id", sa.Integer(), primary_key=True),
        *holders,
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.UniqueConstraint(
            "case_no", "kind", name="credit_records_case_no_kind_key" if postgres else None
        ),
        *holder_index,
    )


def _swap(table: str, old: str, new: str) -> None:
    """Replace column ``old`` by NOT NULL ``new`` in ``old``'s place, with its index.

    Batch mode with ``recreate="always"`` copies the table on both dialects, which is
    the only way to put a column in a given position (PostgreSQL appends)."""
    with op.batch_alter_table(
        table, recreate="always", copy_from=_offline_table(table, [old])
    ) as batch:
        batch.drop_index(_index_name(table, old))
        batch.alter_column(old, existing_type=sa.String(length=64), nullable=True)
        batch.add_column(
            sa.Column(new, sa.String(length=64), nullable=True), insert_after=AFTER[table]
        )


def _restore_id_sequence(table: str) -> None:
    """PostgreSQL: the copied table got a new ``id`` sequence starting at 1; carry it on
    after the copied rows and give it the table's usual name again."""
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(
        f"""DO $$
DECLARE seq text := pg_get_serial_sequence('{table}', 'id');
BEGIN
  PERFORM setval(seq, COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false);
  IF split_part(seq, '.', 2) <> '{table}_id_seq' THEN
    EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', seq, '{table}_id_seq');
  END IF;
END $$"""
    )


def _finish(table: str, old: str, new: str) -> None:
    shape = _offline_table(table, [old, new], nullable=True, indexed=False)
    with op.batch_alter_table(table, recreate="always", copy_from=shape) as batch:
        batch.drop_column(old)
        batch.alter_column(new, existing_type=sa.String(length=64), nullable=False)
        batch.create_index(_index_name(table, new), [new, *INDEX[table][1]])
    _restore_id_sequence(table)


def upgrade() -> None:
    for table in TABLES:
        _swap(table, "holder_id", "holder_hash")
    if context.is_offline_mode():
        op.execute(
            "-- onechain 0003: holder ids are NOT converted in --sql mode (the lookup key is "
            "never printed). If licences or credit_records have rows, run `onechain db "
            "upgrade` instead, or those holders can no longer be found."
        )
        for table in TABLES:
            op.execute(f"UPDATE {table} SET holder_hash = ''")
    else:
        _hash_existing_rows()
    for table in TABLES:
        _finish(table, "holder_id", "holder_hash")


def downgrade() -> None:
    for table in TABLES:
        _swap(table, "holder_hash", "holder_id")
        # a keyed hash cannot be turned back into the id
        op.execute(f"UPDATE {table} SET holder_id = ''")
        _finish(table, "holder_hash", "holder_id")
