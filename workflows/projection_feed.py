"""The hint a case workflow leaves when its state changed: "project me".

Cases are projected to the read model by the worker's :class:`runtime.projector.Projector`,
which reads each changed case's *committed* rows (from its memo, or with a Query for
older cases) and writes them. The hint itself is no command, no history event, nothing
the Update waits for. Why not a local activity per change (as
before)? Its write ran inside the workflow task, so every decision waited on the
database, and a task that Temporal never committed (a killed worker, a failed
speculative Update task) still left its rows behind. A Query is answered from
committed history only.

This module is one object in the worker process: the workflows and the projectors
of one worker process share it. It is plain Python with a lock, because workflow
tasks run on the worker's thread pool while the projectors run on the event loop.
"""

from __future__ import annotations

import threading  # deterministic: hints leave the case; replays send none
from collections.abc import Callable

#: Called with a workflow id and the memo revision the change wrote (0 for a case that
#: keeps no rows in its memo), from any thread; set by a projector for its task queue.
Listener = Callable[[str, int], None]

_lock = threading.Lock()
_listeners: dict[tuple[str, str], list[Listener]] = {}


def listen(namespace: str, task_queue: str, listener: Listener) -> Callable[[], None]:
    """Receive the ids of changed cases on ``task_queue``; returns the way to stop."""
    key = (namespace, task_queue)
    with _lock:
        _listeners.setdefault(key, []).append(listener)

    def stop() -> None:
        with _lock:
            found = _listeners.get(key, [])
            if listener in found:
                found.remove(listener)
            if not found:
                _listeners.pop(key, None)

    return stop


def note_change(namespace: str, task_queue: str, workflow_id: str, revision: int = 0) -> bool:
    """Tell this process's projector for ``task_queue`` that ``workflow_id`` changed,
    writing memo revision ``revision`` (see ``workflows.projection_memo``).

    Returns False when no projector listens (a replayer, a test worker built without
    one): the change then reaches the read model through ``reconcile`` only.
    """
    with _lock:
        found = list(_listeners.get((namespace, task_queue), ()))
    if not found:
        return False
    # Several projectors on one queue in one process (tests that play two machines):
    # any of them can read and write the case; the first one takes it.
    found[0](workflow_id, revision)
    return True
