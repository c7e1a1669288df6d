"""The worker re-checks every field of a start the desk checks, with the desk's own
function (``workflows.admission.checked_start`` → ``domain.case.check_applicant_text``
→ ``domain.phones``): a start sent around the desk with a phone the desk refuses is
refused by the worker, the refusal naming the field and never the value.

Real parts: the session's dev server and the production worker; the attacker's start
goes through a bare temporalio client (no desk, no checks) that carries a valid clerk's
session and signs each call's action proof, as an insider with a clerk's sign-in could.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowFailureError

from client.facade import CaseRequest, prepare_start
from domain.actions import StartCase
from domain.case import Applicant
from tests.harness import CLERK, CaseDriver, fresh_applicant, session_signer
from tests.test_trust import proving_client
from trust.credentials import acting_as
from workflows import registry
from workflows.form_samples import sample_values

BAD_PHONE = "call me maybe"


def any_chain_start(case_no: str, applicant: Applicant) -> StartCase:
    """A start of the first registered chain with its sample form (any chain will do)."""
    chain = registry.all_chains()[0]
    return StartCase(
        case_no=case_no,
        chain=chain.code,
        applicant=applicant,
        form=sample_values(chain.form),
        materials=CaseDriver.all_materials(chain.code),
        received_at=datetime.now(UTC),
    )


def applicant_with_phone(phone: str) -> Applicant:
    kind = registry.all_chains()[0].applicant_kind
    person = fresh_applicant("person" if kind == "person" else "organisation")
    return person.model_copy(update={"phone": phone})


def test_the_desk_refuses_a_phone_that_is_not_one_and_normalises_one_that_is() -> None:
    with pytest.raises(ValidationError, match="applicant phone"):
        CaseRequest(
            case_no="P1",
            chain=registry.all_chains()[0].code,
            applicant=applicant_with_phone(BAD_PHONE),
            form={},
        )
    good = any_chain_start("P2", applicant_with_phone("+86 138-0013-8000"))
    request = CaseRequest(
        case_no=good.case_no,
        chain=good.chain,
        applicant=good.applicant,
        form=good.form,
        materials=good.materials,
    )
    assert prepare_start(request).applicant.phone == "13800138000"


async def test_a_start_around_the_desk_with_a_bad_phone_is_refused_naming_the_field(
    driver: CaseDriver,
) -> None:
    client = proving_client(driver.client)
    clerk = session_signer().sign(CLERK)  # a real clerk's valid session
    task_queue = driver.desk.task_queue

    bad = any_chain_start(f"PH{uuid.uuid4().hex[:8].upper()}", applicant_with_phone(BAD_PHONE))
    with acting_as(clerk):
        handle = await client.start_workflow(
            "CaseWorkflow", bad, id=f"case-{bad.case_no}", task_queue=task_queue
        )
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=30)
    reason = str(failed.value.cause)
    assert "受理被拒" in reason and "applicant phone" in reason, reason
    assert BAD_PHONE not in reason  # the value stays out of history and logs

    # The same start with a real phone is admitted: the refusal was the phone's.
    good = bad.model_copy(
        update={
            "case_no": bad.case_no + "B",
            "applicant": bad.applicant.model_copy(update={"phone": "0537-2345678"}),
        }
    )
    with acting_as(clerk):
        await client.start_workflow(
            "CaseWorkflow", good, id=f"case-{good.case_no}", task_queue=task_queue
        )
    state = await driver.state(good.case_no)
    assert state.events[0].actor.user_id == CLERK.user_id
