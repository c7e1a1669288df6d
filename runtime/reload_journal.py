"""Which running cases a calendar load has told already, so an interrupted load resumes.

One file per schedule content (year and a digest of its days and source) in the data
folder: running ``onechain calendar load FILE`` again after a crash, a Ctrl-C or a lost
connection skips the cases already told and tells the rest. A different schedule for
the same year starts afresh (every case must hear of it). The file is deleted when a
load has told every running case.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from domain.calendar import YearSchedule


class ReloadJournal:
    def __init__(self, folder: Path, schedule: YearSchedule) -> None:
        content = json.dumps(schedule.model_dump(mode="json"), sort_keys=True).encode()
        digest = hashlib.sha256(content).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{schedule.year}-{digest}.told"
        self._file = None

    def told(self) -> frozenset[str]:
        """Cases an earlier, interrupted load of this same schedule told."""
        try:
            return frozenset(line for line in self.path.read_text().split() if line)
        except FileNotFoundError:
            return frozenset()

    def record(self, case_no: str) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(case_no + "\n")
        self._file.flush()

    def finished(self) -> None:
        """Every running case was told: nothing to resume."""
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
