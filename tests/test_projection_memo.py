"""A case keeps its read-model rows in its Temporal memo, and the server alone serves them.

What a user relies on: the read model (the console's lists) is written and rebuilt from
Temporal even when no worker can answer for a case, and what the memo holds is exactly
what the case itself answers. Real dev server, real production worker, real SQLite.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from temporalio.testing import WorkflowEnvironment

from domain.case import CaseStatus
from domain.projection import Reconciliation
from readmodel.database import read_session, write_session
from readmodel.queries import case_events, get_case
from readmodel.tables import CaseRecord, EventRecord, TaskRecord, table_of
from runtime.projector import Projector, project_all, running
from tests.harness import CaseDriver, worker_for
from tests.test_projector import any_chain_case, applicant_for, engine, eventually
from tests.test_readmodel import case_row, event_row, task_row


def comparable(answer: Reconciliation) -> dict[str, Any]:
    """Everything but the case row's ``updated_at``: a Query stamps it with the time of
    the case's last workflow task, the memo with the time of its last change."""
    data = answer.model_dump(mode="json")
    data["batch"]["case"].pop("updated_at")
    return data


async def same_as_the_case_answers(driver: CaseDriver, case_no: str) -> None:
    """The memo (Describe) and the case's own ``reconciliation`` Query agree."""
    for _ in range(50):  # an activity result may land between the two reads
        described = await driver.desk.described_reconciliation(case_no)
        queried = await driver.desk.reconciliation(case_no)
        assert described is not None, "a new case keeps its rows in its memo"
        if comparable(described) == comparable(queried):
            return
        await asyncio.sleep(0.1)
    assert comparable(described) == comparable(queried)


async def test_the_memo_holds_what_the_case_answers_through_its_life(
    driver: CaseDriver,
) -> None:
    chain, form = any_chain_case()
    case_no = await driver.start(chain, form, applicant=applicant_for(chain))
    await driver.wait_for_tasks(case_no)
    await same_as_the_case_answers(driver, case_no)  # accepted, tasks open
    assert await driver.approve_open(case_no)
    await same_as_the_case_answers(driver, case_no)  # first decisions recorded
    outcome = await driver.run_to_end(case_no)
    assert outcome.status is CaseStatus.APPROVED
    await same_as_the_case_answers(driver, case_no)  # concluded: licences, notifications
    final = await driver.desk.described_reconciliation(case_no)
    assert final is not None and final.batch.case.status == "approved"
    assert [e.seq for e in final.batch.events] == list(range(1, final.batch.case.last_seq + 1))


def forget(case_no: str) -> None:
    """The read model loses the case's rows."""
    with write_session(engine()) as session:
        for table in (CaseRecord, TaskRecord, EventRecord):
            stmt = delete(table_of(table)).where(table_of(table).c.case_no == case_no)
            session.exec(stmt)  # type: ignore[call-overload]


def stored(case_no: str) -> tuple[Any, int]:
    with read_session(engine()) as session:
        return get_case(session, case_no), len(case_events(session, case_no))


