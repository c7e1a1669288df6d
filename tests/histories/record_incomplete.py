"""Record a 容缺受理 restaurant case for the replay tests: accepted with a non-key item
missing, every review approved, the item supplied, the licences issued.

    python -m tests.histories.record_incomplete NAME

``restaurant_v1_incomplete_wait.json`` was recorded with the engine before
``per-licence-hold`` (the flow stopped at ``case.issue`` until every missing item was
supplied); ``restaurant_v1_incomplete_held.json`` with it (only the food business
licence waited for the health certificates; the rest was issued at once). Both must
replay against the current engine. The script runs unchanged against either engine.
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

from domain.actions import SupplyMaterials
from tests.harness import CLERK, CaseDriver, start_dev_env, worker_for

FORM = {
    "shop_name": "老王家常菜",
    "address": "济宁市任城区太白楼路 18 号",
    "floor_area_m2": 120,
    "seats": 40,
    "signboard_text": "老王家常菜",
    "signboard_complex": False,
}
MISSING = "staff_health"


async def record(name: str) -> Path:
    env = await start_dev_env()
    config = env.client.config()
    config.update(data_converter=pydantic_data_converter, plugins=[])
    client = Client(**config)  # unsealed, as record_history
    try:
        async with worker_for(client) as task_queue:
            driver = CaseDriver(client, task_queue)
            materials = [m for m in CaseDriver.all_materials("restaurant") if m != MISSING]
            case_no = await driver.start(
                "restaurant", FORM, case_no="REC-restaurant-incomplete", materials=materials
            )
            for _ in range(10):
                await driver.wait_for_tasks(case_no)
                if not await driver.approve_open(case_no):
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(1)
            await driver.desk.act(
                case_no, SupplyMaterials(actor=CLERK, items=[MISSING], reason="健康证")
            )
            await driver.run_to_end(case_no)
            history = await driver.desk.handle(case_no).fetch_history()
    finally:
        await env.shutdown()
    target = Path(__file__).parent / f"{name}.json"
    target.write_text(history.to_json(), encoding="utf-8")
    return target


if __name__ == "__main__":
    print(asyncio.run(record(sys.argv[1])))
