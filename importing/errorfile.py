"""The ``--errors-out`` file: the rejected rows as they were, plus a ``reason`` column.

CSV in UTF-8 with a BOM, so Excel (including Chinese Excel) opens it with the right
characters; the header is the original file's, so after fixing the cells the file can be
imported again as it is (the importer ignores a ``reason`` column).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from importing.columns import normalise_header
from importing.readers import RawRow, Sheet, cell_text

REASON_HEADERS = frozenset({"reason", "原因", "错误原因"})


def write_errors_csv(path: Path, sheet: Sheet, rows: Iterable[tuple[RawRow, str]]) -> int:
    """Write ``(row, reason)`` pairs; returns how many rows were written."""
    keep = [i for i, h in enumerate(sheet.headers) if normalise_header(h) not in REASON_HEADERS]
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([sheet.headers[i] for i in keep] + ["reason"])
        for raw, reason in rows:
            cells = [cell_text(raw.values[i]) for i in keep]
            # Cells right of the last column stay after the reason, as in the original row.
            writer.writerow([*cells, reason, *(cell_text(v) for v in raw.extra)])
            count += 1
    return count
