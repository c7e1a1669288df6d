"""督办 items (issue 22): a finding is sent to its department, answered, escalated and
closed; the engine decides who may take each step, every step is in the audit trail
and the department is notified; an unanswered item escalates on its own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from client.facade import ActionRejected
from client.supervision_desk import SupervisionDesk
from domain.actions import Decide, RecordSupplement
from domain.case import Verdict
from domain.roles import Actor, Role
from domain.supervision_items import ItemStatus, ItemStep
from readmodel.audit import AuditRecord
from readmodel.database import read_session, ready_engine, write_session
from readmodel.supervision import FindingRecord, SupervisionItemRecord
from readmodel.tables import NotificationRecord
from runtime.settings import get_settings
from supervision.engine import run
from tests.harness import CLERK, LONG_SESSION, CaseDriver, reviewer, session_signer, worker_for
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_cli_cases import cli as cli_fixture
from tests.test_cli_cases import ok, refused
from workflows import registry

SUPERVISOR = Actor(user_id="sup-items", name="督办员", role=Role.SUPERVISOR)
COORDINATOR = Actor(user_id="coord-items", name="协调员", role=Role.COORDINATOR)


def _departments() -> tuple[str, str]:
    """Two departments of the registered chains (whichever they are)."""
    codes = sorted({d for chain in registry.all_chains() for d in chain.departments})
    assert len(codes) >= 2
    return codes[0], codes[1]


def _finding(department: str | None, case_no: str | None = "SUP-ITEM-1") -> int:
    """A finding as `supervise run` stores it."""
    with write_session(ready_engine(get_settings().resolved_database_url)) as session:
        row = FindingRecord(
            key=f"test:{datetime.now(UTC).timestamp()}:{department}",
            rule="repeated_correction",
            case_no=case_no,
            department=department,
            severity="medium",
            sentence=f"案件 {case_no} 已 2 次要求申请人补正材料（上限 1 次），未做到一次告知。",
            evidence={"events": [1, 2], "audit": []},
            found_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def _item(finding_id: int) -> SupervisionItemRecord:
    with read_session(ready_engine(get_settings().resolved_database_url)) as session:
        item = session.get(SupervisionItemRecord, finding_id)
        assert item is not None
        return item


def _audited(finding_id: int) -> list[AuditRecord]:
    with read_session(ready_engine(get_settings().resolved_database_url)) as session:
        rows = session.exec(
            select(AuditRecord)
            .where(AuditRecord.kind == "supervision_item")
            .order_by(col(AuditRecord.id))
        ).all()
    return [r for r in rows if r.data.get("finding_id") == finding_id]


@pytest.fixture
async def desks(dev_env: WorkflowEnvironment) -> AsyncIterator[dict[str, SupervisionDesk]]:
    home, other = _departments()
    signer = session_signer()
    people = {
        "supervisor": SUPERVISOR,
        "coordinator": COORDINATOR,
        "home": reviewer(home),
        "other": reviewer(other),
        "admin": Actor(user_id="admin-items", name="管理员", role=Role.ADMINISTRATOR),
    }
    async with worker_for(dev_env.client) as task_queue:
        yield {
            who: SupervisionDesk(dev_env.client, signer(actor), task_queue=task_queue)
            for who, actor in people.items()
        }


async def test_an_item_lives_from_send_to_close_with_roles_enforced_by_the_engine(
    desks: dict[str, SupervisionDesk],
) -> None:
    home, _ = _departments()
    finding_id = _finding(home)

    with pytest.raises(ActionRejected, match="督办人员"):
        await desks["home"].send(finding_id, "自己交办自己")
    sent = await desks["supervisor"].send(finding_id, "请于期限内说明原因并整改")
    assert sent.status is ItemStatus.SENT and sent.respond_by is not None
    assert sent.actor.user_id == SUPERVISOR.user_id
    with pytest.raises(ActionRejected, match="已交办"):
        await desks["supervisor"].send(finding_id, "再交办一次")

    with pytest.raises(ActionRejected, match="被督办部门"):
        await desks["other"].respond(finding_id, "不是我们部门")
    with pytest.raises(ActionRejected, match="督办人员"):
        await desks["coordinator"].close(finding_id, "协调员想办结")
    answered = await desks["home"].respond(finding_id, "经办人已培训，改为一次性告知清单")
    assert answered.status is ItemStatus.RESPONDED
    escalated = await desks["supervisor"].escalate(finding_id, "答复未说明整改时限")
    assert escalated.status is ItemStatus.ESCALATED
    await desks["home"].respond(finding_id, "本周五前完成整改")
    closed = await desks["supervisor"].close(finding_id, "整改到位")
    assert closed.status is ItemStatus.CLOSED and closed.no == 5

    item = _item(finding_id)
    assert (item.status, item.steps, item.department) == ("closed", 5, home)
    assert item.response == "本周五前完成整改" and item.closed_at is not None
    trail = _audited(finding_id)
    assert [r.data["step"] for r in trail] == ["send", "respond", "escalate", "respond", "close"]
    assert trail[0].actor_id == SUPERVISOR.user_id
    assert all(r.case_no == "SUP-ITEM-1" and r.reason for r in trail)
    with read_session(ready_engine(get_settings().resolved_database_url)) as session:
        notices = session.exec(
            select(NotificationRecord).where(NotificationRecord.kind == f"supervision:{finding_id}")
        ).all()
    assert notices[0].recipients == [home]  # the department is told first
    assert ["supervisor"] in [n.recipients for n in notices]

    with pytest.raises(ActionRejected, match="已办结"):
        await desks["supervisor"].send(finding_id, "办结后再开")  # never opened twice
    state = await desks["supervisor"].state(finding_id)
    assert state is not None and [s.step for s in state.steps][-1] is ItemStep.CLOSE


async def test_a_finding_with_no_department_is_answered_by_an_administrator(
    desks: dict[str, SupervisionDesk],
) -> None:
    finding_id = _finding(None, case_no=None)
    await desks["supervisor"].send(finding_id, "请说明这次绕过系统的变更")
    with pytest.raises(ActionRejected, match="被督办部门"):
        await desks["home"].respond(finding_id, "与我们无关")
    await desks["admin"].respond(finding_id, "运维人员误操作，已恢复")
    assert _item(finding_id).status == "responded"


async def test_sending_a_finding_that_does_not_exist_is_refused(
    desks: dict[str, SupervisionDesk],
) -> None:
    with pytest.raises(ActionRejected, match="没有编号为 987654"):
        await desks["supervisor"].send(987654, "不存在的发现")
    assert await desks["supervisor"].state(987654) is None


async def test_an_item_left_unanswered_is_escalated_by_the_engine(
    skipping_env: WorkflowEnvironment,
) -> None:
    home, _ = _departments()
    finding_id = _finding(home, case_no="SUP-ITEM-LATE")
    signer = session_signer(LONG_SESSION)
    async with worker_for(skipping_env.client) as task_queue:
        desk = SupervisionDesk(
            skipping_env.client,
            signer(SUPERVISOR),
            task_queue=task_queue,
            proof_clock=skipping_env.get_current_time,
        )
        sent = await desk.send(finding_id, "请三日内反馈", respond_days=3)
        assert sent.respond_by is not None
        now = await skipping_env.get_current_time()
        await skipping_env.sleep(sent.respond_by - now - timedelta(minutes=1))
        await asyncio.sleep(0.3)
        assert _item(finding_id).status == "sent"  # not yet: the due day has not ended
        await skipping_env.sleep(timedelta(minutes=2))
        for _ in range(50):
            if _item(finding_id).status == "escalated":
                break
            await asyncio.sleep(0.1)
        item = _item(finding_id)
        assert item.status == "escalated" and item.escalated_at is not None
        last = _audited(finding_id)[-1]
        assert last.data["step"] == "overdue" and last.actor_role == "system"


# ---------------------------------------------------------------- as people run it
cli = cli_fixture  # the CLI pointed at a worker of its own (tests/test_cli_cases.py)


async def test_from_a_real_finding_to_a_closed_item_on_the_command_line(cli: CaseDriver) -> None:
    """Two requests for corrections on one case → `supervise run` finds it → a supervisor
    sends it → the department sees it in its inbox and answers → the supervisor closes
    it; each step is in the case's timeline (`cases show`)."""
    case_no = await cli.start("kindergarten", KINDERGARTEN_FORM)
    state = await cli.wait_for_tasks(case_no)
    task = next(t for t in state.open_tasks if t.parts)
    department = task.parts[0].department
    for _ in range(2):
        await cli.desk.act(
            case_no,
            Decide(
                actor=reviewer(department),
                task_id=task.id,
                verdict=Verdict.RETURN,
                reason="材料不全",
                missing_items=["补充说明"],
            ),
        )
        if _ == 0:
            await cli.desk.act(
                case_no, RecordSupplement(actor=CLERK, task_id=task.id, items=["补充说明"])
            )
    await cli.projected(case_no)
    supervisor = "sup-cli:supervisor::督办员"
    await ok("supervise", "run", "--as", supervisor)
    listed = json.loads((await ok("supervise", "list", "--json", "--rule", "repeated_correction",
                                  "--as", supervisor)).stdout)  # fmt: skip
    (finding,) = [f for f in listed if f["case_no"] == case_no]
    number = str(finding["id"])

    sent = await ok("supervise", "send", number, "--reason", "请说明两次补正的原因", "--as",
                    supervisor)  # fmt: skip
    assert "已交办" in sent.stdout and "前反馈" in sent.stdout
    answerer = f"rev-cli:reviewer:{department}:审查员"
    inbox = json.loads((await ok("supervise", "inbox", "--json", "--as", answerer)).stdout)
    assert [i["finding"] for i in inbox if i["case_no"] == case_no] == [finding["id"]]
    no = await refused(1, "supervise", "close", number, "--reason", "审查员想办结", "--as",
                       answerer)  # fmt: skip
    assert "督办人员" in no.stderr
    await ok("supervise", "respond", number, "--reason", "已改为一次性告知", "--as", answerer)
    await ok("supervise", "close", number, "--reason", "整改到位", "--as", supervisor)
    shown = json.loads((await ok("supervise", "show", number, "--json", "--as", supervisor)).stdout)
    assert shown["status"] == "closed"
    assert [s["step"] for s in shown["steps"]] == ["send", "respond", "close"]
    assert len(shown["evidence_rows"]) == 2  # the two requests, by their audit rows

    timeline = json.loads((await ok("cases", "show", case_no, "--json", "--as", supervisor)).stdout)
    assert [s["step"] for s in timeline["supervision"]] == ["send", "respond", "close"]
    missing = await refused(2, "supervise", "send", "999999", "--reason", "x", "--as", supervisor)
    assert "no finding 999999" in missing.stderr


