"""Proven identity, tried as an attacker would: a bare ``temporalio`` client that sets
whatever headers and payloads it likes. Every forged, replayed, expired, foreign-key,
missing or disabled credential is refused by the worker before the Update's
validator, and the case's history does not change.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.converter import default

from domain.actions import CalendarReload, Decide, PinnedLimits, StartCase, Urge
from domain.case import Verdict
from domain.roles import Actor, Grant, Role
from readmodel import accounts as store
from readmodel.database import read_session, write_session
from tests.harness import (
    CLERK,
    COORDINATOR,
    DEFAULT_APPLICANT,
    CaseDriver,
    reviewer,
    session_signer,
)
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from trust.action_proof import SessionKey
from trust.client_interceptor import CredentialsInterceptor
from trust.credentials import GRANT_HEADER, TOKEN_HEADER, Credentials, acting_as
from trust.directory import refresh_shared
from trust.tokens import issue_token, read_claims

#: A session key's public half for sign-ins whose sessions are not used to act.
KEY = SessionKey.generate().public_text


def _payload(text: str) -> Payload:
    payload = default().payload_converter.to_payload(text)
    assert payload is not None
    return payload


class _RawHeaders(Interceptor):
    """What an attacker's own client does: put any headers on any call."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        outer = self

        class _Out(OutboundInterceptor):
            def _set(self, headers: Mapping[str, Payload]) -> dict[str, Payload]:
                return {**headers, **{k: _payload(v) for k, v in outer.headers.items()}}

            async def start_workflow(self, input: StartWorkflowInput) -> Any:
                input.headers = self._set(input.headers)
                return await super().start_workflow(input)

            async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
                input.headers = self._set(input.headers)
                return await super().start_workflow_update(input)

            async def signal_workflow(self, input: SignalWorkflowInput) -> None:
                input.headers = self._set(input.headers)
                await super().signal_workflow(input)

        return _Out(next)


def raw_client(client: Client) -> tuple[Client, _RawHeaders]:
    attacker = _RawHeaders()
    config = client.config()
    config["interceptors"] = [attacker]
    return Client(**config), attacker


def proving_client(client: Client) -> Client:
    """A client that signs each call's proof, as onechain's own clients do: for tests
    whose credentials are real but whose person or role is not allowed."""
    config = client.config()
    config["interceptors"] = [CredentialsInterceptor()]
    return Client(**config)


async def history_length(client: Client, case_no: str) -> int:
    history = await client.get_workflow_handle(f"case-{case_no}").fetch_history()
    return len(history.events)


async def open_part(driver: CaseDriver, case_no: str) -> tuple[str, str]:
    state = await driver.wait_for_tasks(case_no)
    task = state.open_tasks[0]
    return task.id, next(p.department for p in task.parts if p.verdict is None)


def _decide(actor: Actor, task_id: str) -> Decide:
    return Decide(actor=actor, task_id=task_id, verdict=Verdict.APPROVE)


async def _refused(
    client: Client, case_no: str, action: Decide | Urge, update: str = "decide"
) -> str:
    before = await history_length(client, case_no)
    handle = client.get_workflow_handle(f"case-{case_no}")
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(update, action, id=uuid.uuid4().hex)
    assert await history_length(client, case_no) == before, "a refusal wrote to history"
    return str(failed.value.cause)


