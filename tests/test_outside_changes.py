"""An insider with the stock ``temporal`` tooling and no credentials (the dev server has
none) resets, terminates and deletes cases, and starts case numbers directly: onechain
notices, never shows such a case as running, records each change once on the audit
trail, and an import meeting a taken number reports a conflict.

Real parts: the session's dev server, the production worker (its outside-change sweep
every half second here), the read model's SQLite file, the CLI in-process. The insider
calls the same RPCs the ``temporal`` CLI does, with a client that sends no token.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyExcludeType
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    ResetWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.app import app
from client.facade import CaseDesk, CaseRequest, prepare_start
from domain.actions import workflow_id_for
from domain.case import Applicant
from importing.starter import Outcome, start_cases
from readmodel.audit import AuditRecord
from readmodel.database import read_session, ready_engine
from readmodel.outside import ALTERED, AUDIT_KIND
from readmodel.queries import get_case, list_cases
from runtime.settings import get_settings
from tests.harness import CLERK, CaseDriver, fresh_applicant, signed_desk, worker_for
from workflows import registry
from workflows.case_workflow import CaseWorkflow
from workflows.form_samples import sample_values

pytestmark = pytest.mark.insider


# ------------------------------------------------------------------ helpers
@pytest.fixture
def sweep_every(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Workers built in the test look for outside changes every half second."""
    monkeypatch.setenv("ONECHAIN_OUTSIDE_SWEEP_SECONDS", "0.5")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def no_sweep(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Workers built in the test never look (reconcile and doctor must find it all)."""
    monkeypatch.setenv("ONECHAIN_OUTSIDE_SWEEP_SECONDS", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def applicant() -> Applicant:
    kind = registry.all_chains()[0].applicant_kind
    return fresh_applicant("person" if kind == "person" else "organisation")


def request(case_no: str, who: Applicant) -> CaseRequest:
    """A case of the first registered chain, with its sample form (any chain will do)."""
    chain = registry.all_chains()[0]
    return CaseRequest(
        case_no=case_no,
        chain=chain.code,
        applicant=who,
        form=sample_values(chain.form),
        materials=CaseDriver.all_materials(chain.code),
        accepted_by=CLERK,
    )


def new_case_no() -> str:
    return f"X{uuid.uuid4().hex[:10].upper()}"


def engine() -> Any:
    return ready_engine(get_settings().resolved_database_url)


def stored_status(case_no: str) -> str | None:
    with read_session(engine()) as session:
        row = get_case(session, case_no)
    return row.status if row is not None else None


def audit_rows(case_no: str) -> list[AuditRecord]:
    with read_session(engine()) as session:
        return list(
            session.exec(
                select(AuditRecord)
                .where(AuditRecord.kind == AUDIT_KIND, AuditRecord.case_no == case_no)
                .order_by(col(AuditRecord.id))
            )
        )


async def eventually(check: Any, what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        await asyncio.sleep(0.1)


async def start_and_project(desk: CaseDesk, driver: CaseDriver) -> str:
    case_no = new_case_no()
    await desk.start_case(request(case_no, applicant()))
    await driver.wait_for_tasks(case_no)
    await driver.projected(case_no)
    return case_no


async def reset_before_first_update(client: Client, case_no: str) -> None:
    """``temporal workflow reset --event-id N --reapply-exclude Update``: back to the last workflow task completed
    before the first action (a department's approval is undone)."""
    history = await client.get_workflow_handle(workflow_id_for(case_no)).fetch_history()
    first_update = next(
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )
    point = max(
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        and e.event_id < first_update
    )
    await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id_for(case_no)),
            reason="undo the approval",
            workflow_task_finish_event_id=point,
            request_id=str(uuid.uuid4()),
            # ``--reapply-exclude Update``: the approval is not applied again
            reset_reapply_exclude_types=[ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE],
        )
    )


async def delete(client: Client, case_no: str) -> None:
    """``temporal workflow delete``."""
    await client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id_for(case_no)),
        )
    )


async def squat(client: Client, case_no: str, who: Applicant, task_queue: str) -> None:
    """``temporal workflow start --workflow-id case-<no>`` with a plausible input and no
    sign-in: the worker's admission refuses it and the run fails."""
    await client.start_workflow(
        CaseWorkflow.run,
        prepare_start(request(case_no, who)),
        id=workflow_id_for(case_no),
        task_queue=task_queue,
    )
    handle = client.get_workflow_handle(workflow_id_for(case_no))

    async def failed() -> bool:
        return (await handle.describe()).status is WorkflowExecutionStatus.FAILED

    for _ in range(300):
        if await failed():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the squatted start was not refused")


