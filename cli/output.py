"""All CLI output goes through here: human tables by default, JSON for scripts,
errors as one line on stderr with a documented exit code.

Everything printed is text, never markup or terminal control: table cells and
messages go out as ``rich.text.Text`` (a name like ``[/bold]`` or ``[link=…]`` is shown
as typed), control characters are written out visibly (``domain.text.visible``), and
JSON escapes them. Styling is the code's, never the data's: pass a ``Text`` with a style
(``styled``) where a cell should be coloured.

Exit codes (also in ``onechain --help``): 0 ok, 1 some records rejected,
2 bad usage or unreadable file, 3 Temporal or the database unreachable.
Set ``ONECHAIN_DEBUG=1`` to see the full traceback of an error.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.safe_text import safe
from cli.safe_text import styled as styled  # re-exported for the commands' styled cells
from domain.text import unsafe_character, visible

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 some records rejected, 2 bad usage or unreadable file, "
    "3 Temporal or the database unreachable. ONECHAIN_DEBUG=1 shows tracebacks."
)

T = TypeVar("T")

# Piped output (files, `less`, scripts) gets wide tables instead of Rich's 80 columns,
# which would cut case numbers and names short.
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, soft_wrap=True)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def emit_json(data: Any) -> None:
    """One JSON document on stdout (UTF-8, Chinese unescaped; control characters,
    bidi controls and lone surrogates escaped as ``\\uXXXX``, still valid JSON)."""
    typer.echo(_json_safe(json.dumps(_plain(data), ensure_ascii=False, indent=2)))


def _json_safe(document: str) -> str:
    # json.dumps already escapes C0 inside strings, so a line break here is the
    # indentation's. Every other such character sits inside a string, where a \uXXXX
    # escape means the same character.
    if unsafe_character(document.replace("\n", "")) is None:
        return document
    return "".join(
        f"\\u{ord(c):04x}" if c != "\n" and unsafe_character(c) is not None else c for c in document
    )


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table; every cell is shown as text (see :func:`safe`)."""
    grid = Table(title=safe(title) if title else None, show_lines=False, header_style="bold")
    for column in columns:
        grid.add_column(safe(column))
    for row in rows:
        grid.add_row(*(safe(cell) for cell in row))
    stdout.print(grid)


def message(*parts: Any) -> None:
    """One line on stdout; ``parts`` (text or styled ``Text``) are joined as they are."""
    stdout.print(Text.assemble(*(safe(p) for p in parts)), highlight=False)


def note(*parts: Any) -> None:
    """Progress and side remarks: stderr, so ``--json`` output stays clean."""
    stderr.print(Text.assemble(*(safe(p) for p in parts)), highlight=False)


def fail(text: str, code: int = EXIT_USAGE) -> NoReturn:
    """One clear line on stderr, then exit with ``code``."""
    typer.echo(f"error: {visible(text)}", err=True)
    raise typer.Exit(code)


def _is_unreachable(error: BaseException) -> bool:
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(error, RPCError):
        return error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "Failed client connect" in text or "connection" in text.lower()
    )


def refusal_words(error: BaseException) -> str:
    """A refusal for people: worded from its code in the interface language
    ($ONECHAIN_LANG, Chinese by default), the English message after it in brackets
    (what logs and scripts match on); the message alone when it has no code."""
    message = str(error)
    if getattr(error, "code", None) is None:
        return message
    from tui.messages import LANGUAGES, Catalog

    lang = os.environ.get("ONECHAIN_LANG") or "zh"
    worded = Catalog(lang if lang in LANGUAGES else "zh").refused(error)
    if worded == message:
        return message
    return f"{worded}（{message}）" if lang != "en" else f"{worded} ({message})"


def guarded(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn the errors users cause or meet into one line and the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        from sqlalchemy.exc import OperationalError

        from client.facade import CaseError, CaseNotFound, InvalidApplication
        from readmodel.errors import ReadModelError

        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as error:
            if os.environ.get("ONECHAIN_DEBUG"):
                traceback.print_exc()
            if isinstance(error, InvalidApplication | CaseNotFound):
                fail(refusal_words(error), EXIT_USAGE)
            if isinstance(error, CaseError):
                fail(refusal_words(error), EXIT_REJECTED)
            if isinstance(error, ReadModelError):  # bad URL, no driver, schema behind/ahead
                fail(str(error), EXIT_UNREACHABLE if error.unreachable else EXIT_USAGE)
            if isinstance(error, OperationalError):
                if "no such column" in str(error.orig) or "no such table" in str(error.orig):
                    fail(
                        f"the read model's schema is older than this version ({error.orig}): "
                        "move the read-model file aside and run `onechain reconcile` to rebuild it",
                        EXIT_USAGE,
                    )
                fail(f"database unreachable: {error.orig}", EXIT_UNREACHABLE)
            if _is_unreachable(error):
                fail(f"Temporal unreachable: {error}", EXIT_UNREACHABLE)
            fail(f"{type(error).__name__}: {error}", EXIT_USAGE)

    return wrapper


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; the Temporal SDK's own log lines go to stderr, so
    stdout holds only what the command prints (``--json`` stays JSON under faults)."""
    from runtime.sdk_logging import sdk_logs_to_stderr

    sdk_logs_to_stderr()
    return asyncio.run(coro)
