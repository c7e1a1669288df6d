"""Runs the checks in order, skipping those whose ground an earlier failure took away."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from doctor.calendar import calendar_coverage
from doctor.findings import Finding, skip
from doctor.keys import signing_keys
from doctor.people import people
from doctor.pollers import worker_polling
from doctor.schema import schema
from doctor.search_attributes import search_attributes
from doctor.temporal import namespace, reachable


@dataclass(frozen=True)
class Deployment:
    """What to check: as the workers are configured (TEMPORAL_*, ONECHAIN_*)."""

    connect_options: dict[str, Any]
    task_queue: str
    database_url: str
    keys_dir: Path
    today: date

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
    findings: list[Finding] = []
    finding, client = await reachable(deployment.connect_options)
    findings.append(finding)
    if client is None:
        why = "Temporal is unreachable"
        findings += [skip(c, why) for c in ("namespace", "search attributes", "worker")]
    else:
        findings.append(await namespace(client))
        if findings[-1].level.value == "fail":
            why = "the namespace is missing"
            findings += [skip(c, why) for c in ("search attributes", "worker")]
        else:
            findings.append(await search_attributes(client))
            findings.append(await worker_polling(client, deployment.task_queue))
    findings += _database_checks(deployment)
    findings.append(await _outside_check(deployment, client, findings))
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


def _database_checks(deployment: Deployment) -> list[Finding]:
    from sqlalchemy.engine import make_url

    from doctor.findings import warn
    from readmodel.database import make_engine
    from readmodel.errors import ReadModelError

    url = make_url(deployment.database_url)
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not Path(file).exists():  # look, never create
        return [
            warn(
                "database",
                f"no read model yet at {url.database}: the first worker or command creates it",
            ),
            *_skipped("there is no read model yet"),
        ]
    try:
        engine = make_engine(deployment.database_url)
    except ReadModelError as error:
        from doctor.findings import fail

        return [fail("database", str(error)), *_skipped("the read model cannot be used")]
    try:
        finding, usable = schema(engine)
        if not usable:
            return [finding, *_skipped("the read model's schema is not at head")]
        return [finding, people(engine), calendar_coverage(engine, deployment.today)]
    finally:
        engine.dispose()


def _skipped(why: str) -> list[Finding]:
    return [skip("users", why), skip("calendar", why)]
