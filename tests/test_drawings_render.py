"""Every registered chain's drawing, laid out by the real Mermaid library in Chromium.

``test_flow_diagram.py`` checks the Mermaid *text*; this checks what Mermaid makes of
it: the text parses, each decision in the flow is drawn as a rhombus, and every condition written on an arm reaches the picture as that arm's label
(a wrong drawing shows up as a missing shape or label here, and in the pictures
``python -m docsgen.render_drawings`` writes to ``docs/chains/img/``).

Needs Debian's Chromium and the pinned Mermaid fetched by
``python -m docsgen.render_drawings --install`` (``.ci/run`` does both); skipped, saying
which, without them.
"""

from __future__ import annotations

import re

import pytest

from docsgen.render_drawings import MERMAID_VERSION, chromium, drawings, mermaid_js, render
from tests.extra_chain import extra_chain, registered

DECISION = re.compile(r'^\s+(\w+)\{"', re.MULTILINE)  # id{"…"}: a decision (rhombus)
ARM_LABEL = re.compile(r"-->\|([^|]+)\|")

pytestmark = [
    pytest.mark.skipif(chromium() is None, reason="no Chromium (apt-get install chromium)"),
    pytest.mark.skipif(
        not mermaid_js().exists(),
        reason=f"Mermaid {MERMAID_VERSION} not fetched: python -m docsgen.render_drawings --install",
    ),
]


def _plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text).replace("&gt;", ">").replace("&lt;", "<").strip()


async def test_every_chain_is_drawn_by_mermaid_with_its_decisions_and_arm_labels() -> None:
    with registered(extra_chain):
        texts = drawings()
    assert extra_chain.code in texts  # a chain added by an author is drawn like the shipped ones
    rendered = {r.code: r for r in await render(texts)}
    assert set(rendered) == set(texts)
    for code, text in texts.items():
        picture = rendered[code]
        assert "<svg" in picture.svg and picture.png.startswith(b"\x89PNG"), code
        decisions = DECISION.findall(text)
        assert sorted(picture.rhombi) == sorted(decisions), (
            f"{code}: decisions {decisions} in the text, rhombi {picture.rhombi} drawn"
        )
        drawn = {_plain(label) for label in picture.edge_labels}
        for label in ARM_LABEL.findall(text):
            assert _plain(label) in drawn, f"{code}: the arm 「{label}」 is not labelled"


async def test_a_drawing_mermaid_cannot_parse_is_refused_naming_the_chain() -> None:
    with pytest.raises(RuntimeError, match="chain broken: Mermaid could not draw it"):
        await render({"broken": 'flowchart TD\n  a["x"] -->|y| \n  b{{{'})
