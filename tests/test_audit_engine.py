"""The audit trail with a real worker on a real dev server: the worker anchors the
chain's head outside the database within its interval, and Updates refused for want
of a valid identity are recorded as bounded ``security`` rows (a flood leaves a
bounded number of rows, then "and K more")."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import func, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.projection import read_model_engine
from readmodel.audit import AuditRecord, verify_chain
from readmodel.audit_anchors import compare, read_anchors
from readmodel.database import read_session
from runtime.settings import get_settings
from tests.harness import CaseDriver, reviewer, session_signer, worker_for
from tests.test_chains_end_to_end import KINDERGARTEN_FORM
from tests.test_trust import _decide, open_part, raw_client
from trust.credentials import GRANT_HEADER, TOKEN_HEADER
from trust.tokens import issue_token

PER_WINDOW = 5


@pytest.fixture
async def tight(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CaseDriver]:
    """A worker that anchors every second into a file of this test's own, and keeps at
    most ``PER_WINDOW`` detailed security rows per reason per 3 s window."""
    monkeypatch.setenv("ONECHAIN_AUDIT_ANCHORS", str(tmp_path / "anchors.jsonl"))
    monkeypatch.setenv("ONECHAIN_AUDIT_ANCHOR_SECONDS", "1")
    monkeypatch.setenv("ONECHAIN_AUDIT_SECURITY_PER_WINDOW", str(PER_WINDOW))
    monkeypatch.setenv("ONECHAIN_AUDIT_SECURITY_WINDOW_SECONDS", "3")
    get_settings.cache_clear()
    try:
        async with worker_for(dev_env.client) as task_queue:
            yield CaseDriver(dev_env.client, task_queue)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def _rows(case_no: str, kind: str) -> list[AuditRecord]:
    with read_session(read_model_engine()) as session:
        return list(
            session.exec(
                select(AuditRecord)
                .where(AuditRecord.case_no == case_no, AuditRecord.kind == kind)
                .order_by(AuditRecord.id)  # type: ignore[arg-type]
            )
        )


async def _eventually(check, seconds: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_a_running_worker_anchors_the_head_within_its_interval(tight: CaseDriver) -> None:
    path = get_settings().audit_anchors_file
    case_no = await tight.start("kindergarten", KINDERGARTEN_FORM)
    received = await _eventually(lambda: _rows(case_no, "received"))
    assert received, "the case event never reached the audit trail"
    row_id = received[0].id or 0

    def anchored() -> bool:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return any(json.loads(line)["last_id"] >= row_id for line in lines)

    started = asyncio.get_running_loop().time()
    assert await _eventually(anchored, 5.0), "no anchor of the new head within the interval"
    assert asyncio.get_running_loop().time() - started < 3.5
    assert path.stat().st_mode & 0o777 == 0o600

    report = read_anchors(path, _keys())
    assert report.problems == [] and report.anchors
    with read_session(read_model_engine()) as session:
        chain = verify_chain(session, _keys(), {a.last_id for a in report.anchors})
    assert [p for p in compare(chain, report) if p.kind == "cut"] == []


def _keys():  # type: ignore[no-untyped-def]
    from readmodel.audit import current_keys

    return current_keys()


async def test_refusals_without_a_valid_identity_are_security_rows(tight: CaseDriver) -> None:
    case_no = await tight.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await open_part(tight, case_no)
    actor = reviewer(department)
    signer_keys = session_signer()._keys
    assert signer_keys.private_key is not None
    client, attacker = raw_client(tight.client)
    handle = client.get_workflow_handle(f"case-{case_no}")
    tokens = {
        "no_token": None,
        "bad_signature": issue_token(
            Ed25519PrivateKey.generate(),
            signer_keys.active_kid,
            user_id=actor.user_id,
            name=actor.name,
            grants=[f"reviewer:{department}"],
            kind="person",
            lifetime=timedelta(hours=1),
        )[0],
        "expired": issue_token(
            signer_keys.private_key,
            signer_keys.active_kid,
            user_id=actor.user_id,
            name=actor.name,
            grants=[f"reviewer:{department}"],
            kind="person",
            lifetime=timedelta(hours=1),
            now=datetime.now(UTC) - timedelta(hours=2),
        )[0],
        "garbage": "not.a.token",
    }
    for token in tokens.values():
        attacker.headers = {GRANT_HEADER: f"reviewer:{department}"}
        if token:
            attacker.headers[TOKEN_HEADER] = token
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update("decide", _decide(actor, task_id), id=uuid.uuid4().hex)

    rows = await _eventually(
        lambda: len(_rows(case_no, "security")) >= 4 and _rows(case_no, "security")
    )
    assert rows, "refused attempts left no security rows"
    by_reason = {r.data["reason"]: r for r in rows}
    assert set(by_reason) == set(tokens)
    for reason in ("bad_signature", "expired"):
        assert by_reason[reason].data["claimed_subject"] == actor.user_id
    assert by_reason["no_token"].data["claimed_subject"] == ""
    for row in rows:
        assert row.actor_id == "unauthenticated" and row.data["update"] == "decide"
        stored = json.dumps(row.model_dump(mode="json"), ensure_ascii=False)
        assert not any(t and t in stored for t in tokens.values()), "a token was stored"


async def test_a_flood_of_unauthenticated_updates_leaves_bounded_rows(tight: CaseDriver) -> None:
    flood = 500
    case_no = await tight.start("kindergarten", KINDERGARTEN_FORM)
    task_id, department = await open_part(tight, case_no)
    client, _ = raw_client(tight.client)  # no headers at all
    handle = client.get_workflow_handle(f"case-{case_no}")
    gate = asyncio.Semaphore(50)

    async def attempt() -> bool:
        async with gate:
            try:
                await handle.execute_update(
                    "decide", _decide(reviewer(department), task_id), id=uuid.uuid4().hex
                )
            except WorkflowUpdateFailedError:
                return True
            return False

    with read_session(read_model_engine()) as session:
        before = session.exec(select(func.max(AuditRecord.id))).one() or 0
    loop = asyncio.get_running_loop()
    began = loop.time()
    refused = await asyncio.gather(*(attempt() for _ in range(flood)))
    elapsed = loop.time() - began
    assert all(refused)

    def summed() -> int:
        with read_session(read_model_engine()) as session:
            summaries = session.exec(
                select(AuditRecord).where(
                    AuditRecord.kind == "security",
                    AuditRecord.case_no.is_(None),  # type: ignore[union-attr]
                    AuditRecord.id > before,  # type: ignore[operator]
                )
            ).all()
        detailed = len(_rows(case_no, "security"))
        return detailed + sum(int(r.data.get("more", 0)) for r in summaries)

    # Every attempt is accounted for: detailed rows plus the "and K more" summaries.
    assert await _eventually(lambda: summed() >= flood, 20.0), summed()
    with read_session(read_model_engine()) as session:
        summary = session.exec(
            select(AuditRecord).where(
                AuditRecord.kind == "security",
                AuditRecord.case_no.is_(None),  # type: ignore[union-attr]
                AuditRecord.id > before,  # type: ignore[operator]
            )
        ).first()
    assert summary is not None and summary.data["cases"] == [case_no]
    assert summary.data["reason"] == "no_token" and "and " in summary.summary
    detailed = _rows(case_no, "security")
    with read_session(read_model_engine()) as session:
        written = session.exec(
            select(func.count()).where(AuditRecord.id > before)  # type: ignore[operator]
        ).one()
    # Each 3 s window the flood spans keeps at most PER_WINDOW rows and one summary.
    windows = int(elapsed // 3) + 2
    assert len(detailed) <= PER_WINDOW * windows, (len(detailed), elapsed)
    assert written <= (PER_WINDOW + 1) * windows + 10, (written, elapsed)  # + the case's own rows
