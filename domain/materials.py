"""The one set of materials (一套材料): what a chain asks for, what the applicant
brought, and the window's decision (受理) that follows from it.

Pure rules, no I/O: the e-licences the applicant holds are looked up by an
activity and handed in, so the assessment replays identically.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class MaterialSpec(BaseModel):
    """A chain's material as pinned into a case at start (chain edits never reach it)."""

    code: str
    name: str
    key: bool = True
    e_licence: str | None = None
    commitment: bool = False
    verifier: str | None = None
    form_hint: str = ""
    #: False: the case's form does not ask for this conditional material, so the case
    #: neither lists it nor waits for it (pinned at start from the form).
    applies: bool = True
    condition: str = ""  # when the form asks for it, in Chinese ("" for always)
    #: 容缺受理: the licences a missing item holds back; None holds every licence.
    needed_for: list[str] | None = None

    def holds(self, licence: str) -> bool:
        """Whether this item, while missing, holds back ``licence``."""
        return self.needed_for is None or licence in self.needed_for


class Commitment(BaseModel):
    """The applicant's signed written commitment replacing a proof (告知承诺制)."""

    material: str
    text: str = Field(min_length=1)
    signed_by: str = Field(min_length=1)
    signed_at: datetime


class ELicence(BaseModel):
    """A licence in the e-licence store (电子证照), as a later case sees it."""

    type: str
    name: str
    number: str
    department: str
    valid_from: date
    valid_to: date | None = None
    case_no: str


class MaterialState(StrEnum):
    RECEIVED = "received"  # 已收取
    E_LICENCE = "e_licence"  # 电子证照复用
    COMMITTED = "committed"  # 告知承诺
    MISSING = "missing"  # 缺失


class MaterialStatus(BaseModel):
    code: str
    name: str
    key: bool
    state: MaterialState
    source: str = ""  # where it came from (数据跑路), e.g. the e-licence's number and issuer
    received_on: date | None = None
    form_hint: str = ""


class Acceptance(StrEnum):
    ACCEPTED = "accepted"  # 受理
    INCOMPLETE = "incomplete"  # 容缺受理: accepted, non-key items to follow
    AWAITING_MATERIALS = "awaiting_materials"  # 待补正: a key item missing, not accepted yet


class MissingNotice(BaseModel):
    """The one-time notice (一次告知) of everything missing."""

    issued_at: datetime
    items: list[MaterialStatus]
    text: str


ACCEPTANCE_ZH = {
    Acceptance.ACCEPTED: "受理",
    Acceptance.INCOMPLETE: "容缺受理",
    Acceptance.AWAITING_MATERIALS: "待补正（未受理）",
}


def assess_materials(
    specs: list[MaterialSpec],
    submitted: list[str],
    commitments: list[Commitment],
    licences: list[ELicence],
    on: date,
) -> list[MaterialStatus]:
    """Each material's state: brought, replaced by a valid e-licence, committed, or missing.

    An e-licence counts only when it is valid on ``on`` (the store leaves revoked
    ones out); a commitment counts only for materials the chain allows it for.
    """
    committed = {c.material for c in commitments}
    by_type = {
        lic.type: lic
        for lic in licences
        if lic.valid_from <= on and (lic.valid_to is None or on <= lic.valid_to)
    }
    statuses: list[MaterialStatus] = []
    for spec in specs:
        if not spec.applies:
            continue  # a conditional material this case's form does not ask for
        base = {"code": spec.code, "name": spec.name, "key": spec.key, "form_hint": spec.form_hint}
        licence = by_type.get(spec.e_licence) if spec.e_licence else None
        if spec.code in submitted:
            statuses.append(
                MaterialStatus(
                    **base, state=MaterialState.RECEIVED, source="申请人提交", received_on=on
                )
            )
        elif licence is not None:
            source = f"电子证照 {licence.name} {licence.number}（{licence.department}，案件 {licence.case_no}）"
            statuses.append(
                MaterialStatus(**base, state=MaterialState.E_LICENCE, source=source, received_on=on)
            )
        elif spec.commitment and spec.code in committed:
            statuses.append(
                MaterialStatus(
                    **base, state=MaterialState.COMMITTED, source="申请人书面承诺", received_on=on
                )
            )
        else:
            statuses.append(MaterialStatus(**base, state=MaterialState.MISSING))
    return statuses


def decide_acceptance(statuses: list[MaterialStatus], allow_incomplete: bool) -> Acceptance:
    """受理 when nothing is missing; 容缺受理 when only non-key items are missing and
    the chain allows it; otherwise 待补正."""
    missing = [s for s in statuses if s.state is MaterialState.MISSING]
    if not missing:
        return Acceptance.ACCEPTED
    if allow_incomplete and not any(s.key for s in missing):
        return Acceptance.INCOMPLETE
    return Acceptance.AWAITING_MATERIALS


def notice_text(case_no: str, missing: list[MaterialStatus]) -> str:
    lines = [f"{case_no} 一次性告知：请补齐以下 {len(missing)} 项材料"]
    for index, item in enumerate(missing, start=1):
        kind = "关键材料" if item.key else "非关键材料"
        hint = f"，{item.form_hint}" if item.form_hint else ""
        lines.append(f"{index}. {item.name}（{kind}{hint}）")
    return "\n".join(lines)
