"""``onechain cases list|show`` and ``onechain case ACTION`` against a real dev server.

The CLI runs in-process (CliRunner) in a thread, because its commands call
``asyncio.run`` and the test itself runs in pytest-asyncio's loop.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from cli import output
from cli.actor import forget_credentials
from cli.app import app
from domain.case import CaseStatus
from domain.timezone import cst_date
from runtime.settings import get_settings
from tests.harness import CaseDriver, sign_in_cli
from tests.test_chains_end_to_end import KINDERGARTEN_FORM

runner = CliRunner()

COORD = "coord1:coordinator::协调李四"
CLERK = "clerk1:window_clerk:window:窗口张三"
SUPER = "super1:supervisor::督办王五"


def reviewer(department: str) -> str:
    return f"rev-{department}:reviewer:{department}"


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set ONECHAIN_*/TEMPORAL_* variables for the CLI, and put everything back after
    (settings are cached, so the cache is cleared on the way in and out)."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@contextmanager
def wide_terminal(width: int = 240) -> Iterator[None]:
    """Tables as a wide terminal shows them (CliRunner's capture is 80 columns)."""
    before = output.stdout.width
    output.stdout.width = width
    try:
        yield
    finally:
        output.stdout.width = before


@pytest.fixture
async def cli(
    dev_env: WorkflowEnvironment, driver: CaseDriver, tmp_path: Path
) -> AsyncIterator[CaseDriver]:
    """The driver's worker and task queue, with the CLI pointed at them."""
    with (
        environment(
            TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
            ONECHAIN_TASK_QUEUE=driver.desk.task_queue,
            ONECHAIN_SESSION_FILE=str(tmp_path / "session.json"),
            ONECHAIN_API_KEY=None,
        ),
        wide_terminal(),
    ):
        yield driver


def sign_in_as(person: str | None) -> None:
    """Sign the CLI in as ``USER:ROLE[:DEPARTMENT][:NAME]`` (a real session with a signed
    token, as `onechain login` leaves it), or sign it out for None."""
    path = Path(os.environ["ONECHAIN_SESSION_FILE"])
    if person is None:
        path.unlink(missing_ok=True)
        forget_credentials()
        return
    user, role, *rest = person.split(":")
    department = rest[0] if rest and rest[0] else None
    name = rest[1] if len(rest) > 1 else user
    sign_in_cli(path, f"{role}:{department}" if department else role, user_id=user, name=name)


async def invoke(*args: str) -> Result:
    """Run one command; ``--as PERSON`` (test shorthand, not a CLI option) signs in first."""
    words = list(args)
    person = None
    if "--as" in words:
        at = words.index("--as")
        person = words[at + 1]
        del words[at : at + 2]
    sign_in_as(person)
    return await asyncio.to_thread(runner.invoke, app, words)


async def ok(*args: str) -> Result:
    result = await invoke(*args)
    assert result.exit_code == 0, (args, result.output)
    return result


async def refused(code: int, *args: str) -> Result:
    result = await invoke(*args)
    assert result.exit_code == code, (args, result.output)
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    return result


async def show(case_no: str) -> dict[str, Any]:
    return json.loads((await ok("cases", "show", case_no, "--json")).stdout)


def task_for(state: dict[str, Any], department: str) -> str:
    return next(
        t["id"]
        for t in state["tasks"]
        if t["status"] == "open" and [p["department"] for p in t["parts"]] == [department]
    )


async def listed(*args: str, expect: int = 1, timeout: float = 10.0) -> dict[str, Any]:
    """``cases list --json``, polled until ``expect`` rows match (projection is async)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        data = json.loads((await ok("cases", "list", "--json", *args)).stdout)
        if data["total"] == expect or loop.time() > deadline:
            return data
        await asyncio.sleep(0.1)


async def test_show_then_decide(cli: CaseDriver) -> None:
    case_no = await cli.start("kindergarten", KINDERGARTEN_FORM)
    await cli.wait_for_tasks(case_no)

    state = await show(case_no)
    assert state["case_no"] == case_no and state["status"] == "running"
    assert state["applicant"]["id_masked"].count("*") >= 8
    open_tasks = [t for t in state["tasks"] if t["status"] == "open"]
    assert len(open_tasks) == 4
    assert all(t["days_left"] >= 1 and t["warning"] == "none" for t in open_tasks)
    assert state["days_left"]["promised"] >= 1
    assert state["events"] and state["events"][0]["seq"] == 1

    text = (await ok("cases", "show", case_no)).stdout
    for expected in (case_no, "Tasks", "Timeline", "教育局", "promised due"):
        assert expected in text

    education = task_for(state, "education")
    result = await ok(
        "case", "decide", case_no, education, "--verdict", "approve", "--as", reviewer("education")
    )
    assert "同意" in result.stdout

    # The workflow's validators answer; nothing changes and the exit code is 1.
    result = await refused(
        1,
        "case",
        "decide",
        case_no,
        task_for(state, "fire"),
        "--verdict",
        "approve",
        "--department",
        "health",
        "--as",
        reviewer("fire"),
    )
    assert "may not decide for department health" in result.stderr
    result = await refused(
        1,
        "case",
        "decide",
        case_no,
        education,
        "--verdict",
        "approve",
        "--as",
        reviewer("education"),
    )
    assert "already" in result.stderr
    result = await refused(
        1,
        "case",
        "decide",
        case_no,
        task_for(state, "fire"),
        "--verdict",
        "reject",
        "--as",
        reviewer("fire"),
    )
    assert "a reason is required" in result.stderr

    # Bad input never reaches the case: exit 2.
    result = await refused(
        2,
        "case",
        "decide",
        case_no,
        education,
        "--verdict",
        "return",
        "--as",
        reviewer("education"),
    )
    assert "must list the missing items" in result.stderr
    result = await refused(2, "case", "decide", case_no, education, "--verdict", "approve")
    assert "未登录" in result.stderr and "onechain login" in result.stderr
    result = await refused(
        2,
        "case",
        "decide",
        case_no,
        education,
        "--verdict",
        "approve",
        "--role",
        "reviewer:education",
        "--as",
        COORD,
    )
    assert "你没有这个角色" in result.stderr
    result = await refused(2, "cases", "show", "NO-SUCH-CASE")
    assert "not found" in result.stderr
    result = await refused(2, "case", "urge", "NO-SUCH-CASE", "T1", "--as", COORD)
    assert "not found" in result.stderr

    decided = await show(case_no)
    parts = next(t for t in decided["tasks"] if t["id"] == education)["parts"]
    assert parts[0]["verdict"] == "approve"
    assert [e["kind"] for e in decided["events"]].count("decided") == 1

    result = await ok(
        "case",
        "decide",
        case_no,
        task_for(state, "health"),
        "--verdict",
        "approve",
        "--as",
        reviewer("health"),
        "--json",
    )
    assert json.loads(result.stdout)["seq"] > 1


async def test_every_action(cli: CaseDriver) -> None:
    case_no = await cli.start("kindergarten", KINDERGARTEN_FORM)
    await cli.wait_for_tasks(case_no)
    state = await show(case_no)
    education, fire, health, market = (
        task_for(state, d) for d in ("education", "fire", "health", "market")
    )

    await ok("case", "urge", case_no, education, "--reason", "请加快", "--as", COORD)
    result = await ok(
        "case",
        "extend",
        case_no,
        "--task",
        education,
        "--days",
        "3",
        "--reason",
        "情况复杂",
        "--as",
        COORD,
    )
    assert "延期 3" in result.stdout
    result = await refused(
        1,
        "case",
        "extend",
        case_no,
        "--task",
        education,
        "--days",
        "2",
        "--reason",
        "again",
        "--as",
        COORD,
    )
    assert "already extended" in result.stderr
    assert "已经延长过一次" in result.stderr  # worded from the refusal code, English kept
    await ok("case", "extend", case_no, "--days", "5", "--reason", "整体延期", "--as", SUPER)
    await ok(
        "case",
        "reassign",
        case_no,
        fire,
        "--to-assignee",
        "officer9",
        "--reason",
        "人手调整",
        "--as",
        COORD,
    )
    result = await refused(
        2,
        "case",
        "reassign",
        case_no,
        fire,
        "--to-department",
        "nowhere",
        "--reason",
        "x",
        "--as",
        COORD,
    )
    assert "unknown department" in result.stderr
    result = await refused(1, "case", "urge", case_no, fire, "--as", CLERK)
    assert "may not do this" in result.stderr

    await ok(
        "case",
        "special-start",
        case_no,
        health,
        "--kind",
        "expert_review",
        "--reason",
        "专家评审",
        "--as",
        COORD,
    )
    stopped = await show(case_no)
    assert stopped["suspensions"][0]["id"] == "S1" and stopped["suspensions"][0]["end"] is None
    assert next(t for t in stopped["tasks"] if t["id"] == health)["stopped"] is True
    assert "(stopped)" in (await ok("cases", "show", case_no)).stdout
    result = await refused(
        2,
        "case",
        "special-start",
        case_no,
        health,
        "--kind",
        "supplement",
        "--reason",
        "x",
        "--as",
        COORD,
    )
    assert "supplement" in result.stderr
    await ok("case", "special-end", case_no, "S1", "--reason", "评审结束", "--as", COORD)
    result = await refused(
        1, "case", "special-end", case_no, "S1", "--reason", "again", "--as", COORD
    )
    assert "no running special procedure" in result.stderr

    await ok(
        "case",
        "decide",
        case_no,
        market,
        "--verdict",
        "return",
        "--missing",
        "厨房设备清单",
        "--missing",
        "卫生许可",
        "--reason",
        "材料不全",
        "--as",
        reviewer("market"),
    )
    result = await refused(
        1, "case", "supplement", case_no, market, "--item", "营业执照", "--as", CLERK
    )
    assert "not missing" in result.stderr
    result = await ok(
        "case",
        "supplement",
        case_no,
        market,
        "--item",
        "厨房设备清单",
        "--item",
        "卫生许可",
        "--as",
        CLERK,
    )
    assert "补正" in result.stdout
    await ok(
        "case",
        "decide-on-behalf",
        case_no,
        market,
        "--verdict",
        "approve",
        "--reason",
        "督办代为",
        "--as",
        SUPER,
    )
    result = await refused(
        1, "case", "report-event", case_no, "construction_completed", "--as", CLERK
    )
    assert "not waiting" in result.stderr

    final = await show(case_no)
    kinds = [e["kind"] for e in final["events"]]
    for kind in (
        "urged",
        "extended",
        "reassigned",
        "special_started",
        "special_ended",
        "returned",
        "supplemented",
        "decided_on_behalf",
    ):
        assert kind in kinds, kind
    assert {e["target"] for e in final["extensions"]} == {education, "case"}

    missing_reason = await invoke("case", "withdraw", case_no, "--as", CLERK)
    assert missing_reason.exit_code == 2 and "--reason" in missing_reason.stderr
    result = await ok(
        "case", "withdraw", case_no, "--reason", "申请人撤回申请", "--as", CLERK, "--json"
    )
    assert json.loads(result.stdout)["message"]
    outcome = await asyncio.wait_for(cli.desk.outcome(case_no), timeout=30)
    assert outcome.status is CaseStatus.WITHDRAWN
    result = await refused(1, "case", "urge", case_no, education, "--as", COORD)
    assert "closed" in result.stderr or "withdrawn" in result.stderr


async def test_list_filters_and_masks(cli: CaseDriver) -> None:
    case_no = await cli.start("kindergarten", KINDERGARTEN_FORM)
    data = await listed("--search", case_no)
    assert data["total"] == 1
    row = data["cases"][0]
    assert row["case_no"] == case_no and row["chain"] == "kindergarten"
    assert row["applicant_id_masked"] != "91370800MA3C4XYB7E" and "*" in row["applicant_id_masked"]
    assert "warning_rank" not in row

    data = await listed("--search", case_no, "--department", "education", "--status", "running")
    assert data["cases"][0]["case_no"] == case_no
    for args in (
        ("--chain", "restaurant"),
        ("--overdue",),
        ("--warning",),
        ("--status", "approved"),
    ):
        assert (await listed("--search", case_no, *args, expect=0, timeout=0))["total"] == 0

    text = (await ok("cases", "list", "--search", case_no)).stdout
    assert case_no in text and "1–1 of 1" in text
    assert "no cases" in (await ok("cases", "list", "--search", "NOTHING-MATCHES")).stdout

    page = json.loads((await ok("cases", "list", "--json", "--limit", "1", "--offset", "0")).stdout)
    assert page["limit"] == 1 and len(page["cases"]) == 1 and page["total"] >= 1

    assert (
        "unknown department" in (await refused(2, "cases", "list", "--department", "mars")).stderr
    )
    assert "unknown chain" in (await refused(2, "cases", "list", "--chain", "spaceport")).stderr
    assert (await invoke("cases", "list", "--status", "lost")).exit_code == 2
    assert (await invoke("cases", "list", "--limit", "0")).exit_code == 2


async def test_unreachable_temporal_exits_3(cli: CaseDriver) -> None:
    with environment(TEMPORAL_ADDRESS="127.0.0.1:1"):
        result = await refused(3, "cases", "show", "ANY")
    assert "unreachable" in result.stderr


def _tamper(case_no: str, **values: Any) -> None:
    """Change or (with no values) delete a case's rows in the read model behind its back."""
    from sqlalchemy import delete, update

    from readmodel.database import ready_engine, write_session
    from readmodel.tables import CaseDepartmentRecord, CaseRecord, EventRecord, TaskRecord

    engine = ready_engine(get_settings().resolved_database_url)
    with write_session(engine) as session:
        if values:
            session.exec(update(CaseRecord).where(CaseRecord.case_no == case_no).values(**values))  # type: ignore[call-overload]
            session.exec(
                delete(EventRecord).where(EventRecord.case_no == case_no, EventRecord.seq > 1)
            )  # type: ignore[call-overload]
            return
        for table in (CaseRecord, TaskRecord, EventRecord, CaseDepartmentRecord):
            session.exec(delete(table).where(table.case_no == case_no))  # type: ignore[call-overload]


def _stored(case_no: str) -> Any:
    from readmodel.database import read_session, ready_engine
    from readmodel.queries import case_events, get_case

    with read_session(ready_engine(get_settings().resolved_database_url)) as session:
        return get_case(session, case_no), len(case_events(session, case_no))


async def test_reconcile_rebuilds_the_read_model(cli: CaseDriver) -> None:
    from domain.actions import Withdraw
    from domain.projection import ProjectionBatch
    from readmodel.database import ready_engine
    from readmodel.projection import project
    from tests.harness import CLERK as CLERK_ACTOR

    changed_case = await cli.start("kindergarten", KINDERGARTEN_FORM)
    lost_case = await cli.start("kindergarten", {**KINDERGARTEN_FORM, "has_canteen": False})
    closed_case = await cli.start("kindergarten", KINDERGARTEN_FORM)
    for case_no in (changed_case, lost_case, closed_case):
        await cli.wait_for_tasks(case_no)
    await cli.decide(changed_case, "T1", "education")
    await cli.desk.act(closed_case, Withdraw(actor=CLERK_ACTOR, reason="申请人撤回"))
    await asyncio.wait_for(cli.desk.outcome(closed_case), timeout=30)
    for case_no in (changed_case, lost_case, closed_case):
        await cli.projected(case_no)  # every event written, not only the row listed
    truth, events = _stored(changed_case)
    assert truth is not None and events >= 3

    # A ghost row for a case Temporal never had; reconcile reports it and leaves it.
    ghost = truth.model_dump(exclude={"warning_rank", "due_sort"}) | {"case_no": "GHOST-1"}
    project(
        ready_engine(get_settings().resolved_database_url), ProjectionBatch(case=ghost, tasks=[])
    )
    _tamper(changed_case, stage="错误阶段", status="approved", due_on=date(2020, 1, 1))
    _tamper(lost_case)
    _tamper(closed_case)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:  # list_workflows is eventually consistent: wait until it sees all three
        result = await ok("reconcile", "--dry-run", "--json")
        report = json.loads(result.stdout)
        if {lost_case, closed_case} <= set(report["missing"]) or loop.time() > deadline:
            break
        await asyncio.sleep(0.3)
    assert {lost_case, closed_case} <= set(report["missing"])
    assert report["dry_run"] is True and report["written"] == 0
    changes = report["changed"][changed_case]
    assert any(c.startswith("stage 错误阶段 → ") for c in changes)
    assert "status approved → running" in changes
    assert any(c.startswith("due_on 2020-01-01 → ") for c in changes)
    assert report["events_added"][changed_case] == events - 1
    assert "GHOST-1" in report["only_in_read_model"]
    assert report["unreadable"] == {}
    assert _stored(lost_case)[0] is None  # a dry run writes nothing

    text = (await ok("reconcile")).stdout
    assert "missing from the read model" in text and "GHOST-1" in text and "rewritten" in text
    row, restored_events = _stored(changed_case)
    assert (row.stage, row.status, row.due_on) == (truth.stage, truth.status, truth.due_on)
    assert restored_events == events
    closed, _ = _stored(closed_case)
    assert closed is not None and closed.status == "withdrawn"  # queried after it closed
    assert _stored(lost_case)[0] is not None

    again = json.loads((await ok("reconcile", "--json")).stdout)
    mine = {changed_case, lost_case, closed_case}
    assert not mine & set(again["missing"]) and not mine & set(again["changed"])
    assert again["checked"] >= 3 and again["skipped_other_queues"] >= 0
    _tamper("GHOST-1")


async def test_reconcile_restores_licences_publications_and_notifications(
    cli: CaseDriver,
) -> None:
    """A lost read model loses no e-licence: reconcile rebuilds it from the cases, so the
    next case of the same applicant still finds the licence the system issued."""
    from sqlalchemy import text

    from activities.licences import lookup_key
    from readmodel.database import read_session, ready_engine
    from readmodel.queries import valid_licences
    from tests.harness import fresh_applicant
    from tests.test_chains_more import COMPANY_FORM

    applicant = fresh_applicant("organisation")
    case_no = await cli.start("company", COMPANY_FORM, applicant=applicant)
    outcome = await cli.run_to_end(case_no)
    issued = {lic.type for lic in outcome.licences}
    assert issued
    engine = ready_engine(get_settings().resolved_database_url)
    # Licences are issued on the office's (China's) date: from 16:00 UTC on, tomorrow's.
    office_today = cst_date(datetime.now(UTC))

    def held() -> set[str]:
        with read_session(engine) as session:
            rows = valid_licences(
                session, applicant.id_number, sorted(issued), office_today, lookup_key=lookup_key()
            )
            return {r.type for r in rows}

    def counted(table: str) -> int:
        with engine.connect() as db:
            return db.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE case_no = :c"), {"c": case_no}
            ).scalar_one()

    for _ in range(100):  # the publication follows the conclusion
        if held() == issued and counted("publications") == 1:
            break
        await asyncio.sleep(0.1)
    notifications = counted("notifications")
    with engine.begin() as db:  # the derived tables are lost
        for table in ("licences", "publications", "notifications"):
            db.execute(text(f"DELETE FROM {table} WHERE case_no = :c"), {"c": case_no})
    assert held() == set() and counted("publications") == 0

    dry = json.loads((await ok("reconcile", "--dry-run", "--json")).stdout)
    assert dry["restored"]["licences"] >= len(issued) and held() == set()
    await ok("reconcile")
    assert held() == issued
    assert counted("publications") == 1 and counted("notifications") == notifications
    again = json.loads((await ok("reconcile", "--json")).stdout)
    assert again["restored"] == {"licences": 0, "revoked": 0, "publications": 0, "notifications": 0}


