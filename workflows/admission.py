"""Does an application fit its chain? The one check both the desk (early, for a clear
error at the window) and the worker (authoritative, before a case starts) run.

Pure: the chain registry and the domain models only. What the worker adds — the
verified acceptor and the calendar from its own store — is in
``activities.admission``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from domain.actions import PinnedLimits, StartCase
from domain.case import Applicant, check_applicant_text
from domain.ids import InvalidId, check_applicant_id
from domain.phones import normalise_phone
from domain.roles import Actor, Role
from workflows import registry
from workflows.chain import Chain

#: Who may accept a case at the window (受理).
ACCEPTING_ROLES = frozenset({Role.WINDOW_CLERK, Role.COORDINATOR})


class InvalidApplication(ValueError):
    """The application does not fit the chain (unknown chain, bad form fields, ...)."""


def check_acceptor(actor: Actor) -> None:
    if actor.role not in ACCEPTING_ROLES:
        raise InvalidApplication(
            f"cases are accepted by a window clerk or a coordinator, not {actor.role.value}"
        )


def checked_applicant(chain: Chain, applicant: Applicant) -> Applicant:
    try:
        check_applicant_text(applicant)
    except ValueError as implausible:
        raise InvalidApplication(str(implausible)) from None
    if chain.applicant_kind not in ("either", applicant.kind):
        raise InvalidApplication(
            f"chain {chain.code} takes applicants of kind {chain.applicant_kind}, "
            f"not {applicant.kind}"
        )
    try:
        id_number = check_applicant_id(applicant.kind, applicant.id_number)
    except InvalidId as invalid:
        raise InvalidApplication(f"applicant id_number: {invalid}") from None
    phone = normalise_phone(applicant.phone) if applicant.phone else ""  # checked above
    return applicant.model_copy(update={"id_number": id_number, "phone": phone})


def checked_form(chain: Chain, form: dict[str, Any]) -> dict[str, Any]:
    try:
        return chain.validate_form(form).model_dump(mode="json")
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'form'}: {err['msg']}"
            for err in invalid.errors()
        )
        raise InvalidApplication(f"form for chain {chain.code}: {problems}") from None


def check_materials(chain: Chain, start: StartCase) -> None:
    known = {m.code: m for m in chain.materials}
    unknown = [code for code in start.materials if code not in known]
    if unknown:
        raise InvalidApplication(
            f"materials not in chain {chain.code}: {', '.join(unknown)} (known: {', '.join(known)})"
        )
    for commitment in start.commitments:
        material = known.get(commitment.material)
        if material is None or not material.commitment:
            allowed = ", ".join(code for code, m in known.items() if m.commitment) or "none"
            raise InvalidApplication(
                f"commitment for {commitment.material!r}: chain {chain.code} accepts "
                f"commitments only for: {allowed}"
            )


def chain_of(code: str) -> Chain:
    try:
        return registry.get_chain(code)
    except LookupError as unknown:
        raise InvalidApplication(str(unknown)) from None


def pinned_limits(chain: Chain, form: dict[str, Any] | None = None) -> PinnedLimits:
    """The chain's settings as of now, pinned for the case's life; with the case's
    ``form``, each conditional material says whether this case needs it."""
    model = chain.form.model_validate(form) if form is not None else None
    return PinnedLimits(
        chain_name=chain.name_zh,
        promised_days=chain.promised_days,
        statutory_days=chain.statutory_days,
        department_count=len(chain.departments),
        materials=chain.material_specs(model),
        allow_incomplete=chain.allow_incomplete,
        supplement_days=chain.supplement_days,
        on_supplement_missed=chain.on_supplement_missed,
        verification_days=chain.verification_days,
        rating_window_days=chain.rating_window_days,
    )


def checked_start(start: StartCase) -> tuple[Chain, StartCase]:
    """``start`` with its applicant id normalised and form validated, or
    :class:`InvalidApplication` naming what does not fit."""
    chain = chain_of(start.chain)
    applicant = checked_applicant(chain, start.applicant)
    form = checked_form(chain, start.form)
    check_materials(chain, start)
    if start.received_at.tzinfo is None:
        raise InvalidApplication("received_at must include a time zone")
    return chain, start.model_copy(update={"applicant": applicant, "form": form})
