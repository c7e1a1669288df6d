"""The department simulator rides out a dead worker and a dead server: an action that
got no answer is sent again later with the same request id (applied once), never given
up on (the case would wait forever) and never a crash of ``onechain simulate``.

A real dev server of its own (it is killed here), a real worker in this process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import pytest
from temporalio.client import Client

from runtime.connect import client_plugins
from simulator.engine import Simulator, load_open_tasks
from simulator.policy import Policy
from tests.chaos.processes import DevServer, quiet_runtime
from tests.harness import CaseDriver, fresh_applicant, sealing_converter, session_signer
from worker import build_worker
from workflows import registry
from workflows.form_samples import sample_values

pytestmark = pytest.mark.chaos


def decisions(state) -> Counter[tuple[str | None, str | None]]:  # type: ignore[no-untyped-def]
    return Counter((e.task_id, e.department) for e in state.events if e.kind == "decided")


async def test_simulator_sends_again_what_got_no_answer(tmp_path: Path) -> None:
    server = DevServer(tmp_path)
    await server.start()
    try:
        client = await Client.connect(
            server.address,
            data_converter=sealing_converter(),
            plugins=client_plugins(),
            runtime=quiet_runtime(),
        )
        session_signer()  # keys and people exist before the worker loads them
        task_queue = f"simfault-{uuid.uuid4().hex[:6]}"
        driver = CaseDriver(client, task_queue)
        chain = registry.all_chains()[0]
        prefix = f"SF{uuid.uuid4().hex[:6].upper()}-"
        case_no = f"{prefix}1"
        sim = Simulator(
            driver.desk,
            Policy(seed=1, approve=1.0, return_share=0.0, slow=0.0),
            rate_per_min=0,
            supplement_after=0,
            complete_after=0,
            case_prefix=prefix,
            action_timeout=1.0,
        )

        async with build_worker(client, task_queue):
            kind = "person" if chain.applicant_kind == "person" else "organisation"
            await driver.start(
                chain.code,
                sample_values(chain.form),
                case_no=case_no,
                applicant=fresh_applicant(kind),
            )
            for _ in range(300):
                if load_open_tasks(sim.engine, case_prefix=prefix):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the case's first tasks never reached the read model")

        # No worker: the actions get no answer; nothing is given up on.
        await sim.tick()
        assert sim.stats.counts["timeout"] >= 1
        # No server either: still no crash.
        server.kill()
        await sim.tick()
        assert sim.stats.counts["timeout"] >= 2
        await server.start()

        async with build_worker(client, task_queue):
            for _ in range(600):
                await sim.tick()
                state = await driver.state(case_no)
                if state.concluded:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"stuck at {state.stage}: {state.open_tasks}")
            assert state.status.value == "approved"
            twice = {k: n for k, n in decisions(state).items() if n > 1}
            assert not twice, f"decided more than once: {twice}"
            # A retry of an action that had landed after all is answered by Temporal from
            # its request id, not refused as "already decided" (a new id would be).
            assert sim.stats.counts["refused"] == 0, sim.stats.counts
            assert sim.stats.counts["approve"] >= 1
    finally:
        server.stop()
