"""The read model reachable and its schema at this code's head revision.

Looks only (``readmodel.schema.status_of``): doctor never creates or upgrades a schema.
"""

from __future__ import annotations

from sqlalchemy import Engine

from doctor.findings import Finding, fail, ok
from readmodel.database import CREATE_OR_RESTORE, describe
from readmodel.errors import ReadModelError
from readmodel.schema import UPGRADE_COMMAND, SchemaState, refusal, status_of


def schema(engine: Engine) -> tuple[Finding, bool]:
    """The finding, and whether the database can be read with this code's tables."""
    where = describe(engine.url)
    try:
        status = status_of(engine)
    except ReadModelError as error:
        return fail("database", str(error)), False
    if status.state is SchemaState.CURRENT:
        return ok("database", f"{where}, schema at head ({status.head})"), True
    if status.state is SchemaState.EMPTY:
        return fail(
            "database", f"{where} is empty (no tables, no schema revision): {CREATE_OR_RESTORE}"
        ), False
    if status.state is SchemaState.PRE_MIGRATIONS:
        return fail(
            "database", f"{where} was made before migrations: run `{UPGRADE_COMMAND}`"
        ), False
    error = refusal(status, engine)
    return fail("database", str(error) if error else status.state.value), False
