"""Bad input for actions (issue 8): limits and plain text on the action models, and
hostile payloads sent with a valid signed token through a raw temporalio client,
not the facade: every one refused with a message, no workflow task fails, and not
one event is added to the case's history.

``max_examples`` is bounded so this runs in seconds.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from client.facade import refusal_text
from domain.action_catalog import ACTIONS, ActionSpec, spec_for_command
from domain.actions import (
    COMMENT_MAX_CHARS,
    ITEM_MAX_CHARS,
    ITEMS_MAX,
    REASON_MAX_CHARS,
    Decide,
    Rate,
    RecordSupplement,
    Urge,
)
from domain.case import CaseState, Verdict
from tests.harness import COORDINATOR, CaseDriver, session_signer
from tests.test_role_matrix import quiet_history_length, review_case
from trust.credentials import acting_as

CONTROL = [chr(c) for c in (*range(0x00, 0x20), 0x7F, 0x85, 0x9B, 0x202E, 0x2028)]


# ------------------------------------------------------------------- the models
def field_errors(error: ValidationError) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in error.errors()]


def test_reason_and_comment_limits_name_the_field() -> None:
    Urge(actor=COORDINATOR, task_id="T1", reason="x" * REASON_MAX_CHARS)
    with pytest.raises(ValidationError) as refused:
        Urge(actor=COORDINATOR, task_id="T1", reason="x" * (REASON_MAX_CHARS + 1))
    assert field_errors(refused.value) == ["reason"]
    assert "500" in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        Rate(actor=COORDINATOR, score=3, comment="好" * (COMMENT_MAX_CHARS + 1))
    assert field_errors(refused.value) == ["comment"]


@pytest.mark.parametrize("char", CONTROL)
def test_control_characters_are_refused_in_free_text(char: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Urge(actor=COORDINATOR, task_id="T1", reason=f"请{char}加快")
    assert field_errors(refused.value) == ["reason"]
    assert "character 2" in str(refused.value)


def test_item_lists_are_bounded() -> None:
    RecordSupplement(actor=COORDINATOR, task_id="T1", items=["a"] * ITEMS_MAX)
    with pytest.raises(ValidationError) as refused:
        RecordSupplement(actor=COORDINATOR, task_id="T1", items=["a"] * (ITEMS_MAX + 1))
    assert field_errors(refused.value) == ["items"]
    with pytest.raises(ValidationError) as refused:
        Decide(
            actor=COORDINATOR,
            task_id="T1",
            verdict=Verdict.RETURN,
            missing_items=["ok", "y" * (ITEM_MAX_CHARS + 1)],
        )
    assert field_errors(refused.value) == ["missing_items.1"]


def test_errors_never_repeat_the_input() -> None:
    secret = "身份证号 370802199001011234"
    with pytest.raises(ValidationError) as refused:
        Urge(actor=COORDINATOR, task_id="T1", reason=secret + "\x1b" + "x" * 600)
    assert "370802199001011234" not in str(refused.value)


# ----------------------------------------------------------- hostile payloads, raw
def valid_fields(spec: ActionSpec) -> dict[str, Any]:
    """A well-formed payload of the action (as JSON), to spoil one field of. It names
    no task the case has, so even a spoiled value the model coerces (``True`` → 1) is
    refused: a coordinator may take no action here on an unknown task."""
    fields: dict[str, Any] = {
        "actor": COORDINATOR.model_dump(mode="json"),
        "reason": "ok",
        "request_id": "",
    }
    if "task_id" in spec.model.model_fields:
        fields["task_id"] = "NO-SUCH-TASK"
    for name, info in spec.model.model_fields.items():
        if name in fields or not info.is_required():
            continue
        annotation = str(info.annotation)
        if "list" in annotation:
            fields[name] = ["ok"]
        elif "int" in annotation:
            fields[name] = 1
        elif "Verdict" in annotation:
            fields[name] = "approve"
        elif "SuspensionKind" in annotation:
            fields[name] = "expert_review"
        else:
            fields[name] = "T1"
    return fields


TEXT_FIELDS = ("reason", "task_id", "department", "to_assignee", "comment", "event")
WRONG_TYPES = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@st.composite
def hostile(draw: st.DrawFn) -> tuple[str, dict[str, Any], str | None]:
    """An Update name, a payload that no rule may accept, and the field the refusal
    must name (None where several things are wrong)."""
    spec = draw(st.sampled_from(ACTIONS))
    fields = valid_fields(spec)
    own = [f for f in spec.model.model_fields if f not in ("actor", "request_id")]
    texts = [f for f in own if f in TEXT_FIELDS]
    kind = draw(
        st.sampled_from(["too_long", "control", "wrong_type", "unknown_task", "garbage", "items"])
    )
    named: str | None = None
    if kind == "too_long" and texts:
        named = draw(st.sampled_from(texts))
        length = draw(st.integers(REASON_MAX_CHARS + 1, 20_000))
        fields[named] = draw(st.text(min_size=1, max_size=3)) * length
    elif kind == "control" and texts:
        named = draw(st.sampled_from(texts))
        before, after = draw(st.text(max_size=20)), draw(st.text(max_size=20))
        fields[named] = before + draw(st.sampled_from(CONTROL)) + after
    elif kind == "items" and "items" in own:
        named = "items"
        fields["items"] = ["ok"] * draw(st.integers(ITEMS_MAX + 1, 500))
    elif kind == "unknown_task" and "task_id" in own:
        fields["task_id"] = "NO-" + draw(st.text(alphabet="ABCXYZ0123456789", max_size=20))
    elif kind == "garbage":
        fields = draw(st.dictionaries(st.text(max_size=10), WRONG_TYPES, max_size=5))
    else:
        fields[draw(st.sampled_from(own or ["reason"]))] = draw(WRONG_TYPES)
    return spec.update, fields, named


async def refused_raw(handle: WorkflowHandle[Any, Any], update: str, payload: Any) -> str:
    """Send one raw Update with the coordinator's signed session; its refusal."""
    with acting_as(session_signer()(COORDINATOR)):
        try:
            await handle.execute_update(update, payload, id=f"hostile-{uuid.uuid4().hex}")
        except WorkflowUpdateFailedError as failed:
            return refusal_text(failed.cause)
        except RPCError as error:  # the server's own limits (message size) are refusals too
            return error.message or str(error.status)
    raise AssertionError(f"{update} accepted a hostile payload: {str(payload)[:200]}")