async def test_forged_actor_without_token_is_refused(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await open_part(driver, case_no)
    client, _ = raw_client(driver.client)
    message = await _refused(client, case_no, _decide(reviewer(department), task_id))
    assert "未登录" in message


async def test_token_from_another_key_expired_or_garbage_is_refused(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await open_part(driver, case_no)
    actor = reviewer(department)
    session_signer().register(actor)
    signer_keys = session_signer()._keys
    client, attacker = raw_client(driver.client)
    attacker.headers[GRANT_HEADER] = f"reviewer:{department}"

    foreign, _ = issue_token(
        Ed25519PrivateKey.generate(),
        signer_keys.active_kid,  # the right key id, the wrong key
        user_id=actor.user_id,
        name=actor.name,
        grants=[f"reviewer:{department}"],
        kind="person",
        lifetime=timedelta(hours=1),
    )
    attacker.headers[TOKEN_HEADER] = foreign
    assert "签名无效" in await _refused(client, case_no, _decide(actor, task_id))

    assert signer_keys.private_key is not None
    expired, _ = issue_token(
        signer_keys.private_key,
        signer_keys.active_kid,
        user_id=actor.user_id,
        name=actor.name,
        grants=[f"reviewer:{department}"],
        kind="person",
        lifetime=timedelta(hours=1),
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    attacker.headers[TOKEN_HEADER] = expired
    assert "已过期" in await _refused(client, case_no, _decide(actor, task_id))

    attacker.headers[TOKEN_HEADER] = "not.a.token"
    assert "格式错误" in await _refused(client, case_no, _decide(actor, task_id))


async def test_ended_session_and_disabled_user_are_refused(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await open_part(driver, case_no)
    actor = Actor(
        user_id=f"u-{uuid.uuid4().hex[:6]}",
        name="临时审查员",
        role=Role.REVIEWER,
        department=department,
    )
    credentials = session_signer().sign(actor)
    client = proving_client(driver.client)
    engine = session_signer()._engine

    with write_session(engine) as session:  # the person is disabled by an administrator
        store.update_user(session, actor.user_id, "admin", enabled=False)
    refresh_shared(engine)
    with acting_as(credentials):
        assert "已停用" in await _refused(client, case_no, _decide(actor, task_id))

    with write_session(engine) as session:  # enabled again, but the session was ended
        store.update_user(session, actor.user_id, "admin", enabled=True)
        assert store.revoke_session(session, read_claims(credentials.token).jti)
    refresh_shared(engine)
    with acting_as(credentials):
        assert "已注销" in await _refused(client, case_no, _decide(actor, task_id))


async def test_grant_not_held_and_forged_payload_actor(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await open_part(driver, case_no)
    clerk = session_signer().sign(CLERK)
    client = proving_client(driver.client)
    # A window clerk's real session, claiming to act as a reviewer of the department.
    as_reviewer = Credentials(
        token=clerk.token, grant=Grant.parse(f"reviewer:{department}"), key=clerk.key
    )
    with acting_as(as_reviewer):
        message = await _refused(client, case_no, _decide(reviewer(department), task_id))
    assert "没有角色" in message

    # A coordinator's real session with a payload naming a supervisor: the case records
    # the coordinator, because the actor comes from the verified token.
    coordinator = session_signer().sign(COORDINATOR)
    forged = Actor(user_id="mallory", name="城管王科长", role=Role.SUPERVISOR)
    handle = client.get_workflow_handle(f"case-{case_no}")
    with acting_as(coordinator):
        await handle.execute_update(
            "urge", Urge(actor=forged, task_id=task_id, reason="请加快"), id=uuid.uuid4().hex
        )
    state = await driver.state(case_no)
    urged = [e for e in state.events if e.kind == "urged"]
    assert urged and urged[-1].actor.user_id == COORDINATOR.user_id
    assert all(e.actor.user_id != "mallory" for e in state.events)


async def test_raw_start_refuses_a_reviewer_and_ignores_client_limits(
    driver: CaseDriver,
) -> None:
    client = proving_client(driver.client)
    start = StartCase(
        case_no=f"RAW{uuid.uuid4().hex[:8].upper()}",
        chain="kindergarten",
        applicant=DEFAULT_APPLICANT,
        form=KINDERGARTEN_FORM,
        materials=CaseDriver.all_materials("kindergarten"),
        received_at=datetime.now(UTC),
        limits=PinnedLimits(
            chain_name="伪造", promised_days=999, statutory_days=999, department_count=1
        ),
        chain_version=1,
        accepted_by=CLERK,
    )
    task_queue = driver.desk.task_queue
    fire = session_signer().sign(reviewer("fire"))
    with acting_as(fire):
        handle = await client.start_workflow(
            "CaseWorkflow", start, id=f"case-{start.case_no}", task_queue=task_queue
        )
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=20)
    assert "受理被拒" in str(failed.value.cause)

    clerk = session_signer().sign(CLERK)
    accepted = start.model_copy(update={"case_no": start.case_no + "B"})
    with acting_as(clerk):
        await client.start_workflow(
            "CaseWorkflow", accepted, id=f"case-{accepted.case_no}", task_queue=task_queue
        )
    state = await driver.state(accepted.case_no)
    assert state.promised.limit_days == 20 and state.chain_name != "伪造"
    assert state.events[0].actor.user_id == CLERK.user_id


async def test_calendar_reload_signal_needs_an_administrator(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    before = await driver.state(case_no)
    client = proving_client(driver.client)
    clerk = session_signer().sign(CLERK)
    handle = client.get_workflow_handle(f"case-{case_no}")
    from domain.calendar import CalendarData, YearSchedule

    december = YearSchedule(
        year=before.accepted_on.year,
        official=True,
        holidays=[before.accepted_on.replace(month=12, day=d) for d in range(1, 32)],
        source="forged",
    )
    with acting_as(clerk):
        await handle.signal(
            "reload_calendar",
            CalendarReload(calendar=CalendarData(years={december.year: december})),
        )
    await asyncio.sleep(1.0)
    after = await driver.state(case_no)
    assert after.promised.due_on == before.promised.due_on
    assert [t.clock.due_on for t in after.open_tasks if t.clock] == [
        t.clock.due_on for t in before.open_tasks if t.clock
    ]


async def test_disabled_user_cannot_log_in(driver: CaseDriver) -> None:
    from trust import accounts

    engine = session_signer()._engine
    user_id = f"p-{uuid.uuid4().hex[:6]}"
    password = accounts.add_user(
        engine, user_id=user_id, name="新同事", grants=["coordinator"], by="test"
    )
    keys = session_signer()._keys
    with pytest.raises(accounts.AccountError, match="新密码"):
        accounts.login(
            engine,
            keys,
            user_id=user_id,
            password=password,
            lifetime=timedelta(hours=1),
            session_key=KEY,
        )
    session = accounts.login(
        engine,
        keys,
        user_id=user_id,
        password=password,
        lifetime=timedelta(hours=1),
        session_key=KEY,
        new_password="a-much-longer-secret",
    )
    assert session.claims.grants == ["coordinator"]
    with pytest.raises(accounts.AccountError, match="用户名或密码错误"):
        accounts.login(
            engine,
            keys,
            user_id=user_id,
            password=password,
            lifetime=timedelta(hours=1),
            session_key=KEY,
        )
    accounts.update(engine, user_id, by="admin", enabled=False)
    with pytest.raises(accounts.AccountError, match="已停用"):
        accounts.login(
            engine,
            keys,
            user_id=user_id,
            password="a-much-longer-secret",
            lifetime=timedelta(hours=1),
            session_key=KEY,
        )
    with read_session(engine) as session:
        assert store.get_user(session, user_id).password_hash.startswith("$argon2id$")


async def test_actions_and_refusals_of_signed_in_people_are_audited(driver: CaseDriver) -> None:
    from sqlmodel import select

    from readmodel.audit import AuditRecord, verify_chain

    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await open_part(driver, case_no)
    await driver.decide(case_no, task_id, department)
    with pytest.raises(Exception, match="may not"):  # a coordinator deciding: the rules refuse
        await driver.desk.act(case_no, _decide(COORDINATOR, task_id))
    engine = session_signer()._engine

    def audited() -> list[AuditRecord]:
        with read_session(engine) as session:
            return list(session.exec(select(AuditRecord).where(AuditRecord.case_no == case_no)))

    rows: list[AuditRecord] = []
    for _ in range(300):  # up to 15 s on a loaded machine
        rows = audited()
        if any(r.kind == "refused" for r in rows) and any(r.kind == "decided" for r in rows):
            break
        await asyncio.sleep(0.05)
    refused = [r for r in rows if r.kind == "refused"]
    assert refused and refused[0].actor_id == COORDINATOR.user_id
    assert "may not" in refused[0].summary
    decided = [r for r in rows if r.kind == "decided"]
    assert decided[0].actor_id == reviewer(department).user_id
    assert rows[0].kind == "received" and rows[0].actor_id == CLERK.user_id
    with read_session(engine) as session:
        assert verify_chain(session).problems == []
