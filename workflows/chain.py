"""How a chain is declared: metadata plus one flow function per version.

A chain module builds one :class:`Chain` and decorates its flow::

    chain = Chain(code="restaurant", name_zh="我要开饭店", ...)

    @chain.flow(version=1)
    async def flow(case: CaseContext[RestaurantForm]) -> None:
        await case.review("market", "食品经营许可审查", days=3)
        await case.issue("food_business_licence")

Old versions stay in the module while cases started on them are still running,
so a running case always keeps the flow it started with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from domain.materials import MaterialSpec
from domain.text import describe_unsafe
from workflows.legal_basis import LegalBasis
from workflows.material_conditions import Condition, as_condition

if TYPE_CHECKING:
    from workflows.steps import CaseContext

FlowFunction = Callable[["CaseContext[Any]"], Awaitable[None]]


@dataclass(frozen=True)
class Material:
    """One item of the chain's single set of materials (一套材料).

    ``key`` materials must be present to accept; non-key ones may be supplied
    later where the chain allows 容缺受理. ``e_licence`` names a licence type that,
    held by the applicant, replaces the paper. ``commitment`` marks materials the
    applicant's written commitment may replace (告知承诺制).

    ``required_if`` asks for the material only when the form says so (a condition
    from :mod:`workflows.material_conditions`, or the name of a yes/no field or
    property); otherwise it is not part of the case at all. ``needed_for`` names the
    licences a missing non-key item holds back under 容缺受理; ``None`` (the default)
    holds every licence, the safe reading, ``()`` holds none (see the guide's 容缺受理).
    """

    code: str
    name: str
    key: bool = True
    e_licence: str | None = None
    commitment: bool = False
    form_hint: str = ""
    verifier: str | None = None  # department that verifies a commitment afterwards
    required_if: Condition | str | None = None
    needed_for: tuple[str, ...] | None = None

    def applies(self, form: BaseModel | None) -> bool:
        """Whether this form asks for the material (every form when unconditional;
        without a form, as the catalogue lists it, yes)."""
        if self.required_if is None or form is None:
            return True
        return as_condition(self.required_if).holds(form)


@dataclass(frozen=True)
class LicenceType:
    """A licence the chain issues, and which department issues it."""

    code: str
    name: str
    department: str
    valid_years: int | None = None  # None: valid until revoked


@dataclass
class Chain:
    """A "one thing" chain: everything about it except the flow's steps."""

    code: str
    name_zh: str
    name_en: str
    form: type[BaseModel]
    departments: tuple[str, ...]
    materials: tuple[Material, ...]
    licences: tuple[LicenceType, ...]
    promised_days: int
    statutory_days: int
    applicant_kind: Literal["person", "organisation", "either"] = "organisation"
    description: str = ""
    allow_incomplete: bool = False  # 容缺受理: accept with only non-key items missing
    supplement_days: int = 5  # working days the applicant has to bring them
    on_supplement_missed: Literal["escalate", "end"] = "escalate"
    verification_days: int = 20  # 事中事后核查 of a commitment, after issuance
    rating_window_days: int = 10  # 好差评: working days after conclusion a rating is taken
    flows: dict[int, FlowFunction] = field(default_factory=dict)
    #: English names of the flow's stages and steps, keyed by the Chinese name the
    #: flow gives them (optional: a name not listed is shown in Chinese).
    names_en: dict[str, str] = field(default_factory=dict)
    #: 法律依据: the laws, where each limit comes from, per-step basis (read live, like
    #: the licence names: never pinned into a case, never changes what a case does).
    legal_basis: LegalBasis = field(default_factory=LegalBasis)
    #: 收费标准 for the 办事指南, e.g. ``legal_basis.NO_FEES`` ("" = not declared yet).
    fees: str = ""

    @property
    def version(self) -> int:
        """The version new cases start on: the highest registered flow."""
        if not self.flows:
            raise LookupError(f"chain {self.code} has no flow")
        return max(self.flows)

    def flow(self, version: int) -> Callable[[FlowFunction], FlowFunction]:
        """Register ``fn`` as the flow for ``version``."""

        def register(fn: FlowFunction) -> FlowFunction:
            if version in self.flows:
                raise ValueError(f"chain {self.code}: flow version {version} defined twice")
            self.flows[version] = fn
            return fn

        return register

    def flow_for(self, version: int) -> FlowFunction:
        try:
            return self.flows[version]
        except KeyError:
            known = ", ".join(str(v) for v in sorted(self.flows))
            raise LookupError(
                f"chain {self.code} has no flow version {version} (known: {known}); "
                "keep old versions in the chain module while their cases run"
            ) from None

    def licence(self, code: str) -> LicenceType:
        for licence in self.licences:
            if licence.code == code:
                return licence
        raise LookupError(f"chain {self.code} declares no licence {code!r}")

    def material_specs(self, form: BaseModel | None = None) -> list[MaterialSpec]:
        """The materials as pinned into a case at start; with the case's ``form``, each
        conditional one says whether this form asks for it (``applies``)."""
        first = self.departments[0] if self.departments else "window"
        return [
            MaterialSpec(
                code=m.code,
                name=m.name,
                key=m.key,
                e_licence=m.e_licence,
                commitment=m.commitment,
                verifier=m.verifier or (first if m.commitment else None),
                form_hint=self.material_hint(m),
                applies=m.applies(form),
                condition=self.material_condition(m),
                needed_for=list(m.needed_for) if m.needed_for is not None else None,
            )
            for m in self.materials
        ]

    def material_condition(self, material: Material) -> str:
        """When the form asks for ``material``, in the form's Chinese labels ("" always)."""
        if material.required_if is None:
            return ""
        from workflows.flow_conditions import condition_zh  # it imports this module

        return condition_zh(self.form, material.required_if)

    def material_hint(self, material: Material) -> str:
        """The note shown with a material: its condition (仅当 … 时提交) and its own hint."""
        condition = self.material_condition(material)
        parts = [f"仅当 {condition} 时提交"] if condition else []
        if material.form_hint and material.form_hint not in parts:
            parts.append(material.form_hint)
        return "；".join(parts)

    def validate_form(self, data: Any) -> BaseModel:
        """The chain's form model from ``data``, refusing control characters in any text.

        The desk and the import call this for new applications; ``ValidationError`` as
        the form model raises it, so callers report both kinds of problem the same way.
        A running case's stored form is never re-checked (replay stays as it was).
        """
        model = self.form.model_validate(data)
        errors: list[Any] = []
        for name, value in model:
            for loc, text in _texts((name,), value):
                reason = describe_unsafe(text)
                if reason is not None:
                    errors.append(
                        {
                            "type": "value_error",
                            "loc": loc,
                            "input": text,
                            "ctx": {"error": ValueError(reason)},
                        }
                    )
        if errors:
            raise ValidationError.from_exception_data(self.form.__name__, errors)
        return model

    def material(self, code: str) -> Material:
        for material in self.materials:
            if material.code == code:
                return material
        raise LookupError(f"chain {self.code} declares no material {code!r}")


def _texts(loc: tuple[Any, ...], value: Any) -> list[tuple[tuple[Any, ...], str]]:
    """Every text inside a form value, with where it sits (lists and nested models)."""
    if isinstance(value, str):
        return [(loc, value)]
    if isinstance(value, BaseModel):
        return [found for name, inner in value for found in _texts((*loc, name), inner)]
    if isinstance(value, dict):
        return [found for key, inner in value.items() for found in _texts((*loc, key), inner)]
    if isinstance(value, list | tuple | set | frozenset):
        return [found for i, inner in enumerate(value) for found in _texts((*loc, i), inner)]
    return []
