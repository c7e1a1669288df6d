"""When Temporal or its workers do not answer: the console's own words.

The facade raises :class:`client.facade.WorkerUnavailable` (a ``CaseError``) when no
worker answered, none polls the case's queue, or Temporal stopped answering midway;
its message is English and gives command-line advice (``onechain cases show``).
A coordinator must not read that as the workflow refusing (「流程拒绝 …」): this
module tells an outage from a refusal and words it, saying whether an action may
still take effect. Pure Python (no Textual).
"""

from __future__ import annotations

from collections.abc import Callable

from tui.desk import is_connection_error

#: What the reader must know: nothing was read, the action may or may not apply
#: later, it was not applied, or the server cannot be reached at all.
NO_ANSWER, MAYBE_APPLIED, NOT_APPLIED, UNREACHABLE = (
    "no_answer",
    "maybe_applied",
    "not_applied",
    "unreachable",
)


def outage_kind(error: BaseException, *, acting: bool = False) -> str | None:
    """The kind of outage ``error`` reports, or None for anything else (a refusal,
    a bug). The facade's sentences are its contract: "may still be applied" or
    "may have been applied" after an action, "it was not applied" when no worker
    took it. ``acting``: the error answers an action already sent, so an unanswered
    one may still take effect when a worker picks it up."""
    try:
        from client.facade import WorkerUnavailable
    except ImportError:  # pragma: no cover
        WorkerUnavailable = ()  # type: ignore[assignment,misc]
    if isinstance(error, WorkerUnavailable):
        text = str(error)
        if "not applied" in text:
            return NOT_APPLIED
        if "may still be applied" in text or "may have been applied" in text:
            return MAYBE_APPLIED
        return MAYBE_APPLIED if acting else NO_ANSWER
    if is_connection_error(error):
        return UNREACHABLE
    return None


def outage_text(t: Callable[..., str], error: BaseException, *, acting: bool = False) -> str | None:
    """The outage in the console's words (``t``: ``Catalog.t``), or None if
    ``error`` is not an outage."""
    kind = outage_kind(error, acting=acting)
    return t(f"outage.{kind}") if kind is not None else None
