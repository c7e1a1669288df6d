"""Outside text as something a terminal shows, never interprets: the one helper the CLI
(``cli.output``) and the console (``tui``) wrap every value from a case, a file or an
error message in.

``rich.text.Text`` is never parsed as markup, so ``[/bold]`` or ``[link=…]`` in a name
shows as typed (Rich and Textual parse markup in plain ``str`` cells, labels and
toasts); control characters are written out visibly first (``domain.text.visible``), so
no escape sequence reaches the terminal.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from rich.text import Text

from domain.text import visible


def safe(value: Any) -> Text:
    """``value`` as inert text. A ``Text`` passes through unchanged: code built it and
    chose its style (build it with :func:`styled` when it holds outside text)."""
    if isinstance(value, Text):
        return value
    if value is None:
        return Text("")
    if isinstance(value, Enum):
        value = value.value
    elif isinstance(value, datetime | date):
        value = value.isoformat()
    return Text(visible(value if isinstance(value, str) else str(value)))


def lines(*values: Any) -> Text:
    """Each value as inert text, one per line: the line breaks are the code's own, so
    a line break inside a value is still written out (``\\x0a``)."""
    return Text("\n").join(safe(value) for value in values)


def engine_lines(text: str) -> Text:
    """Text the engine wrote with its own line breaks (the 一次告知 notice): shown on
    several lines; any other control character in a line is still written out."""
    return lines(*text.split("\n"))


def styled(value: Any, style: str) -> Text:
    """``value`` as inert text in ``style`` (a red card, a bold case number)."""
    text = safe(value).copy()
    text.stylize(style)
    return text


def plain(value: Any) -> str:
    """``value`` as a string with control characters written out, for places that take
    a ``str`` with markup switched off (``notify(..., markup=False)``)."""
    return visible(value if isinstance(value, str) else str(value))
