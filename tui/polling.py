"""When a screen's refresh timer may reload it: only while it is on show, and less
often the longer nobody has touched the console.

Every screen reloads on a timer (the read model, or a case's Query). A console in a
browser tab nobody looks at used to poll as hard as one in use: twenty idle browser
consoles took most of a core (issue 26), and screens under others (a mode not shown,
a list under an open case) reloaded too, some after their widgets were gone at the
end of a session (the ``NoMatches '#cases'`` tracebacks in the session log). So:

* a screen that is not the one on show, or is being taken down, does not reload
  (it reloads at its next tick once it is on show again);
* after :data:`IDLE_AFTER` seconds without a key, a click or a paste, the ticks that
  reload are spaced out, doubling up to :data:`IDLE_EVERY_MAX` seconds; the first
  key makes them regular again. Apps that keep no ``last_input`` (the terminal's
  console, tests) are never backed off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: Seconds without input after which a console counts as idle.
IDLE_AFTER = 60.0
#: Longest gap between reloads of an idle console, in seconds.
IDLE_EVERY_MAX = 60.0


def on_show(screen: Any) -> bool:
    """Whether ``screen`` is mounted, attached, not closing and the one on show."""
    try:
        return bool(
            screen.is_attached
            and screen.is_mounted
            and not screen._closing
            and not screen._closed
            and screen.is_current
        )
    except Exception:  # no app any more (the session ended)
        return False


def polled(screen: Any, reload: Callable[[], None], every: float) -> Callable[[], None]:
    """``reload`` as a timer callback for ``screen`` ticking each ``every`` seconds."""
    last_reload = [time.monotonic()]

    def tick() -> None:
        if not on_show(screen):
            return
        now = time.monotonic()
        last_input = getattr(screen.app, "last_input", None)
        if last_input is not None:
            idle = now - last_input
            if idle > IDLE_AFTER:
                gap = min(IDLE_EVERY_MAX, every * 2 ** int((idle - IDLE_AFTER) // IDLE_AFTER + 1))
                if now - last_reload[0] < gap - 0.01:
                    return
        last_reload[0] = now
        reload()

    return tick
