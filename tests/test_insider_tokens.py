"""A lifted token is worthless: what an insider reads from a case's history (or a log,
or a backup) cannot act as anyone.

The insider here holds everything a Temporal operator with the payload key has: the
case's history, decoded. They take a supervisor's token, grant and action proof from an
accepted Update and try to act with them; they try the token with a proof of their own,
without a proof, and with the legitimate holder's proof after it expired. Every try is
refused before the Update's validator and the history does not grow. And the codec
server, which decodes histories for the Web UI, never hands out the trust headers.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError

from domain.actions import Urge
from runtime.codec import SealingCodec
from runtime.codec_server import CodecServer, allow_local_insecure
from runtime.keys import keys_dir, load_payload_keys
from runtime.settings import get_settings
from tests.harness import COORDINATOR, SUPERVISOR, CaseDriver, session_signer
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_trust import _RawHeaders, history_length, open_part
from trust.action_proof import ActionBinding, SessionKey, args_digest, sign_proof
from trust.credentials import GRANT_HEADER, PROOF_HEADER, TOKEN_HEADER, acting_as
from trust.tokens import read_claims

pytestmark = pytest.mark.insider


def _text(payload: Payload) -> str:
    return json.loads(payload.data)


async def lifted_headers(client: Client, case_no: str, update: str) -> dict[str, str]:
    """The trust headers of the last accepted ``update``, as an insider decodes them."""
    history = await client.get_workflow_handle(f"case-{case_no}").fetch_history()
    codec = client.data_converter.payload_codec
    assert codec is not None
    found: dict[str, str] = {}
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        if request.input.name != update:
            continue
        fields = request.input.header.fields
        decoded = await codec.decode([fields[k] for k in (TOKEN_HEADER, GRANT_HEADER)])
        found = {TOKEN_HEADER: _text(decoded[0]), GRANT_HEADER: _text(decoded[1])}
        if PROOF_HEADER in fields:
            found[PROOF_HEADER] = _text((await codec.decode([fields[PROOF_HEADER]]))[0])
    assert found, f"no accepted {update} in the history"
    return found


def _attacker(client: Client, headers: dict[str, str]) -> Client:
    attacker = _RawHeaders()
    attacker.headers = dict(headers)
    config = client.config()
    config["interceptors"] = [attacker]
    return Client(**config)


async def settled_length(client: Client, case_no: str) -> int:
    """The history's length once the case has finished what its last action started
    (e.g. the notification an urge sends)."""
    length = await history_length(client, case_no)
    for _ in range(100):
        await asyncio.sleep(0.2)
        now = await history_length(client, case_no)
        if now == length:
            return now
        length = now
    raise AssertionError("the case never settled")


async def _refused_urge(client: Client, case_no: str, task_id: str, update_id: str) -> str:
    before = await settled_length(client, case_no)
    action = Urge(actor=SUPERVISOR, task_id=task_id, reason="冒用监督员的会话")
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await client.get_workflow_handle(f"case-{case_no}").execute_update(
            "urge", action, id=update_id
        )
    assert await history_length(client, case_no) == before, "a refusal wrote to history"
    return str(failed.value.cause)


async def test_a_token_and_proof_lifted_from_history_cannot_act(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, _ = await open_part(driver, case_no)
    await driver.desk.act(
        case_no, Urge(actor=SUPERVISOR, task_id=task_id, reason="请尽快办理", request_id="u1")
    )
    lifted = await lifted_headers(driver.client, case_no, "urge")
    assert read_claims(lifted[TOKEN_HEADER]).sub == SUPERVISOR.user_id
    # A real session token, valid for hours yet.
    assert read_claims(lifted[TOKEN_HEADER]).expires_at > datetime.now(UTC) + timedelta(hours=1)

    # 1. The whole header set, replayed for a new action: the proof names another call.
    message = await _refused_urge(
        _attacker(driver.client, lifted), case_no, task_id, uuid.uuid4().hex
    )
    assert "不属于本次操作" in message

    # 2. The token alone.
    alone = {k: v for k, v in lifted.items() if k != PROOF_HEADER}
    message = await _refused_urge(
        _attacker(driver.client, alone), case_no, task_id, uuid.uuid4().hex
    )
    assert "缺少操作证明" in message

    # 3. The token with a proof the insider signs with a key of their own.
    update_id = uuid.uuid4().hex
    action = Urge(actor=SUPERVISOR, task_id=task_id, reason="冒用监督员的会话")
    binding = ActionBinding(f"case-{case_no}", "update:urge", update_id, args_digest([action]))
    own = sign_proof(SessionKey.generate(), read_claims(lifted[TOKEN_HEADER]).jti, binding)
    message = await _refused_urge(
        _attacker(driver.client, {**alone, PROOF_HEADER: own}), case_no, task_id, update_id
    )
    assert "签名无效" in message


async def test_a_proof_is_good_for_minutes_only(driver: CaseDriver) -> None:
    """Even the session's holder cannot use a proof signed too long ago."""
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, _ = await open_part(driver, case_no)
    coordinator = session_signer().sign(COORDINATOR)
    update_id = uuid.uuid4().hex
    action = Urge(actor=COORDINATOR, task_id=task_id, reason="过期的操作证明")
    binding = ActionBinding(f"case-{case_no}", "update:urge", update_id, args_digest([action]))
    stale = sign_proof(
        coordinator.key,
        read_claims(coordinator.token).jti,
        binding,
        now=datetime.now(UTC) - timedelta(minutes=6),
    )
    headers = {
        TOKEN_HEADER: coordinator.token,
        GRANT_HEADER: coordinator.grant.label(),
        PROOF_HEADER: stale,
    }
    before = await settled_length(driver.client, case_no)
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await (
            _attacker(driver.client, headers)
            .get_workflow_handle(f"case-{case_no}")
            .execute_update("urge", action, id=update_id)
        )
    assert "已过期" in str(failed.value.cause)
    assert await history_length(driver.client, case_no) == before


