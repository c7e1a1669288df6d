"""What a check found: one line each, ok / warn / fail (skip when it could not run)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    #: Not checked because an earlier check failed (that failure is the one to fix).
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str

    def line(self) -> str:
        return f"{self.level.value:<4}  {self.check:<18} {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "level": self.level.value}


def ok(check: str, message: str) -> Finding:
    return Finding(check, Level.OK, message)


def warn(check: str, message: str) -> Finding:
    return Finding(check, Level.WARN, message)


def fail(check: str, message: str) -> Finding:
    return Finding(check, Level.FAIL, message)


def skip(check: str, because: str) -> Finding:
    return Finding(check, Level.SKIP, f"not checked: {because}")


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when everything is ok, 1 when something warns, 2 when something fails."""
    levels = {f.level for f in findings}
    if Level.FAIL in levels:
        return 2
    if Level.WARN in levels:
        return 1
    return 0