async def test_a_running_worker_finds_what_is_new_on_its_own(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No `supervise run`: the worker's rounds pick up a new audit row, once."""
    from trust.audit_log import record_account_event

    monkeypatch.setenv("ONECHAIN_SUPERVISE_SECONDS", "0.2")
    get_settings.cache_clear()
    engine = ready_engine(get_settings().resolved_database_url)
    marker = f"终止了案件 {datetime.now(UTC).timestamp()}"

    def findings() -> list[FindingRecord]:
        with read_session(engine) as session:
            rows = session.exec(select(FindingRecord).where(FindingRecord.rule == "outside_change"))
            return [f for f in rows.all() if marker in f.sentence]

    run(engine)  # what earlier tests left on the trail: evaluated now, not in the rounds
    async with worker_for(dev_env.client):
        record_account_event(engine, "outside_change", "temporal-admin", marker, {})
        for _ in range(300):
            if findings():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # more rounds: still one
    assert len(findings()) == 1
    get_settings.cache_clear()


# ---------------------------------------------------------------- around the door
@pytest.mark.insider
async def test_an_item_terminated_or_edited_around_onechain_is_put_on_the_record(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An insider terminates one item's workflow with the stock tooling (no sign-in) so it
    never escalates, and marks another closed straight in the database: the worker's
    rounds record both as outside changes, which become findings."""
    from sqlalchemy import text
    from temporalio.client import Client

    from domain.supervision_items import supervision_workflow_id

    monkeypatch.setenv("ONECHAIN_SUPERVISE_SECONDS", "0.3")
    get_settings.cache_clear()
    home, _ = _departments()
    engine = ready_engine(get_settings().resolved_database_url)
    killed, edited = _finding(home, "SUP-INSIDER-1"), _finding(home, "SUP-INSIDER-2")

    def outside_rows(finding_id: int) -> list[AuditRecord]:
        with read_session(engine) as session:
            rows = session.exec(select(AuditRecord).where(AuditRecord.kind == "outside_change"))
            return [r for r in rows.all() if (r.data or {}).get("finding_id") == finding_id]

    run(engine)  # what earlier tests left on the trail: evaluated now, not in the rounds
    async with worker_for(dev_env.client) as task_queue:
        desk = SupervisionDesk(dev_env.client, session_signer()(SUPERVISOR), task_queue=task_queue)
        await desk.send(killed, "请说明")
        await desk.send(edited, "请说明")
        insider = await Client.connect(dev_env.client.service_client.config.target_host)
        await insider.get_workflow_handle(supervision_workflow_id(killed)).terminate("不想被升级")
        with write_session(engine) as session:
            session.exec(  # type: ignore[call-overload]
                text("UPDATE supervision_items SET status = 'closed' WHERE finding_id = :id"),
                params={"id": edited},
            )
        for _ in range(300):
            if outside_rows(killed) and outside_rows(edited):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # more rounds: recorded once
    get_settings.cache_clear()
    (terminated,) = outside_rows(killed)
    (row_edited,) = outside_rows(edited)
    assert "terminated" in terminated.summary and "审计链" in row_edited.summary
    with read_session(engine) as session:
        findings = session.exec(
            select(FindingRecord).where(FindingRecord.rule == "outside_change")
        ).all()
    found = {a for f in findings for a in f.evidence.get("audit", [])}
    assert terminated.id in found and row_edited.id in found


@pytest.mark.insider
async def test_a_finding_deleted_in_the_database_is_put_on_the_record(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every finding is sealed on the audit trail when stored; deleting its row to hide a
    department's record leaves the seal without its row, which the worker's rounds record."""
    from sqlalchemy import text

    from trust.audit_log import record_account_event

    monkeypatch.setenv("ONECHAIN_SUPERVISE_SECONDS", "0.3")
    get_settings.cache_clear()
    engine = ready_engine(get_settings().resolved_database_url)
    marker = f"被掩盖的变更 {datetime.now(UTC).timestamp()}"

    def finding() -> FindingRecord | None:
        with read_session(engine) as session:
            rows = session.exec(select(FindingRecord).where(FindingRecord.rule == "outside_change"))
            return next((f for f in rows.all() if marker in f.sentence), None)

    def recorded(key: str) -> list[AuditRecord]:
        with read_session(engine) as session:
            rows = session.exec(select(AuditRecord).where(AuditRecord.kind == "outside_change"))
            return [r for r in rows.all() if key in r.summary]

    run(engine)  # what earlier tests left on the trail: evaluated now, not in the rounds
    async with worker_for(dev_env.client):
        record_account_event(engine, "outside_change", "temporal-admin", marker, {})
        for _ in range(300):
            if (held := finding()) is not None:
                break
            await asyncio.sleep(0.1)
        assert held is not None
        with write_session(engine) as session:
            session.exec(  # type: ignore[call-overload]
                text("DELETE FROM supervision_findings WHERE id = :id"), params={"id": held.id}
            )
        for _ in range(300):
            if recorded(held.key):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # more rounds: recorded once
    get_settings.cache_clear()
    (deleted,) = recorded(held.key)
    assert "已被删除" in deleted.summary and deleted.actor_id == "database:unknown"
