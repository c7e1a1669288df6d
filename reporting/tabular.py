"""Tables as the report files hold them: named columns with a kind (count, rate,
days, text), so the CSV, the XLSX and the JSON show the same rows and the XLSX can
format rates as percentages while keeping them numbers.

CSV: one UTF-8 file (with BOM, for Excel) per table, headed by the column keys
(machine-friendly, stable); every value through ``spreadsheet_value`` so a name can
never become a live formula.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from domain.text import spreadsheet_value


class Kind(Enum):
    TEXT = "text"
    COUNT = "count"
    RATE = "rate"  # a share 0–1, shown as a percentage
    DAYS = "days"  # working days, one decimal
    SCORE = "score"  # average rating, two decimals


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # the Chinese header of the XLSX
    kind: Kind = Kind.COUNT


@dataclass(frozen=True)
class Sheet:
    """One table of the report: ``name`` for file names, ``title`` for the XLSX tab."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]

    def values(self, row: dict[str, Any]) -> list[Any]:
        return [row.get(c.key) for c in self.columns]


def write_csv(sheet: Sheet, path: Path) -> None:
    """``sheet`` as an owner-only UTF-8 CSV (the report names people's departments'
    performance; it is for the office, not the world)."""
    from runtime.private_files import open_private

    with open_private(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([c.key for c in sheet.columns])
        for row in sheet.rows:
            writer.writerow(["" if v is None else spreadsheet_value(v) for v in sheet.values(row)])
