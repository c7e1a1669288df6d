"""A footer that always fits: the keys that matter most, and ``?`` for the rest.

Textual's footer lays out every shown binding in one row; at 80 columns the last
ones (``u``, ``:``, ``?``, ``q``) fell off the edge. This one keeps ``?``, ``:``
and ``q`` (help lists every key of the screen), then adds the others in order
while they fit the terminal's width.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ALWAYS = ("question_mark", "colon", "q")
#: The command palette key Textual docks at the right edge (``^p 命令``).
PALETTE_WIDTH = 12


def key_width(item: FooterKey) -> int:
    """Cells one key takes: `` key description `` and a gap."""
    return cell_len(item.key_display) + cell_len(item.description) + 3


class FittingFooter(Footer):
    """Textual's footer builds its keys again at every change of focus or bindings and
    at every resize: opening a case did it 17 times (a third of the time it took).
    This one builds them again only when what it shows would change."""

    #: What the keys were last built from (width, and each shown key's state).
    _shown: Any = None

    def _signature(self) -> Any:
        if not self._bindings_ready or not self.is_attached:
            return None
        active = self.screen.active_bindings
        keys = tuple(
            (binding.key, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in active.values()
            if binding.show
        )
        return (self.app.size.width, keys)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._signature() != self._shown:
            await self.recompose()

    def compose(self) -> ComposeResult:
        self._shown = self._signature()
        items = list(super().compose())
        keys = [
            i for i in items if isinstance(i, FooterKey) and "-command-palette" not in i.classes
        ]
        rest = [i for i in items if i not in keys]
        budget = max(self.app.size.width, 40) - PALETTE_WIDTH
        kept = [i for i in keys if i.key in ALWAYS]
        budget -= sum(key_width(i) for i in kept)
        for item in keys:
            if item in kept:
                continue
            if key_width(item) <= budget:
                kept.append(item)
                budget -= key_width(item)
        # Screen keys first, then the global ones (in the order they were bound).
        kept.sort(key=lambda i: (i.key in ALWAYS, keys.index(i)))
        self.styles.grid_size_columns = max(1, len(kept))
        yield from kept
        yield from rest

    def on_resize(self) -> None:
        self.call_after_refresh(self._recompose_if_changed)