async def test_reconcile_reads_a_worker_older_than_its_query(
    cli: CaseDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During a rolling upgrade a worker may not know the ``reconciliation`` Query yet:
    reconcile then asks the two Queries such a worker has, and still rebuilds."""
    from client.facade import CaseDesk, CaseError

    case_no = await cli.start("kindergarten", KINDERGARTEN_FORM)
    await cli.wait_for_tasks(case_no)
    await listed("--search", case_no)
    truth, events = _stored(case_no)
    assert truth is not None

    async def as_an_old_worker_answers(self: CaseDesk, asked: str) -> None:
        raise CaseError(
            f"case {asked}: Query handler for 'reconciliation' expected but not found, "
            "known queries: [derived_records, state]"
        )

    async def as_a_case_begun_before_the_memo(self: CaseDesk, execution: Any) -> None:
        return None  # its rows are not in its memo: reconcile asks it with a Query

    monkeypatch.setattr(CaseDesk, "listed_reconciliation", as_a_case_begun_before_the_memo)
    monkeypatch.setattr(CaseDesk, "reconciliation", as_an_old_worker_answers)
    _tamper(case_no)
    report = json.loads((await ok("reconcile", "--json")).stdout)
    assert case_no in report["missing"] and report["unreadable"] == {}
    row, restored_events = _stored(case_no)
    assert row is not None and (row.stage, row.status) == (truth.stage, truth.status)
    assert restored_events == events


async def test_reconcile_rebuilds_cases_no_worker_answers_for(
    cli: CaseDriver, dev_env: WorkflowEnvironment
) -> None:
    """A case keeps its rows in its memo, which the server lists: a case whose workers
    are all gone is still rebuilt, and is never asked with a Query."""
    from tests.harness import worker_for

    async with worker_for(dev_env.client) as orphan_queue:
        driver = CaseDriver(dev_env.client, orphan_queue)
        case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
        await driver.wait_for_tasks(case_no)
        await driver.approve_open(case_no)
        await driver.projected(case_no)
        truth, events = _stored(case_no)
    _tamper(case_no)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:  # list_workflows is eventually consistent
        report = json.loads((await ok("reconcile", "--all-queues", "--json")).stdout)
        if case_no in report["missing"] or loop.time() > deadline:
            break
        await asyncio.sleep(0.3)
    assert case_no in report["missing"] and case_no not in report["unreadable"]
    row, restored_events = _stored(case_no)
    assert row is not None and (row.stage, row.status, row.last_seq) == (
        truth.stage,
        truth.status,
        truth.last_seq,
    )
    assert restored_events == events


async def test_reconcile_reports_a_case_ended_before_any_worker_ran_it(
    cli: CaseDriver, dev_env: WorkflowEnvironment
) -> None:
    """A case terminated (stock `temporal` CLI, say) before a worker ever took it has
    nothing to read: reconcile records the ending as a change made around onechain and
    still succeeds — it used to call the case unreadable and exit 1 on every run."""
    import uuid

    never = CaseDriver(dev_env.client, f"no-worker-{uuid.uuid4().hex[:8]}")
    case_no = await never.start("kindergarten", KINDERGARTEN_FORM)
    await dev_env.client.get_workflow_handle(f"case-{case_no}").terminate("around onechain")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:  # list_workflows is eventually consistent
        report = json.loads((await ok("reconcile", "--all-queues", "--json")).stdout)
        ended = [c for c in report["outside_changes"] if c["case_no"] == case_no]
        if ended or loop.time() > deadline:
            break
        await asyncio.sleep(0.3)
    assert [c["what"] for c in ended] == ["terminated"]
    assert case_no not in report["unreadable"]


async def test_reconcile_needs_temporal(cli: CaseDriver) -> None:
    with environment(TEMPORAL_ADDRESS="127.0.0.1:1"):
        result = await refused(3, "reconcile")
    assert "unreachable" in result.stderr


async def test_intake_and_aftercare_actions(cli: CaseDriver) -> None:
    from tests.harness import fresh_applicant
    from tests.test_chains_more import COMPANY_FORM, RESTAURANT_FORM
    from tests.test_intake import without

    waiting = await cli.start(
        "restaurant",
        RESTAURANT_FORM,
        applicant=fresh_applicant(),
        materials=without("premises_proof"),
    )
    state = await cli.wait_for_tasks(waiting)
    assert state.accepted_on is None
    text = (await ok("cases", "show", waiting)).stdout
    assert "not accepted yet" in text and "Materials" in text and "one-time notice" in text
    result = await refused(
        1, "case", "supply-materials", waiting, "--item", "fire_plan", "--as", CLERK
    )
    assert "not missing: fire_plan" in result.stderr
    await ok("case", "supply-materials", waiting, "--item", "premises_proof", "--as", CLERK)
    assert (await show(waiting))["acceptance"] == "accepted"

    done = await cli.start("company", COMPANY_FORM, applicant=fresh_applicant(name="测试公司"))
    result = await refused(1, "case", "rate", done, "--score", "5", "--as", CLERK)
    assert "not concluded yet" in result.stderr
    await cli.run_to_end(done)
    assert (await invoke("case", "rate", done, "--score", "9", "--as", CLERK)).exit_code == 2
    await ok("case", "rate", done, "--score", "2", "--comment", "等候时间长", "--as", CLERK)
    assert (
        "already rated"
        in (await refused(1, "case", "rate", done, "--score", "5", "--as", CLERK)).stderr
    )
    rated = await show(done)
    assert rated["rating"]["score"] == 2
    rectification = next(t["id"] for t in rated["tasks"] if t["kind"] == "rectification")
    assert (await invoke("case", "rectify", done, rectification, "--as", COORD)).exit_code == 2
    result = await refused(
        1, "case", "rectify", done, rectification, "--reason", "x", "--as", CLERK
    )
    assert "may not do this" in result.stderr
    await ok("case", "rectify", done, rectification, "--reason", "增设自助取号机", "--as", COORD)
    assert "rating (好差评): 2/5" in (await ok("cases", "show", done)).stdout