# -------------------------------------------------------------------- tests
async def test_a_running_worker_marks_and_records_reset_terminated_and_deleted_cases(
    dev_env: WorkflowEnvironment, sweep_every: None
) -> None:
    insider = dev_env.client  # no credentials interceptor: what the stock CLI sends
    async with worker_for(dev_env.client) as task_queue:
        driver = CaseDriver(dev_env.client, task_queue)
        desk = driver.desk
        reset_case = await start_and_project(desk, driver)
        assert await driver.approve_open(reset_case)  # a department approves ...
        await driver.projected(reset_case)
        approved_seq = (await driver.state(reset_case)).events[-1].seq
        terminated_case = await start_and_project(desk, driver)
        deleted_case = await start_and_project(desk, driver)
        await asyncio.sleep(1.2)  # the sweep has seen the three cases in Temporal

        await reset_before_first_update(insider, reset_case)  # ... and that is undone
        await insider.get_workflow_handle(workflow_id_for(terminated_case)).terminate(
            reason="closing it quietly"
        )
        await delete(insider, deleted_case)

        mine = (reset_case, terminated_case, deleted_case)
        await eventually(
            lambda: all(stored_status(c) == ALTERED for c in mine),
            "the worker's sweep marks the three cases",
        )
        # The reset case runs on in Temporal and its worker projects it again: the mark stays.
        assert (await driver.state(reset_case)).events[-1].seq < approved_seq
        await asyncio.sleep(1.5)
        assert stored_status(reset_case) == ALTERED

    with read_session(engine()) as session:
        listed = {r.case_no: r.status for r in list_cases(session, search="X", limit=1000)}
    assert all(listed[c] == ALTERED for c in mine)

    (reset,) = audit_rows(reset_case)
    assert reset.data["what"] == "reset" and "undo the approval" in reset.summary
    assert "history cut after event" in reset.summary
    (terminated,) = audit_rows(terminated_case)
    assert terminated.data["what"] == "terminated" and "closing it quietly" in terminated.summary
    assert terminated.actor_id.startswith("temporal:")
    (deleted,) = audit_rows(deleted_case)
    assert deleted.data["what"] == "deleted"

    # Reconcile finds the same changes (a deleted case, once marked, is not looked for
    # again) and records none of them again.
    from readmodel.outside import record_changes
    from runtime.outside_sweep import find_changes

    found = await find_changes(insider, engine(), task_queue=task_queue)
    assert {c.case_no for c in found} >= {reset_case, terminated_case}
    assert [c for c in record_changes(engine(), found) if c.case_no in mine] == []
    assert all(len(audit_rows(c)) == 1 for c in mine)


runner = CliRunner()


async def cli(*args: str) -> Any:
    return await asyncio.to_thread(runner.invoke, app, list(args))


