"""A case's read-model rows, kept in its Temporal memo.

Why. The read model is derived from Temporal. Before, reading a case's rows meant a
Query, which a worker answers by loading the case, replaying its whole history when
the case is not in its cache: 70-80 cases a second on one core, so rebuilding the read
model of 24,000 cases took over five minutes, and every change cost the worker a Query
activation. The memo is held by the Temporal server itself: ``DescribeWorkflowExecution``
returns it for one case and ``ListWorkflowExecutions`` for a thousand at a time, with
no worker involved. The projector reads changed cases by Describe and ``onechain
reconcile`` reads every case from the list.

What. After every change the workflow upserts, in the same workflow task (so the memo
is committed with the change, or not at all):

- ``p.rev``: a counter the projector's hint carries, so a Describe that arrives before
  the task is committed is recognised as stale and asked again;
- ``p.case``: the case row (always);
- ``p.t.<position>``: each task row that changed (a decision changes one task: the
  memo is not sent its siblings again);
- ``p.ev.<first seq>``: the events recorded since the last upsert (a memo upsert
  merges keys, so history grows by the new events only, never by the whole log);
- ``p.derived``: e-licences, revocation and publication, when changed;
- ``p.n.<first index>``: the notifications sent since the last upsert. Cases begun
  before ``features-2026-12`` keep them in ``p.derived``, all of them in every upsert,
  so a case that notified often (each urge notifies) grew its history by every
  notification it had ever sent, each time.

The memo passes through the payload codec like every other payload, so the applicant's
data in it is sealed; search attributes, which are not, stay free of it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from domain.projection import (
    CaseRow,
    DerivedRecords,
    EventRow,
    Notification,
    ProjectionBatch,
    Reconciliation,
    TaskRow,
)

REV = "p.rev"
CASE = "p.case"
TASK_PREFIX = "p.t."
EVENTS_PREFIX = "p.ev."
DERIVED = "p.derived"
NOTIFICATIONS_PREFIX = "p.n."


class MemoWriter:
    """Lives in a case workflow: turns its projection into the memo fields that changed.

    It keeps what it last wrote, so a task that touched only the case row writes only
    the case row. Its state is rebuilt by replay (the same history gives the same
    fields), so it needs no storage of its own.
    """

    def __init__(self, *, notifications_apart: bool = False) -> None:
        self.rev = 0
        self._events_through = 0
        self._tasks: list[TaskRow] = []
        self._derived: DerivedRecords | None = None
        #: New notifications go in ``p.n.<first index>`` chunks (not in ``p.derived``).
        self._notifications_apart = notifications_apart
        self._notified = 0

    @property
    def events_through(self) -> int:
        """The last event sequence number already in the memo."""
        return self._events_through

    def derived_fields(self, derived: DerivedRecords) -> dict[str, Any]:
        """``p.derived`` if ``derived`` changed since the memo was last written, and the
        new notifications' chunk; nothing if neither changed. The read model's copies
        (licences, notifications, publication) are written by the activities
        themselves, so this needs no projector."""
        fields: dict[str, Any] = {}
        if self._notifications_apart:
            new = derived.notifications[self._notified :]
            if new:
                fields[f"{NOTIFICATIONS_PREFIX}{self._notified}"] = list(new)
                self._notified = len(derived.notifications)
            derived = derived.model_copy(update={"notifications": []})
        if derived != self._derived:
            self._derived = derived.model_copy(deep=True)
            fields[DERIVED] = self._derived
        return fields

    def fields(self, batch: ProjectionBatch, derived: DerivedRecords) -> dict[str, Any]:
        """The memo fields for ``batch`` (its events after ``events_through``) and
        ``derived``: what to pass to ``workflow.upsert_memo``."""
        self.rev += 1
        fields: dict[str, Any] = {REV: self.rev, CASE: batch.case}
        for position, task in enumerate(batch.tasks):
            if position >= len(self._tasks) or self._tasks[position] != task:
                fields[f"{TASK_PREFIX}{position}"] = task
        for position in range(len(batch.tasks), len(self._tasks)):
            fields[f"{TASK_PREFIX}{position}"] = None  # upsert_memo removes a key set to None
        self._tasks = list(batch.tasks)
        new_events = [e for e in batch.events if e.seq > self._events_through]
        if new_events:
            fields[f"{EVENTS_PREFIX}{new_events[0].seq}"] = new_events
            self._events_through = new_events[-1].seq
        return fields | self.derived_fields(derived)


def holds_projection(memo: Mapping[str, Payload]) -> bool:
    """Whether a case keeps its rows in its memo (cases begun before it did not)."""
    return CASE in memo


async def _decode(converter: DataConverter, payload: Payload, type_hint: type) -> Any:
    return (await converter.decode([payload], [type_hint]))[0]


async def memo_revision(converter: DataConverter, memo: Mapping[str, Payload]) -> int:
    """The memo's ``p.rev`` (0 when absent)."""
    payload = memo.get(REV)
    return int(await _decode(converter, payload, int)) if payload is not None else 0