async def failed_workflow_tasks(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(
        1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    )


async def test_hostile_payloads_are_refused_cleanly(driver: CaseDriver) -> None:
    case_no, _ = await review_case(driver)
    handle = driver.desk.client.get_workflow_handle(f"case-{case_no}")
    before = await quiet_history_length(handle)
    loop = asyncio.get_running_loop()
    refusals: list[str] = []

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(hostile())
    def one(example: tuple[str, dict[str, Any], str | None]) -> None:
        update, payload, named = example
        future = asyncio.run_coroutine_threadsafe(refused_raw(handle, update, payload), loop)
        message = future.result(timeout=60)
        assert message.strip(), (update, payload)
        if named is not None:  # the refusal says which field is wrong
            assert named in message, (update, named, message[:300])
        refusals.append(message)

    await asyncio.to_thread(one)
    assert len(refusals) >= 20
    assert await failed_workflow_tasks(handle) == 0
    assert await quiet_history_length(handle) == before, "a refused payload wrote to the history"


async def test_a_ten_megabyte_reason_is_refused(driver: CaseDriver) -> None:
    case_no, task = await review_case(driver)
    handle = driver.desk.client.get_workflow_handle(f"case-{case_no}")
    before = await quiet_history_length(handle)
    payload = valid_fields(spec_for_command("urge")) | {
        "task_id": task.id,
        "reason": "长" * (10 * 1024 * 1024 // 3),
    }
    message = await refused_raw(handle, "urge", payload)
    assert message.strip()
    assert "reason" in message or "size" in message.lower() or "large" in message.lower(), message
    assert await failed_workflow_tasks(handle) == 0
    assert await quiet_history_length(handle) == before
    # The case still works after it.
    ok = payload | {"reason": "请加快"}
    with acting_as(session_signer()(COORDINATOR)):
        await handle.execute_update("urge", ok, id="after-hostile")


def timeline_of(state: CaseState) -> list[tuple[int, str, str, str]]:
    return [(e.seq, e.kind, e.summary, e.reason) for e in state.events]


async def answering(driver: CaseDriver, case_no: str, timeout: float = 60.0) -> list[Any]:
    """The case's timeline (seq, kind, summary, reason), once it answers Queries again.

    Not the instants: after its workflow task failed the case is replayed, and an event
    recorded after a local activity in the same task may then show a time some
    milliseconds off (``workflow.now()`` there is not the original's)."""
    from client.facade import CaseError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return timeline_of(await driver.state(case_no))
        except CaseError as error:
            if "not answering" not in str(error) or loop.time() > deadline:
                raise
        await asyncio.sleep(0.5)


async def test_a_three_megabyte_reason_is_refused_and_the_case_goes_on(driver: CaseDriver) -> None:
    """Between the namespace's blob limit (2 MB) and the server's gRPC limit (4 MB) an
    Update reaches the worker, which refuses it (the model's 500-character limit). But
    Temporal's update protocol echoes the refused request back in the rejection, which
    the SDK will not upload: the workflow task fails (PayloadsTooLarge) and is retried
    until the server drops the Update, and meanwhile the case answers no Query (about
    10-20 s). Nothing of the payload is stored and the case goes on; the failed workflow
    tasks stay in its history. A Temporal limitation, shown as an expected failure until
    the server refuses such Updates itself (or a proxy in front of it caps requests at
    the blob limit)."""
    case_no, task = await review_case(driver)
    handle = driver.desk.client.get_workflow_handle(f"case-{case_no}")
    await quiet_history_length(handle)
    timeline = timeline_of(await driver.state(case_no))
    payload = valid_fields(spec_for_command("urge")) | {
        "task_id": task.id,
        "reason": "长" * (3 * 1024 * 1024 // 3),
    }
    assert (await refused_raw(handle, "urge", payload)).strip()
    assert await answering(driver, case_no) == timeline
    history = await handle.fetch_history()
    assert all(e.ByteSize() < 64 * 1024 for e in history.events), "the payload was stored"
    with acting_as(session_signer()(COORDINATOR)):
        await handle.execute_update("urge", payload | {"reason": "请加快"}, id="after-hostile")
    failed = await failed_workflow_tasks(handle)
    if failed:
        pytest.xfail(f"Temporal: {failed} workflow tasks failed on a 3 MB Update (see docstring)")
