"""Render every chain's flow drawing through the real Mermaid library, in headless Chromium.

``chains show --format mermaid`` and the catalogue pages carry Mermaid text; whether that
text draws what the flow does is only seen once Mermaid lays it out. This script runs the
pinned Mermaid release (``npm pack mermaid@MERMAID_VERSION``, only its one-file
``dist/mermaid.min.js``) in Debian's Chromium through Playwright and writes, per chain,
``docs/chains/img/<code>.png`` (and ``.svg`` with ``--svg``) — the pictures a reviewer (or a department
head) looks at to see a wrong drawing::

    python -m docsgen.render_drawings --install     # fetch the pinned Mermaid once (npm)
    python -m docsgen.render_drawings               # render every registered chain

The library is fetched only by ``--install`` (and by ``.ci/run``), never while tests run:
``tests/test_drawings_render.py`` renders from the cached copy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

MERMAID_VERSION = "11.17.2"
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "mermaid"
OUT = ROOT / "docs" / "chains" / "img"


def mermaid_js() -> Path:
    """Where the pinned library is kept (``ONECHAIN_MERMAID_JS`` overrides)."""
    override = os.environ.get("ONECHAIN_MERMAID_JS")
    return Path(override) if override else CACHE / f"mermaid-{MERMAID_VERSION}.min.js"


def chromium() -> str | None:
    return os.environ.get("ONECHAIN_TEST_CHROMIUM") or shutil.which("chromium")


def install() -> Path:
    """``npm pack`` the pinned release and keep only ``dist/mermaid.min.js`` (no
    dependency tree: the file is self-contained)."""
    target = mermaid_js()
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("error: npm not found: install Debian's npm to fetch Mermaid")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(
            [npm, "pack", f"mermaid@{MERMAID_VERSION}", "--silent"],
            cwd=work,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        packed = next(Path(work).glob("mermaid-*.tgz"))
        with tarfile.open(packed) as archive:
            member = archive.extractfile("package/dist/mermaid.min.js")
            if member is None:
                raise SystemExit(f"error: {packed.name} has no dist/mermaid.min.js")
            target.write_bytes(member.read())
    return target


@dataclass(frozen=True)
class Rendered:
    """One chain's drawing as Mermaid laid it out."""

    code: str
    svg: str
    png: bytes
    #: the node ids Mermaid drew as a rhombus (a decision), and the arrows' labels
    rhombi: list[str]
    edge_labels: list[str]


_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>body{margin:0;background:#fff;font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif}
#out{display:inline-block;padding:8px}</style></head><body><div id="out"></div></body></html>"""

_RENDER = """async ([id, text]) => {
  mermaid.initialize({startOnLoad: false, securityLevel: "strict", flowchart: {htmlLabels: true}});
  const {svg} = await mermaid.render(id, text);
  const out = document.getElementById("out");
  out.innerHTML = svg;
  const root = out.querySelector("svg");
  return {
    svg,
    rhombi: Array.from(root.querySelectorAll("g.node")).filter(g => {
      const shape = g.querySelector(":scope > polygon");
      if (!shape) return false;
      // a rhombus: 4 corners on 3 distinct x and 3 distinct y (a parallelogram has 2 y)
      const corners = shape.getAttribute("points").trim().split(/\\s+/).map(p => p.split(","));
      const xs = new Set(corners.map(c => c[0])), ys = new Set(corners.map(c => c[1]));
      return corners.length === 4 && xs.size === 3 && ys.size === 3;
    }).map(g => g.id.replace(/^.*-flowchart-/, "").replace(/-\\d+$/, "")),
    labels: Array.from(root.querySelectorAll(".edgeLabel")).map(e => e.textContent.trim())
      .filter(t => t.length > 0),
  };
}"""


async def render(drawings: dict[str, str], *, library: Path | None = None) -> list[Rendered]:
    """Lay out each ``code → mermaid text`` in one browser page; a text Mermaid cannot
    parse raises with the chain named."""
    from playwright.async_api import async_playwright

    browser_path = chromium()
    if browser_path is None:
        raise RuntimeError("no Chromium: install Debian's chromium or set ONECHAIN_TEST_CHROMIUM")
    script = (library or mermaid_js()).read_text(encoding="utf-8")
    done: list[Rendered] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(
                viewport={"width": 1600, "height": 1200}, device_scale_factor=2
            )
            await page.set_content(_PAGE)
            await page.add_script_tag(content=script)
            for code, text in drawings.items():
                try:
                    result = await page.evaluate(_RENDER, [f"d_{code}", text])
                except Exception as error:
                    raise RuntimeError(
                        f"chain {code}: Mermaid could not draw it: {error}"
                    ) from None
                png = await page.locator("#out").screenshot(type="png")
                done.append(Rendered(code, result["svg"], png, result["rhombi"], result["labels"]))
        finally:
            await browser.close()
    return done


def drawings() -> dict[str, str]:
    """Every registered chain's current drawing, as the catalogue prints it."""
    from workflows import registry
    from workflows.flow_diagram import mermaid

    return {chain.code: mermaid(chain) for chain in registry.all_chains()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true", help="fetch the pinned Mermaid (npm)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for <code>.png")
    parser.add_argument("--chain", action="append", help="only this chain (repeatable)")
    parser.add_argument("--svg", action="store_true", help="also write <code>.svg")
    args = parser.parse_args(argv)
    if args.install:
        print(f"mermaid {MERMAID_VERSION}: {install()}")
        return 0
    if not mermaid_js().exists():
        print(
            f"error: Mermaid {MERMAID_VERSION} is not installed at {mermaid_js()}; "
            "run `python -m docsgen.render_drawings --install` first",
            file=sys.stderr,
        )
        return 2
    wanted = drawings()
    if args.chain:
        unknown = sorted(set(args.chain) - set(wanted))
        if unknown:
            print(f"error: --chain: unknown chain(s) {', '.join(unknown)}", file=sys.stderr)
            return 2
        wanted = {code: text for code, text in wanted.items() if code in args.chain}
    args.out.mkdir(parents=True, exist_ok=True)
    for drawn in asyncio.run(render(wanted)):
        if args.svg:
            (args.out / f"{drawn.code}.svg").write_text(drawn.svg, encoding="utf-8")
        (args.out / f"{drawn.code}.png").write_bytes(drawn.png)
        print(
            json.dumps(
                {"chain": drawn.code, "decisions": len(drawn.rhombi), "png": f"{drawn.code}.png"},
                ensure_ascii=False,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
