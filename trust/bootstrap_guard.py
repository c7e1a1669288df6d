"""Whether ``users bootstrap`` may make a first administrator here.

On a new installation there is nobody, so the first administrator is made by whoever
runs ``users bootstrap``. On a lost read model there is nobody too, and whoever got
there first would become administrator of an office whose cases still run in
Temporal. So bootstrap looks for signs of a past life: case workflows in Temporal
(its visibility count, or the embedded dev server's own SQLite file when it is not
running) and rows in the audit trail. With any, it refuses unless told that this is
a restore (``--restore``, recorded in the audit trail with what was found).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select

from readmodel.audit import AuditRecord
from readmodel.database import read_session

CASE_QUERY = "WorkflowType = 'CaseWorkflow'"
CONNECT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class PastLife:
    """What an installation already holds. ``temporal_cases`` is None when Temporal
    could not be asked (``temporal_unknown`` says why)."""

    temporal_cases: int | None
    audit_rows: int
    temporal_unknown: str = ""

    @property
    def empty(self) -> bool:
        return self.temporal_cases == 0 and self.audit_rows == 0

    def refusal(self) -> str:
        """Why bootstrap refuses, in one line (only when not ``empty``)."""
        if self.temporal_cases is None:
            return (
                f"cannot tell whether Temporal already holds cases ({self.temporal_unknown}): "
                "start Temporal and try again; if this read model was lost, restore it "
                "(`onechain backup restore ARCHIVE`); to bootstrap anyway as part of a "
                "restore, pass --restore (recorded in the audit trail)"
            )
        held = []
        if self.temporal_cases:
            held.append(f"Temporal holds {self.temporal_cases} case(s)")
        if self.audit_rows:
            held.append(f"the audit trail has {self.audit_rows} row(s)")
        return (
            f"this is not a new installation ({'; '.join(held)}): the read model was lost or "
            "replaced, and whoever bootstraps it first would be administrator. Restore it "
            "(`onechain backup restore ARCHIVE`, then `onechain reconcile`); if you are "
            "restoring and need a first administrator, pass --restore (recorded in the "
            "audit trail)"
        )


def audit_rows(engine: Engine) -> int:
    with read_session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(AuditRecord)) or 0)


async def temporal_case_count() -> int:
    """Case workflows (of any task queue) in the configured Temporal namespace."""
    from runtime.connect import connect

    client = await asyncio.wait_for(connect(), CONNECT_TIMEOUT_SECONDS)
    return (await client.count_workflows(CASE_QUERY)).count


def embedded_case_count(temporal_file: Path) -> int | None:
    """Case workflows in the embedded dev server's SQLite file, read-only, while the
    server is not running (None when the file is not one this code can read)."""
    try:
        connection = sqlite3.connect(f"{temporal_file.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = connection.execute(
            "SELECT COUNT(*) FROM executions_visibility WHERE workflow_type_name = ?",
            ("CaseWorkflow",),
        ).fetchone()
        return int(row[0])
    except sqlite3.Error:
        return None
    finally:
        connection.close()


def past_life(engine: Engine) -> PastLife:
    """Ask Temporal (or the embedded dev server's file) and the audit trail."""
    from runtime.connect import DEFAULT_ADDRESS, connect_options
    from runtime.settings import get_settings

    rows = audit_rows(engine)
    try:
        return PastLife(asyncio.run(temporal_case_count()), rows)
    except Exception as error:  # unreachable, timed out, refused: fall back below
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    unknown = PastLife(None, rows, f"Temporal unreachable: {reason}")
    if connect_options().get("target_host") != DEFAULT_ADDRESS:
        return unknown  # a configured Temporal must answer
    # The embedded default, not running: its own file says what it holds.
    temporal_file = get_settings().temporal_db_file
    if not temporal_file.exists():  # the embedded dev server never ran: nothing there
        return PastLife(0, rows)
    count = embedded_case_count(temporal_file)
    return unknown if count is None else PastLife(count, rows)
