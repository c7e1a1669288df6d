"""A chain's legal basis (法律依据) and fees, as the chain module declares them.

A 办事指南 names the laws a thing is done under and where each time limit comes from:
the statutory one (法定时限) from a law or regulation, the promised one (承诺时限) from
the office's own promise (a reform document such as Qingdao's "3540"). Where a step's
limit or the step itself rests on a different article than the chain as a whole, the
chain names it per step.

Per-step basis is a mapping on the chain (step name → basis), not an argument of the
step primitives: the flow's history stays exactly what it was (no new field on a
task, nothing to patch), and the basis can be corrected while cases run — it is read
live, like the chain's licence names, and never changes what a case does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflows.chain import Chain

#: What ``fees`` says when nothing is charged: 行政许可法 art. 58 forbids charging for
#: granting a licence unless a law or administrative regulation provides for it.
NO_FEES = "不收费（《行政许可法》第五十八条：实施行政许可不得收取任何费用）"


@dataclass(frozen=True)
class LegalBasis:
    """法律依据 of a chain: the laws, where its two limits come from, and per-step basis."""

    #: The laws, regulations and rules the chain is done under, most general last.
    laws: tuple[str, ...] = ()
    #: Where ``statutory_days`` comes from (article, and how it is counted).
    statutory: str = ""
    #: Where ``promised_days`` comes from (the office's promise and its document).
    promised: str = ""
    #: Step name (as the flow names it) → its own basis, where it differs from ``laws``.
    steps: Mapping[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.laws or self.statutory or self.promised or self.steps)


def step_basis(chain: Chain, step_name: str) -> str:
    """The basis of one step, or "" when the chain's own basis covers it."""
    return chain.legal_basis.steps.get(step_name, "")


def basis_mistakes(chain: Chain, step_names: set[str]) -> list[str]:
    """``chains check`` lines for a basis that names a step no explored form reaches
    (a typo in the step name would otherwise hide the basis silently)."""
    unknown = [name for name in chain.legal_basis.steps if name not in step_names]
    return [
        f"legal_basis.steps names step {name!r}, which no explored form of the flow has"
        for name in unknown
    ]


def basis_notes(chain: Chain) -> list[str]:
    """``chains check`` notes for what a 办事指南 needs and the chain leaves out."""
    missing = []
    if not chain.legal_basis.laws:
        missing.append("legal_basis.laws")
    if not chain.legal_basis.statutory:
        missing.append("legal_basis.statutory")
    if not chain.fees:
        missing.append("fees")
    if not missing:
        return []
    return [f"the 办事指南 page has no {', '.join(missing)} (declare them on the Chain)"]
