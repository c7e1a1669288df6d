"""Running cases whose due dates use an older calendar revision than the one loaded.

`calendar load` stores a schedule (a new revision) and tells every running case; an
interrupted or failed load leaves some cases behind, and this says how many and how to
finish. Cases admitted before revisions were recorded count as older until told.
"""

from __future__ import annotations

from sqlalchemy import Engine

from doctor.findings import Finding, ok, warn
from readmodel.calendar_revisions import running_behind
from readmodel.calendar_store import calendar_revision

CHECK = "calendar revision"


def calendar_revision_check(engine: Engine) -> Finding:
    revision = calendar_revision(engine)
    behind = running_behind(engine, revision)
    if behind:
        return warn(
            CHECK,
            f"{behind} running case(s) on an older calendar revision than {revision}: their "
            "due dates may not use the loaded schedules. Run `onechain calendar notify`: it "
            "tells only the cases not on it yet",
        )
    return ok(CHECK, f"every running case uses calendar revision {revision}")
