"""Text that came from outside (files, forms, other systems) is data, never instructions.

Three rules, one module, so every reader, writer and screen applies the same ones:

* **Refuse** what no form or file has a reason to carry: control characters (C0
  including tab and line breaks, DEL, C1), Unicode bidi overrides and isolates (which
  make ``exe.txt`` look like ``txt.exe``), line/paragraph separators and lone
  surrogates. :func:`unsafe_character` finds one; :func:`check_plain_text` and
  :func:`check_name` raise ``ValueError`` with a reason a user can act on.
* **Show** anything already stored as inert text: :func:`visible` turns each unsafe
  character into a visible ``\\x1b``-style escape, so nothing reaches a terminal as an
  escape sequence. Markup (Rich/Textual ``[bold]``) is handled by the display layers,
  which wrap the result in ``rich.text.Text`` (``cli.output.safe``).
* **Write** spreadsheet cells that cannot run: :func:`spreadsheet_cell` prefixes a
  cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return with ``'``
  (the OWASP CSV-injection rule); :func:`from_spreadsheet_cell` removes exactly that
  prefix again when such a file is imported back.

Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

import re
import unicodedata

#: Bidi embeddings, overrides and isolates, and the invisible direction marks.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
LINE_SEPARATORS = frozenset("\u2028\u2029")

#: First characters a spreadsheet program reads as the start of a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"

#: A name may not start with these: they are formulas in every spreadsheet, and a
#: name is copied into licences, public notices and other departments' systems whose
#: writers onechain does not control.
NAME_FORBIDDEN_START = ("=", "+", "-", "@")
NAME_MAX_CHARS = 100


#: Every unsafe character: C0 and DEL and C1 (Unicode category Cc), bidi controls,
#: line/paragraph separators, lone surrogates (category Cs). One regex: fast on big cells.
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)


def unsafe_character(text: str) -> tuple[int, str] | None:
    """The first unsafe character of ``text`` as (position, ``U+001B``), or None."""
    found = UNSAFE.search(text)
    if found is None:
        return None
    return found.start(), f"U+{ord(found.group()):04X}"


def describe_unsafe(text: str) -> str | None:
    """Why ``text`` is refused, or None when it is safe."""
    found = unsafe_character(text)
    if found is None:
        return None
    position, code = found
    char = text[position]
    what = "a bidi control" if char in BIDI_CONTROLS else "a control character"
    if char in "\t\n\r":
        what = "a tab or line break"
    return f"contains {what} ({code}) at character {position + 1}; type plain text"


def check_plain_text(text: str) -> str:
    """``text`` unchanged, or ``ValueError`` if it carries an unsafe character."""
    reason = describe_unsafe(text)
    if reason is not None:
        raise ValueError(reason)
    return text


def check_name(text: str) -> str:
    """A person's or organisation's name that is plausibly a name.

    No unsafe characters, at most 100 characters, at least one letter or digit (any
    script), and no leading ``= + - @`` (see ``NAME_FORBIDDEN_START``).
    """
    check_plain_text(text)
    stripped = text.strip()
    if not stripped:
        raise ValueError("required")
    if len(stripped) > NAME_MAX_CHARS:
        raise ValueError(f"at most {NAME_MAX_CHARS} characters, got {len(stripped)}")
    if stripped.startswith(NAME_FORBIDDEN_START):
        raise ValueError(
            f"a name may not start with {stripped[0]!r} (spreadsheets read it as a formula)"
        )
    if not any(unicodedata.category(c)[0] in "LN" for c in stripped):
        raise ValueError("has no letter or digit; is this really a name?")
    return text


def visible(text: str) -> str:
    """``text`` with every unsafe character written out (``\\x1b``, ``\\u202e``), so it
    can be shown in a terminal as it is, never acted on."""
    return UNSAFE.sub(_written_out, text)


def _written_out(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def spreadsheet_cell(text: str) -> str:
    """A cell for a CSV/XLSX file that no spreadsheet program runs as a formula."""
    if text.startswith(FORMULA_TRIGGERS):
        return FORMULA_GUARD + text
    return text


def spreadsheet_value(value: object) -> object:
    """A value for a CSV/XLSX writer: text made safe (visible control characters, no
    formula); numbers, dates and None unchanged (a number is never a formula)."""
    if isinstance(value, str):
        return spreadsheet_cell(visible(value))
    return value


def from_spreadsheet_cell(text: str) -> str:
    """Undo :func:`spreadsheet_cell`: ``'=x`` → ``=x``. Only a ``'`` followed by a
    formula trigger is removed (Excel, too, treats a leading ``'`` as "this is text")."""
    if text.startswith(FORMULA_GUARD) and text[1:2] and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text