def _numbered(memo: Mapping[str, Payload], prefix: str) -> list[tuple[int, str]]:
    """The keys ``<prefix><number>`` in number order."""
    return sorted((int(k.removeprefix(prefix)), k) for k in memo if k.startswith(prefix))


class TaskRowCache:
    """Task rows already decoded, by the bytes of their memo payload.

    A memo keeps every task row of the case, and a change rewrites only the rows it
    touched: the projector, reading a case after each change, would otherwise unseal and
    validate all of them every time (most of a read's work). The same payload bytes are
    the same row (a sealed payload's bytes include its random nonce, so a rewritten row
    never matches an old one), and the rows are only read after decoding."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._rows: OrderedDict[bytes, TaskRow] = OrderedDict()

    @staticmethod
    def _key(payload: Payload) -> bytes:
        return hashlib.blake2b(payload.SerializeToString(), digest_size=16).digest()

    def get(self, payload: Payload) -> TaskRow | None:
        key = self._key(payload)
        row = self._rows.get(key)
        if row is not None:
            self._rows.move_to_end(key)
        return row

    def put(self, payload: Payload, row: TaskRow) -> None:
        self._rows[self._key(payload)] = row
        while len(self._rows) > self._size:
            self._rows.popitem(last=False)


async def projection_from_memo(
    converter: DataConverter,
    memo: Mapping[str, Payload],
    after_seq: int = 0,
    *,
    with_derived: bool = False,
    task_cache: TaskRowCache | None = None,
) -> tuple[ProjectionBatch, DerivedRecords | None]:
    """The rows the memo holds, with the events after ``after_seq`` (only the chunks
    that can hold such events are decoded), and its derived records if asked for.
    One codec call for all of it; task rows found in ``task_cache`` are not decoded."""
    all_tasks = [key for _, key in _numbered(memo, TASK_PREFIX)]
    cached = {
        key: row
        for key in all_tasks
        if task_cache is not None and (row := task_cache.get(memo[key])) is not None
    }
    tasks = [key for key in all_tasks if key not in cached]
    chunks = _numbered(memo, EVENTS_PREFIX)
    # A chunk holds the events from its first number up to the next chunk's first: it
    # can hold events after ``after_seq`` if the next chunk begins after after_seq + 1.
    event_keys = [
        key
        for index, (_, key) in enumerate(chunks)
        if index + 1 == len(chunks) or chunks[index + 1][0] > after_seq + 1
    ]
    derived_keys = [DERIVED] if with_derived and DERIVED in memo else []
    notified_keys = (
        [key for _, key in _numbered(memo, NOTIFICATIONS_PREFIX)] if with_derived else []
    )
    keys = [CASE, *tasks, *event_keys, *derived_keys, *notified_keys]
    hints: list[type] = [
        CaseRow,
        *[TaskRow] * len(tasks),
        *[list[EventRow]] * len(event_keys),
        *[DerivedRecords] * len(derived_keys),
        *[list[Notification]] * len(notified_keys),
    ]
    values = iter(await converter.decode([memo[k] for k in keys], hints))
    case: CaseRow = next(values)
    decoded: dict[str, TaskRow] = {key: next(values) for key in tasks}
    if task_cache is not None:
        for key, row in decoded.items():
            task_cache.put(memo[key], row)
    task_rows: list[TaskRow] = [cached.get(key) or decoded[key] for key in all_tasks]
    chunk_rows: list[list[EventRow]] = [next(values) for _ in event_keys]
    events = sorted(
        (e for rows in chunk_rows for e in rows if e.seq > after_seq), key=lambda e: e.seq
    )
    batch = ProjectionBatch(case=case, tasks=task_rows, events=events)
    if not with_derived:
        return batch, None
    derived: DerivedRecords = next(values) if derived_keys else DerivedRecords()
    for _ in notified_keys:
        derived.notifications.extend(next(values))
    return batch, derived


async def reconciliation_from_memo(
    converter: DataConverter, memo: Mapping[str, Payload]
) -> Reconciliation:
    """Everything ``onechain reconcile`` compares, from the memo alone."""
    batch, derived = await projection_from_memo(converter, memo, with_derived=True)
    return Reconciliation(batch=batch, derived=derived or DerivedRecords())
