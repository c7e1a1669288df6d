"""Record the history of a finished case of a shipped chain, for replay tests.

Run after adding a chain (or a new flow version, or an engine change that needs a
``workflow.patched`` guard) and commit the JSON:

    python -m tests.histories.record_history kindergarten [NAME]

The replay test then fails if anyone edits that version's flow, or the engine path the
history took, in place. Histories are recorded unsealed (no payload codec): the test
keys are made afresh for every run, and unsealed payloads replay through the codec.
``kindergarten_v1.json`` predates worker admission (legacy start input);
``kindergarten_v1_admitted.json`` has the admission, signed actions and derived records;
``kindergarten_v1_memo.json`` keeps its rows in its memo and sends each moment's
notifications together (patches ``projection-in-memo`` and ``notify-together``);
``kindergarten_v1_features.json`` records all of those as the one marker
``features-2026-12``; ``kindergarten_v1_licences_local.json`` also stores its e-licences by a
local activity (patch ``licences-local``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("ONECHAIN_DATA_DIR", tempfile.mkdtemp(prefix="onechain-record-"))

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.actions import Decide, Extend, RecordSupplement, Urge
from domain.case import Verdict
from tests.harness import (
    CLERK,
    COORDINATOR,
    CaseDriver,
    reviewer,
    start_dev_env,
    worker_for,
)

FORMS = {
    "kindergarten": {
        "school_name": "阳光幼儿园",
        "address": "济宁市任城区古槐路 1 号",
        "floor_area_m2": 1800,
        "planned_classes": 9,
        "planned_children": 270,
        "has_canteen": True,
    },
}


async def record(chain: str, name: str) -> Path:
    env = await start_dev_env()
    config = env.client.config()
    config.update(data_converter=pydantic_data_converter, plugins=[])
    client = Client(**config)  # unsealed: see the module notes
    try:
        async with worker_for(client) as task_queue:
            driver = CaseDriver(client, task_queue)
            case_no = await driver.start(chain, FORMS[chain], case_no=f"REC-{chain}")
            state = await driver.wait_for_tasks(case_no)
            first = state.open_tasks[0]
            department = first.departments[0]
            await driver.desk.act(case_no, Urge(actor=COORDINATOR, task_id=first.id, reason="催办"))
            await driver.desk.act(
                case_no, Extend(actor=COORDINATOR, task_id=first.id, days=2, reason="情况复杂")
            )
            await driver.desk.act(
                case_no,
                Decide(
                    actor=reviewer(department),
                    task_id=first.id,
                    verdict=Verdict.RETURN,
                    reason="材料不全",
                    missing_items=["园舍平面图"],
                ),
            )
            await driver.desk.act(
                case_no, RecordSupplement(actor=CLERK, task_id=first.id, items=["园舍平面图"])
            )
            await driver.run_to_end(case_no)
            history = await driver.desk.handle(case_no).fetch_history()
    finally:
        await env.shutdown()
    target = Path(__file__).parent / f"{name}.json"
    target.write_text(history.to_json(), encoding="utf-8")
    return target


if __name__ == "__main__":
    chain = sys.argv[1] if len(sys.argv) > 1 else "kindergarten"
    print(asyncio.run(record(chain, sys.argv[2] if len(sys.argv) > 2 else f"{chain}_v1")))
