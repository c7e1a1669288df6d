"""A running case keeps the flow it started with when its chain's code changes.

The history of a case started on version 1 is replayed against an edited chain
that added version 2: replay passes. Editing version 1 in place instead is caught
by the same replay. A recorded kindergarten history in ``tests/histories`` guards
the shipped chain the same way: if someone edits its version-1 flow, this fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from domain.case import CaseStatus
from tests.harness import CaseDriver, sealing_converter
from worker import build_worker, workflow_runner
from workflows import registry
from workflows.case_workflow import CaseWorkflow
from workflows.chain import Chain, LicenceType
from workflows.steps import CaseContext

HISTORIES = Path(__file__).parent / "histories"


class PermitForm(BaseModel):
    shop_name: str


def permit_chain() -> Chain:
    return Chain(
        code="versioned_permit",
        name_zh="测试许可",
        name_en="Versioned permit",
        form=PermitForm,
        departments=("market", "fire"),
        materials=(),
        licences=(LicenceType("permit", "测试许可证", "market"),),
        promised_days=5,
        statutory_days=20,
    )


async def flow_v1(case: CaseContext[PermitForm]) -> None:
    await case.review("market", "市场审查", days=3)
    await case.review("fire", "消防审查", days=3)
    await case.issue("permit")


async def flow_v2(case: CaseContext[PermitForm]) -> None:
    await case.parallel(
        "并联审查",
        case.review("market", "市场审查", days=2),
        case.review("fire", "消防审查", days=2),
    )
    await case.issue("permit")


async def flow_v1_edited_in_place(case: CaseContext[PermitForm]) -> None:
    await case.issue("permit")  # moved before the reviews: not what running cases did
    await case.review("market", "市场审查", days=3)
    await case.review("fire", "消防审查", days=3)


@pytest.fixture
def swap_chain() -> Iterator[None]:
    yield
    registry.unregister("versioned_permit")


def install(*flows) -> Chain:
    registry.unregister("versioned_permit")
    chain = permit_chain()
    for version, fn in enumerate(flows, start=1):
        chain.flow(version=version)(fn)
    return registry.register(chain)


async def replay(history: WorkflowHistory, *, raise_on_failure: bool = True):
    replayer = Replayer(
        workflows=[CaseWorkflow],
        workflow_runner=workflow_runner(),
        data_converter=sealing_converter(),
    )
    return await replayer.replay_workflow(history, raise_on_replay_failure=raise_on_failure)


async def test_case_started_on_v1_replays_after_v2_is_added(
    driver: CaseDriver, swap_chain: None
) -> None:
    install(flow_v1)
    case_no = await driver.start("versioned_permit", {"shop_name": "老王饭店"})
    outcome = await driver.run_to_end(case_no)
    assert outcome.status is CaseStatus.APPROVED
    history = await driver.desk.handle(case_no).fetch_history()

    chain = install(flow_v1, flow_v2)
    assert chain.version == 2
    await replay(history)

    install(flow_v1_edited_in_place)
    result = await replay(history, raise_on_failure=False)
    assert result.replay_failure is not None


async def test_new_cases_start_on_the_newest_version_while_old_ones_continue(
    driver: CaseDriver, swap_chain: None
) -> None:
    install(flow_v1)
    old_case = await driver.start("versioned_permit", {"shop_name": "旧店"})
    await driver.wait_for_tasks(old_case)

    install(flow_v1, flow_v2)
    new_case = await driver.start("versioned_permit", {"shop_name": "新店"})
    new_state = await driver.wait_for_tasks(new_case)
    assert new_state.chain_version == 2
    assert len(new_state.open_tasks) == 2  # v2 reviews in parallel

    old_state = await driver.state(old_case)
    assert old_state.chain_version == 1
    assert [t.name for t in old_state.open_tasks] == ["市场审查"]  # v1 stays sequential
    assert (await driver.run_to_end(old_case)).status is CaseStatus.APPROVED
    old_final = await driver.state(old_case)
    assert [t.name for t in old_final.tasks if t.kind.value == "review"] == ["市场审查", "消防审查"]


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_histories_replay_against_current_chains(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    await replay(history)


async def test_running_case_keeps_its_limits_when_the_chain_is_edited(
    dev_env: WorkflowEnvironment, swap_chain: None
) -> None:
    """Limits are pinned at start: with no workflow cache every task replays from
    history, and a later edit of ``promised_days`` still does not reach the case."""
    chain = install(flow_v1)
    task_queue = f"nocache-{uuid.uuid4().hex[:6]}"
    async with build_worker(dev_env.client, task_queue, max_cached_workflows=0):
        driver = CaseDriver(dev_env.client, task_queue)
        case_no = await driver.start("versioned_permit", {"shop_name": "老王饭店"})
        before = await driver.wait_for_tasks(case_no)
        chain.promised_days = 15
        await driver.approve_open(case_no)
        after = await driver.wait_for_tasks(case_no)
    assert after.promised.limit_days == before.promised.limit_days == 5
    assert after.promised.due_on == before.promised.due_on
    assert [t.name for t in after.tasks] == ["市场审查", "消防审查"]
