"""Runs the checks in order, skipping those whose ground an earlier failure took away."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doctor.calendar import calendar_coverage
from doctor.calendar_revision import calendar_revision_check
from doctor.findings import Finding, fail, skip
from doctor.keys import signing_keys
from doctor.people import people
from doctor.pollers import worker_polling
from doctor.schema import schema
from doctor.search_attributes import search_attributes
from doctor.temporal import namespace, reachable

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass(frozen=True)
class Deployment:
    """What to check: as the workers are configured (TEMPORAL_*, ONECHAIN_*)."""

    connect_options: dict[str, Any]
    task_queue: str
    database_url: str
    keys_dir: Path
    today: date
    #: Cases younger than this may not be projected yet (the ``cases`` check skips them).
    projection_grace: timedelta = timedelta(minutes=1)

    @classmethod
    def configured(cls, today: date, task_queue: str | None = None) -> Deployment:
        from runtime.connect import connect_options
        from runtime.keys import keys_dir
        from runtime.settings import get_settings

        settings = get_settings()
        return cls(
            connect_options=connect_options(),
            task_queue=task_queue or settings.task_queue,
            database_url=settings.resolved_database_url,
            keys_dir=keys_dir(settings),
            today=today,
        )


async def examine(deployment: Deployment) -> list[Finding]:
    from doctor.lost_cases import cases_check

    findings: list[Finding] = []
    finding, client = await reachable(deployment.connect_options)
    findings.append(finding)
    namespace_ok = False
    if client is None:
        why = "Temporal is unreachable"
        findings += [skip(c, why) for c in ("namespace", "search attributes", "worker")]
    else:
        findings.append(await namespace(client))
        if findings[-1].level.value == "fail":
            why = "the namespace is missing"
            findings += [skip(c, why) for c in ("search attributes", "worker")]
        else:
            namespace_ok = True
            findings.append(await search_attributes(client))
            findings.append(await worker_polling(client, deployment.task_queue))
    engine, database = _open_database(deployment)
    try:
        known = _case_numbers(engine) if engine is not None else set()
        holds_cases = False
        if client is not None and namespace_ok:
            cases, holds_cases = await cases_check(
                client, deployment.task_queue, known, grace=deployment.projection_grace
            )
        else:
            cases = skip("cases", "Temporal is unreachable or its namespace missing")
        findings += database
        if engine is not None:
            findings += [
                people(engine, temporal_holds_cases=holds_cases),
                calendar_coverage(engine, deployment.today),
                calendar_revision_check(engine),
            ]
        findings.append(cases)
        findings.append(await _outside_check(deployment, client, findings))
    finally:
        if engine is not None:
            engine.dispose()
    findings.append(signing_keys(deployment.keys_dir))
    return findings


async def _outside_check(deployment: Deployment, client: Any, findings: list[Finding]) -> Finding:
    """Needs both Temporal and a read model at head."""
    from doctor.outside import CHECK, outside_changes
    from readmodel.database import make_engine

    if client is None or not any(f.check == "database" and f.level.value == "ok" for f in findings):
        return skip(CHECK, "Temporal or the read model (at head) is not available")
    engine = make_engine(deployment.database_url)
    try:
        return await outside_changes(client, engine, deployment.task_queue)
    except Exception as error:
        from doctor.findings import warn

        return warn(CHECK, f"could not compare with Temporal: {type(error).__name__}: {error}")
    finally:
        engine.dispose()


def _open_database(deployment: Deployment) -> tuple[Engine | None, list[Finding]]:
    """The read model if it is usable (its schema at head), and the database finding
    (with the users and calendar checks skipped when it is not usable)."""
    from readmodel.database import CREATE_OR_RESTORE, make_engine, sqlite_file
    from readmodel.errors import ReadModelError

    file = sqlite_file(deployment.database_url)
    if file is not None and not file.exists():  # look, never create
        return None, [
            fail("database", f"no read model at {file}: {CREATE_OR_RESTORE}"),
            *_skipped("there is no read model"),
        ]
    try:
        engine = make_engine(deployment.database_url)
    except ReadModelError as error:
        return None, [fail("database", str(error)), *_skipped("the read model cannot be used")]
    finding, usable = schema(engine)
    if not usable:
        engine.dispose()
        return None, [finding, *_skipped("the read model's schema is not at head")]
    return engine, [finding]


def _case_numbers(engine: Engine) -> set[str]:
    from sqlalchemy import text

    from readmodel.database import read_session

    with read_session(engine) as session:
        return {row[0] for row in session.execute(text("SELECT case_no FROM cases"))}


def _skipped(why: str) -> list[Finding]:
    return [skip("users", why), skip("calendar", why), skip("calendar revision", why)]
