"""Why the configured read model cannot be used, in words a user can act on.

Raised by ``readmodel.database`` (bad URL, missing driver, unreachable server) and
``readmodel.schema`` (schema behind, ahead or unknown). The CLI prints the message
as one line; ``unreachable`` picks its exit code (3 instead of 2). Messages never
contain the database password.
"""

from __future__ import annotations

from typing import ClassVar


class ReadModelError(Exception):
    """The read model's database cannot be used as configured; the message says why."""

    unreachable: ClassVar[bool] = False


class DatabaseUnreachable(ReadModelError):
    """The database server (or SQLite file) could not be opened right now."""

    unreachable = True


class ReadModelMissing(DatabaseUnreachable):
    """No read model where one was expected (no file, or no tables and no revision).

    Never created on the spot: only ``onechain db upgrade`` (and ``onechain up`` on a
    new data folder) create one, so a lost database is noticed instead of replaced by
    an empty one in which nobody is known and anybody may bootstrap.
    """


class SchemaMismatch(ReadModelError):
    """The database's schema is not the one this code needs (behind, ahead or unknown)."""


class SchemaBehind(SchemaMismatch):
    """Older than the code: ``onechain db upgrade`` fixes it."""


class SchemaAhead(SchemaMismatch):
    """Upgraded by a newer onechain: this code must not touch it."""


class UnknownSchema(SchemaMismatch):
    """Read-model tables without a migration record that match no released schema."""
