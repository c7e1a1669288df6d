"""Outside text shown in several lines, still inert.

``cli.safe_text.safe`` writes every control character out (``\\x1b`` shows as
``\\x1b``), line breaks included: right for a table cell, wrong for a dialog whose
text has lines on purpose (the confirmation printed a literal ``\\x0a``). Here the
line breaks stay breaks and everything else is made safe as before.
"""

from __future__ import annotations

from rich.text import Text

from cli.safe_text import safe


def safe_lines(text: str) -> Text:
    """``text`` as inert lines: each line through ``safe``, joined by real breaks
    (``\\r\\n`` and ``\\r`` count as breaks too)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Text("\n").join(safe(line) for line in lines)