async def test_a_proof_does_not_cover_other_arguments(driver: CaseDriver) -> None:
    """The proof's digest binds the arguments: a changed reason is another call."""
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, _ = await open_part(driver, case_no)
    coordinator = session_signer().sign(COORDINATOR)
    update_id = uuid.uuid4().hex
    signed = Urge(actor=COORDINATOR, task_id=task_id, reason="原话")
    binding = ActionBinding(f"case-{case_no}", "update:urge", update_id, args_digest([signed]))
    headers = {
        TOKEN_HEADER: coordinator.token,
        GRANT_HEADER: coordinator.grant.label(),
        PROOF_HEADER: coordinator.proof_for(binding),
    }
    sent = signed.model_copy(update={"reason": "被改过的话"})
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await (
            _attacker(driver.client, headers)
            .get_workflow_handle(f"case-{case_no}")
            .execute_update("urge", sent, id=update_id)
        )
    assert "不符" in str(failed.value.cause)
    # The same session, through onechain's own client, acts as usual.
    with acting_as(coordinator):
        result = await driver.desk.act(case_no, sent)
    assert result.seq > 0


def _post_decode(url: str, payloads: list[Payload]) -> list[dict[str, Any]]:
    from google.protobuf import json_format

    body = json_format.MessageToJson(Payloads(payloads=payloads)).encode()
    request = urllib.request.Request(
        f"{url}/decode", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["payloads"]


async def test_the_codec_server_never_returns_trust_headers(driver: CaseDriver) -> None:
    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, _ = await open_part(driver, case_no)
    await driver.desk.act(case_no, Urge(actor=COORDINATOR, task_id=task_id, reason="催一下"))
    history = await driver.client.get_workflow_handle(f"case-{case_no}").fetch_history()
    sealed = [
        field
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        for field in event.workflow_execution_update_accepted_event_attributes.accepted_request.input.header.fields.values()
    ]
    assert len(sealed) == 3  # token, grant, proof
    codec = SealingCodec(load_payload_keys(keys_dir(get_settings())))
    server = CodecServer(("127.0.0.1", 0), codec, allow_local_insecure, [])
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        decoded = _post_decode(server.url, sealed)
    finally:
        server.shutdown()
        server.server_close()
    import base64

    texts = [json.loads(base64.b64decode(p["data"])) for p in decoded]
    assert all("不予显示" in text for text in texts), texts
    assert not any(text.count(".") >= 2 and "eyJ" in text for text in texts)


async def test_every_decode_through_the_codec_server_is_on_the_audit_trail(
    driver: CaseDriver,
) -> None:
    """个人信息保护法: who read which case's sealed data is recorded, and exported."""
    from sqlmodel import select

    from readmodel.audit import AuditRecord
    from readmodel.database import read_session
    from tests.harness import session_signer
    from trust.codec_access import PERSONAL_DATA_READ, read_recorder

    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    history = await driver.client.get_workflow_handle(f"case-{case_no}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads
    engine = session_signer()._engine
    codec = SealingCodec(load_payload_keys(keys_dir(get_settings())))
    server = CodecServer(
        ("127.0.0.1", 0),
        codec,
        allow_local_insecure,
        [],
        record_read=read_recorder(engine),
    )
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        decoded = _post_decode(server.url, list(started))
    finally:
        server.shutdown()
        server.server_close()
    assert decoded  # the window's own view of the application
    with read_session(engine) as session:
        reads = list(
            session.exec(select(AuditRecord).where(AuditRecord.kind == PERSONAL_DATA_READ))
        )
    mine = [r for r in reads if case_no in (r.data or {}).get("cases", [])]
    assert mine and mine[-1].actor_id == "local" and case_no in mine[-1].summary


async def test_a_copied_session_file_dies_with_the_session(
    driver: CaseDriver, tmp_path: Path
) -> None:
    """A session file is the session (like a browser's cookie jar): a copy acts until
    ``logout`` ends it everywhere, and a file without its session key acts never."""
    import shutil

    from client.facade import CaseDesk
    from domain.roles import Grant
    from tests.harness import session_signer
    from trust import accounts, session_file
    from trust.credentials import Credentials
    from trust.directory import refresh_shared

    case_no = await driver.start("kindergarten", KINDERGARTEN_FORM)
    task_id, _ = await open_part(driver, case_no)
    signer = session_signer()
    token, key = signer.person_session("copy-coord", "协调赵六", ["coordinator"])
    original = tmp_path / "session.json"
    session_file.save(session_file.StoredSession(token=token, key=key.to_text()), original)
    copy = tmp_path / "stolen.json"
    shutil.copy(original, copy)

    stolen = session_file.load(copy)
    assert stolen is not None and stolen.key is not None
    credentials = Credentials(
        token=stolen.token, grant=Grant.parse("coordinator"), key=SessionKey.from_text(stolen.key)
    )
    desk = CaseDesk(driver.client, credentials=credentials, task_queue=driver.desk.task_queue)
    action = Urge(actor=COORDINATOR, task_id=task_id, reason="用复制的会话文件催办")
    assert (await desk.act(case_no, action)).seq > 0  # the copy is the session, until…

    accounts.logout(signer._engine, token)  # …its owner signs out
    refresh_shared(signer._engine)
    with pytest.raises(Exception, match="已注销"):
        await desk.act(case_no, action.model_copy(update={"request_id": None}))

    # A file with the token alone (as files were before sessions had keys) is no session.
    (tmp_path / "old.json").write_text(json.dumps({"token": token}))
    assert session_file.load(tmp_path / "old.json") is None
