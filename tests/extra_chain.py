"""A throwaway chain for tests that prove a chain is one module: registered at run time
(:func:`registered`), it must appear in the import vocabulary and docs, the sample file,
the demo, the simulator and the catalogue without a line changed anywhere else.

Its form shares one column label with a registered chain (two chains, one meaning), so
the import has to map that label per chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel, Field

import chains  # noqa: F401  (registers the chains)
from importing.columns import form_fields
from workflows import registry
from workflows.chain import Chain, LicenceType, Material
from workflows.steps import CaseContext


def _shared_label() -> tuple[str, str]:
    """A numeric field's description some registered chain already uses, so the extra
    chain shares that column label (two chains, one meaning)."""
    for chain in registry.all_chains():
        for spec in form_fields(chain):
            if spec.kind == "float" and spec.description:
                return chain.code, spec.description
    raise AssertionError("no registered chain has a number field to share a label with")


SHARED_WITH, SHARED_DESCRIPTION = _shared_label()


class ExtraForm(BaseModel):
    """A form that shares one label with an existing chain and has one of its own."""

    venue_name: str = Field(
        min_length=2, max_length=50, description="场馆名称", examples=["济宁市运河游泳馆"]
    )
    shared_area: float = Field(gt=0, description=SHARED_DESCRIPTION, examples=[800, 2500])
    lifeguards: int = Field(ge=1, le=50, description="救生员人数")
    high_risk: bool = Field(default=True, description="含高危险性体育项目")


extra_chain = Chain(
    code="zz_extra_venue",
    name_zh="我要开测试场馆",
    name_en="Open a test venue",
    form=ExtraForm,
    departments=("market", "fire"),
    materials=(
        Material("application", "一链办理申请表"),
        Material("operator_id", "经营者身份证明", e_licence="resident_id"),
        Material("rescue_plan", "救生应急预案", key=False, commitment=True),
    ),
    licences=(LicenceType("venue_permit", "场馆经营许可证", "market"),),
    promised_days=10,
    statutory_days=20,
    applicant_kind="either",
)


@extra_chain.flow(version=1)
async def _extra_flow(case: CaseContext[ExtraForm]) -> None:
    steps = [case.review("market", "场馆经营许可审查", days=5)]
    if case.form.high_risk:
        steps.append(case.review("fire", "消防安全检查", days=3))
    await case.parallel("并联审查", *steps)
    await case.issue("venue_permit")


@contextmanager
def registered(chain: Chain) -> Iterator[Chain]:
    """``chain`` registered for the duration of the block (the worker sees it too)."""
    registry.register(chain)
    try:
        yield chain
    finally:
        registry.unregister(chain.code)
