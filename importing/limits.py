"""What one import file may cost, and the message when it costs more.

A file is refused *before* it is parsed when it is too big on disk, when an XLSX
(a zip) declares more unpacked bytes or more parts than allowed, or as soon as it has
more rows than allowed; a cell longer than allowed is a row problem (that row is
rejected, the others go on). Each message names the limit, the value found and how to
raise it: a flag of ``onechain import`` or an ``ONECHAIN_IMPORT_MAX_*`` variable.

The defaults fit a year of one city's applications in one file with room to spare;
they exist so that a hostile or broken file (a zip bomb, a 5 MB cell) is refused in
milliseconds instead of eating the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1_000_000


class _FromEnvironment(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONECHAIN_IMPORT_", extra="ignore")

    max_file_mb: float = 50
    max_rows: int = 100_000
    max_cell_chars: int = 4_000
    max_unpacked_mb: float = 200
    max_xlsx_parts: int = 1_000


@dataclass(frozen=True)
class ImportLimits:
    max_file_mb: float = 50
    max_rows: int = 100_000
    max_cell_chars: int = 4_000
    max_unpacked_mb: float = 200  # XLSX: all parts of the zip, unpacked
    max_xlsx_parts: int = 1_000  # XLSX: files inside the zip

    @classmethod
    def from_environment(cls, **overrides: Any) -> ImportLimits:
        """``ONECHAIN_IMPORT_MAX_*`` variables, then ``overrides`` that are not None
        (the command line's flags)."""
        limits = cls(**_FromEnvironment().model_dump())
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(limits, **given)

    def __post_init__(self) -> None:
        for spec in fields(self):
            if getattr(self, spec.name) <= 0:
                raise ValueError(f"{spec.name} must be more than 0")

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_unpacked_bytes(self) -> int:
        return int(self.max_unpacked_mb * MB)


#: How each limit is raised, for the messages.
HOW_TO_RAISE = {
    "max_file_mb": "--max-file-mb or ONECHAIN_IMPORT_MAX_FILE_MB",
    "max_rows": "--max-rows or ONECHAIN_IMPORT_MAX_ROWS",
    "max_cell_chars": "--max-cell-chars or ONECHAIN_IMPORT_MAX_CELL_CHARS",
    "max_unpacked_mb": "--max-unpacked-mb or ONECHAIN_IMPORT_MAX_UNPACKED_MB",
    "max_xlsx_parts": "ONECHAIN_IMPORT_MAX_XLSX_PARTS",
}


def over_limit(what: str, found: str, limit: str, name: str) -> str:
    """``<what> is <found>, more than the limit of <limit> (raise it with …)``."""
    return f"{what} is {found}, more than the limit of {limit} (raise it with {HOW_TO_RAISE[name]})"


def megabytes(count: int) -> str:
    if count < MB:
        return f"{count / MB:.2f} MB ({count:,} bytes)"
    return f"{count / MB:,.1f} MB"
