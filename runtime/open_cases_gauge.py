"""``onechain_open_cases{chain}``: running cases per chain, from the read model.

Counters from workflow code say what happened; how many cases are open now is a
level, read from the read model by the worker every :data:`INTERVAL_SECONDS` (cheap:
one indexed GROUP BY). Every worker reports the same numbers: take ``max`` across
workers in the dashboard, not ``sum``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import select
from temporalio.common import MetricMeter

from readmodel.database import read_session
from readmodel.tables import CaseRecord

INTERVAL_SECONDS = 30.0
OPEN_CASES = "onechain_open_cases"

logger = logging.getLogger(__name__)


def open_cases_by_chain(engine: Engine) -> dict[str, int]:
    with read_session(engine) as session:
        rows = session.exec(
            select(CaseRecord.chain, func.count())
            .where(CaseRecord.status == "running")
            .group_by(CaseRecord.chain)
        ).all()
    return {chain: int(count) for chain, count in rows}


async def report_open_cases(
    meter: MetricMeter, engine: Engine, interval: float = INTERVAL_SECONDS
) -> None:
    """Set the gauge now and every ``interval`` seconds until cancelled; a chain whose
    last case concluded drops to 0 instead of keeping its old value."""
    gauge = meter.create_gauge(OPEN_CASES, "Running cases per chain (from the read model).")
    seen: set[str] = set()
    while True:
        try:
            counts = await asyncio.to_thread(open_cases_by_chain, engine)
        except Exception as error:  # database away for a moment: keep the last values
            logger.warning("open cases gauge: %s", type(error).__name__)
        else:
            seen |= set(counts)
            for chain in seen:
                gauge.set(counts.get(chain, 0), {"chain": chain})
        with contextlib.suppress(TimeoutError):
            await asyncio.sleep(interval)


ANCHOR_AGE = "onechain_audit_anchor_age_seconds"
ANCHOR_SECONDS = 30.0


async def report_anchor_age(
    meter: MetricMeter, anchors: Path, interval: float = ANCHOR_SECONDS
) -> None:
    """How long ago the audit chain's head was last anchored (the anchor file's last
    write); while there is no anchor file, how long the worker has run without one. A
    worker anchors every minute."""
    gauge = meter.create_gauge(ANCHOR_AGE, "Seconds since the audit chain was last anchored.", "s")
    began = time.time()
    while True:
        try:
            last = anchors.stat().st_mtime
        except OSError:
            last = began
        gauge.set(max(0, int(time.time() - last)))
        await asyncio.sleep(interval)