async def test_a_projector_writes_a_case_no_worker_can_answer_for(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Its rows come from the server (Describe): with the case's worker stopped, a
    projector on another machine still writes them."""
    chain, form = any_chain_case()
    async with worker_for(dev_env.client) as task_queue:
        driver = CaseDriver(dev_env.client, task_queue)
        case_no = await driver.start(chain, form, applicant=applicant_for(chain))
        await driver.wait_for_tasks(case_no)
        await driver.approve_open(case_no)
        await driver.wait_for_tasks(case_no)  # the next tasks are open: it waits for people
        await driver.projected(case_no)
        truths = {case_no: stored(case_no)}
    await rewritten_by_a_new_projector(dev_env.client, task_queue, tmp_path / "journal", truths)


async def rewritten_by_a_new_projector(
    client: Any, task_queue: str, journal: Path, truths: dict[str, tuple[Any, int]]
) -> None:
    """Drop the cases' rows, hint a fresh projector (as on another machine) about each,
    and check it writes each row and its events as they stand in Temporal."""
    for case_no in truths:
        forget(case_no)
    projector = Projector(
        client, task_queue, lambda batches: project_all(engine(), batches), journal
    )
    async with running(projector):
        for case_no in truths:
            projector.hint(f"case-{case_no}", revision=1)  # as its first change would
        await eventually(lambda: all(stored(n)[0] is not None for n in truths), timeout=15)
        assert await projector.drain(15)
    for case_no, (truth, events) in truths.items():
        row, written_events = stored(case_no)
        assert (row.status, row.stage, row.last_seq) == (truth.status, truth.stage, truth.last_seq)
        assert written_events == events


async def test_a_burst_of_changed_cases_is_read_from_one_listing(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When many cases change at once (the turn of a working day), the projector reads
    their memos from one listing of the server's visibility store: with Describe
    failing, every case is still written, as it stands in Temporal."""
    from runtime.projector import LIST_AT_LEAST

    chain, form = any_chain_case()
    async with worker_for(dev_env.client) as task_queue:
        driver = CaseDriver(dev_env.client, task_queue)
        numbers = [
            await driver.start(chain, form, applicant=applicant_for(chain))
            for _ in range(LIST_AT_LEAST)
        ]
        for case_no in numbers:
            await driver.wait_for_tasks(case_no)
            await driver.projected(case_no)
        truths = {case_no: stored(case_no) for case_no in numbers}

    async def no_describe(self: Projector, workflow_id: str, attempt: int) -> Any:
        raise AssertionError(f"{workflow_id} was described, not listed")

    monkeypatch.setattr(Projector, "_describe", no_describe)
    await rewritten_by_a_new_projector(dev_env.client, task_queue, tmp_path / "journal", truths)


@pytest.mark.parametrize("after_seq", [0, 1, 2, 3, 4, 5, 6, 7, 9])
async def test_the_events_after_a_number_come_from_the_chunks_that_hold_them(
    after_seq: int,
) -> None:
    """Events are upserted in chunks (1-3, 4, 5-7); a reader that has written up to
    ``after_seq`` gets exactly the later ones."""
    from temporalio.contrib.pydantic import pydantic_data_converter

    from workflows.projection_memo import CASE, EVENTS_PREFIX, projection_from_memo

    case = case_row("M-1")
    chunks = {1: [1, 2, 3], 4: [4], 5: [5, 6, 7]}
    converter = pydantic_data_converter.payload_converter
    memo = {CASE: converter.to_payloads([case])[0]} | {
        f"{EVENTS_PREFIX}{first}": converter.to_payloads([[event_row("M-1", s) for s in seqs]])[0]
        for first, seqs in chunks.items()
    }
    batch, _ = await projection_from_memo(pydantic_data_converter, memo, after_seq)
    assert [e.seq for e in batch.events] == [s for s in range(1, 8) if s > after_seq]


async def test_a_task_row_the_memo_still_holds_is_not_decoded_again() -> None:
    """The projector reads a case after each change, and a change rewrites only the
    rows it touched: the others come from its cache of decoded rows, the rewritten one
    is decoded afresh, through the sealing codec as in production."""
    from runtime.connect import data_converter
    from runtime.keys import keys_dir
    from runtime.settings import get_settings
    from workflows.projection_memo import CASE, TASK_PREFIX, TaskRowCache, projection_from_memo

    converter = data_converter(keys_dir(get_settings()))
    assert converter.payload_codec is not None

    async def memo_of(rows: dict[int, Any]) -> dict[str, Any]:
        keys = [CASE, *(f"{TASK_PREFIX}{i}" for i in rows)]
        payloads = await converter.encode([case_row("M-2"), *rows.values()])
        return dict(zip(keys, payloads, strict=True))

    rows = {i: task_row("M-2", f"T{i}") for i in range(3)}
    memo = await memo_of(rows)
    cache = TaskRowCache(16)
    first, _ = await projection_from_memo(converter, memo, task_cache=cache)
    assert first.tasks == list(rows.values())

    decided = task_row("M-2", "T1", status="approved")
    memo[f"{TASK_PREFIX}1"] = (await memo_of({1: decided}))[f"{TASK_PREFIX}1"]
    second, _ = await projection_from_memo(converter, memo, task_cache=cache)
    assert second.tasks == [rows[0], decided, rows[2]]
    assert second.tasks[0] is first.tasks[0] and second.tasks[2] is first.tasks[2]
    assert second.tasks[1] is not first.tasks[1]
    # The same row sealed again is other bytes: decoded, never mistaken for another.
    resealed = await memo_of(rows)
    third, _ = await projection_from_memo(converter, resealed, task_cache=cache)
    assert third.tasks == list(rows.values()) and third.tasks[0] is not first.tasks[0]


async def test_each_notification_is_written_to_the_memo_once(driver: CaseDriver) -> None:
    """Every urge notifies. Each notification goes into the memo once, in a chunk of
    its own moment; ``p.derived`` never carries them again (it used to carry all of
    them in every upsert, so a case's history grew by every notification each time)."""
    from domain.actions import Urge
    from domain.projection import DerivedRecords, Notification
    from tests.harness import COORDINATOR
    from workflows.projection_memo import DERIVED, NOTIFICATIONS_PREFIX

    chain, form = any_chain_case()
    case_no = await driver.start(chain, form, applicant=applicant_for(chain))
    task = (await driver.wait_for_tasks(case_no)).open_tasks[0]
    for n in range(3):
        await driver.desk.act(case_no, Urge(actor=COORDINATOR, task_id=task.id, reason=f"催办{n}"))

    async def notified() -> list[Notification]:
        described = await driver.desk.described_reconciliation(case_no)
        assert described is not None
        return described.derived.notifications

    for _ in range(100):
        if len(await notified()) >= 3:
            break
        await asyncio.sleep(0.1)
    in_memo = await notified()
    urged = [n.message for n in in_memo if n.kind == "urged"]
    assert [m[-3:] for m in urged] == ["催办0", "催办1", "催办2"]
    await same_as_the_case_answers(driver, case_no)

    codec = driver.desk.client.data_converter
    history = await driver.desk.handle(case_no).fetch_history()
    chunks: list[Notification] = []
    for event in history.events:
        if not event.HasField("workflow_properties_modified_event_attributes"):
            continue
        fields = event.workflow_properties_modified_event_attributes.upserted_memo.fields
        for key in sorted(k for k in fields if k.startswith(NOTIFICATIONS_PREFIX)):
            chunks.extend((await codec.decode([fields[key]], [list[Notification]]))[0])
        if DERIVED in fields:
            [derived] = await codec.decode([fields[DERIVED]], [DerivedRecords])
            assert derived.notifications == []
    assert chunks == in_memo