async def test_reconcile_and_doctor_find_what_no_worker_swept(
    dev_env: WorkflowEnvironment, no_sweep: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from doctor.outside import outside_changes

    insider = dev_env.client
    async with worker_for(dev_env.client) as task_queue:
        driver = CaseDriver(dev_env.client, task_queue)
        case_no = await start_and_project(driver.desk, driver)
        await insider.get_workflow_handle(workflow_id_for(case_no)).terminate(reason="gone")
        deleted = await start_and_project(driver.desk, driver)
        await delete(insider, deleted)
        squatted = new_case_no()
        await squat(insider, squatted, applicant(), task_queue)

        finding = await outside_changes(insider, engine(), task_queue)
        assert finding.level.value == "fail", finding
        assert case_no in finding.message and "terminated" in finding.message

        monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
        monkeypatch.setenv("ONECHAIN_TASK_QUEUE", task_queue)
        monkeypatch.delenv("ONECHAIN_API_KEY", raising=False)
        get_settings.cache_clear()
        dry = await cli("reconcile", "--dry-run", "--json")
        assert dry.exit_code == 0, dry.output
        seen = {c["case_no"]: c for c in json.loads(dry.stdout)["outside_changes"]}
        assert seen[case_no]["what"] == "terminated" and seen[case_no]["new"] is True
        assert seen[squatted]["what"] == "started_outside"
        assert seen[deleted]["what"] == "deleted"
        assert stored_status(case_no) == "running" and audit_rows(case_no) == []  # dry run

        done = await cli("reconcile")
        assert done.exit_code == 0, done.output
        assert "外部改动" in done.stdout and case_no in done.stdout
        assert stored_status(case_no) == stored_status(deleted) == ALTERED
        again = json.loads((await cli("reconcile", "--json")).stdout)
        mine = [c for c in again["outside_changes"] if c["case_no"] in (case_no, squatted)]
        assert len(mine) == 2 and not any(c["new"] for c in mine)
        assert len(audit_rows(case_no)) == 1 and len(audit_rows(squatted)) == 1
        assert (await outside_changes(insider, engine(), task_queue)).level.value == "warn"

        listed = await cli("cases", "list", "--status", "altered", "--search", case_no, "--json")
        assert [c["case_no"] for c in json.loads(listed.stdout)["cases"]] == [case_no]
        shown = await cli("cases", "show", case_no)
        assert "外部改动" in shown.stdout and "gone" in shown.stdout, shown.output
        gone = await cli("cases", "show", deleted, "--json")  # no workflow left to ask
        assert gone.exit_code == 0, gone.output
        assert json.loads(gone.stdout)["outside_changes"][0]["what"] == "deleted"


async def test_import_reports_a_taken_number_as_a_conflict(
    dev_env: WorkflowEnvironment, no_sweep: None
) -> None:
    async with worker_for(dev_env.client) as task_queue:
        desk = signed_desk(dev_env.client, task_queue)
        squatted, held, same = new_case_no(), new_case_no(), new_case_no()
        person, other = applicant(), applicant()
        await squat(dev_env.client, squatted, person, task_queue)
        await desk.start_case(request(held, other))
        await desk.start_case(request(same, person))

        report = await start_cases(
            desk,
            [
                (1, request(squatted, person)),
                (2, request(held, person)),
                (3, request(same, person)),
            ],
        )
    outcomes = {r.case_no: r for r in report.results}
    assert outcomes[squatted].outcome is Outcome.CONFLICT
    assert "no worker admitted" in outcomes[squatted].reason
    assert outcomes[held].outcome is Outcome.CONFLICT
    assert "another applicant" in outcomes[held].reason
    assert outcomes[same].outcome is Outcome.EXISTS  # the same import run again
    for result in report.results:  # no id of either applicant in what is reported
        assert person.id_number not in result.reason and other.id_number not in result.reason


def test_the_insider_marker_runs_by_default() -> None:
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"insider:' in text
    addopts = next(line for line in text.splitlines() if line.startswith("addopts"))
    assert "insider" not in addopts


def test_a_marked_case_is_never_replaced_by_a_projection(database_url: str) -> None:
    """Whatever a reset run projects next (newer events included), on SQLite and
    PostgreSQL, by the projector's upsert and by reconcile's batch upsert alike."""
    from client.outside import Kind, OutsideChange
    from readmodel.database import create_schema, make_engine, write_session
    from readmodel.outside import mark_altered, outside_changes, record_changes, unrecorded
    from readmodel.projection import project
    from readmodel.reconcile import apply_batches
    from tests.test_readmodel import batch

    db = make_engine(database_url)
    try:
        create_schema(db)
        project(db, batch("M1", 2))
        project(db, batch("M2", 2))
        with write_session(db) as session:
            mark_altered(session, ["M1", "M2"])
        project(db, batch("M1", 5))
        with write_session(db) as session:
            apply_batches(session, [batch("M2", 6)])
        with read_session(db) as session:
            rows = [get_case(session, c) for c in ("M1", "M2")]
        assert [(r.status, r.last_seq) for r in rows if r is not None] == [(ALTERED, 2)] * 2

        # Recorded once, however many lookers find the same change.
        change = OutsideChange("M1", Kind.TERMINATED, "run-1", datetime.now(UTC), "reason: x")
        assert record_changes(db, [change, change]) == [change]
        assert record_changes(db, [change]) == []
        assert unrecorded(db, [change]) == []
        with read_session(db) as session:
            (recorded,) = outside_changes(session, "M1")
        assert recorded.kind == "terminated" and "reason: x" in recorded.summary
    finally:
        db.dispose()


async def test_the_import_command_exits_1_on_a_squatted_number(
    dev_env: WorkflowEnvironment, no_sweep: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``onechain import`` of a row whose number a start with no sign-in took: a conflict
    naming the number, exit 1, and the row in the errors file to fix and import again."""
    from tests.harness import act_as_shorthand

    chain = registry.all_chains()[0]
    who = applicant()
    squatted, fine = new_case_no(), new_case_no()
    rows = [
        {
            "案件编号": case_no,
            "事项": chain.code,
            "申请人": who.name,
            "申请人类型": "个人" if who.kind == "person" else "单位",
            "证件号码": who.id_number,
            "form": sample_values(chain.form),
            "材料": CaseDriver.all_materials(chain.code),
        }
        for case_no in (squatted, fine)
    ]
    file = tmp_path / "in.jsonl"
    file.write_text(
        "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows),
        encoding="utf-8",
    )
    async with worker_for(dev_env.client) as task_queue:
        await squat(dev_env.client, squatted, who, task_queue)
        monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
        monkeypatch.setenv("ONECHAIN_TASK_QUEUE", task_queue)
        monkeypatch.setenv("ONECHAIN_SESSION_FILE", str(tmp_path / "session.json"))
        monkeypatch.delenv("ONECHAIN_API_KEY", raising=False)
        get_settings.cache_clear()
        words = act_as_shorthand(
            tmp_path / "session.json",
            ["import", str(file), "--as", "clerk1:window_clerk:window:窗口张三", "--json"],
        )
        result = await asyncio.to_thread(runner.invoke, app, words)
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["started"] == 1 and data["summary"]["already_existing"] == 0
    [conflict] = data["conflicts"]
    assert conflict["case_no"] == squatted and "no worker admitted" in conflict["reason"]
    assert who.id_number not in result.output
