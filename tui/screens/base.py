"""What every console screen shares: translated key descriptions, the status bar,
and quick access to the app's services."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

from tui.console import Console
from tui.messages import Catalog


def localize_bindings(node: DOMNode, catalog: Catalog) -> None:
    """Replace each binding's description (a catalog key) with its text.

    Textual reads descriptions from class-level ``BINDINGS``; the language is only
    known when the app starts, so the instance's own copy of the map is rewritten.
    The keys are kept on the node, so a language switch can word them again.
    """
    bindings: BindingsMap = node._bindings
    originals: dict[str, list[str]] | None = getattr(node, "_catalog_keys", None)
    if originals is None:
        originals = {
            key: [b.description for b in key_bindings]
            for key, key_bindings in bindings.key_to_bindings.items()
        }
        node._catalog_keys = originals  # type: ignore[attr-defined]
    translated: dict[str, list[Binding]] = {}
    for key, key_bindings in bindings.key_to_bindings.items():
        keys = originals.get(key, [])
        translated[key] = [
            replace(b, description=catalog.t(keys[i] if i < len(keys) else b.description))
            if b.description
            else b
            for i, b in enumerate(key_bindings)
        ]
    node._bindings = BindingsMap.from_keys(translated)


class ConsoleMixin:
    """``self.console``: the app as the screens know it (:class:`tui.console.Console`),
    so no screen imports ``tui.app`` (which imports every screen)."""

    @property
    def console(self) -> Console:
        return cast(Console, cast(Any, self).app)

    @property
    def catalog(self) -> Catalog:
        return self.console.catalog

    def t(self, key: str, **values: Any) -> str:
        return self.console.catalog.t(key, **values)


class ConsoleScreen(ConsoleMixin, Screen[None]):
    """A full screen of the console."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localize_bindings(self, self.console.catalog)


class ConsoleModal(ConsoleMixin, ModalScreen[Any]):
    """A dialog over the current screen."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localize_bindings(self, self.console.catalog)
