"""A poor man's sampling profiler: where a process's Python threads spend their time.

Every ``interval`` seconds it looks at each thread's current stack
(``sys._current_frames``) and counts, per function, the samples in which it is on the
stack (inclusive) and on top (self). It sees Python only: time in the SDK's Rust core,
the dev server or SQLite's C code shows as the Python call that waits on it. Used by
``bench_calendar_load.py --profile`` to say where a calendar load's time goes.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from types import FrameType


class Sampler:
    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.inclusive: Counter[str] = Counter()
        self.own: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _name(frame: FrameType) -> str:
        code = frame.f_code
        path = code.co_filename
        for marker in ("site-packages/", "/onechain/", "wt-calendar/"):
            if marker in path:
                path = path.split(marker, 1)[1]
        return f"{path}:{code.co_name}"

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self.interval):
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                top = self._name(frame)
                if top.endswith(("threading.py:wait", "queue.py:get", ":select", ":_worker")):
                    continue  # an idle thread
                self.samples += 1
                self.own[top] += 1
                seen = set()
                walk: FrameType | None = frame
                while walk is not None:
                    name = self._name(walk)
                    if name not in seen:
                        seen.add(name)
                        self.inclusive[name] += 1
                    walk = walk.f_back

    def report(self, top: int = 30) -> str:
        lines = [f"{self.samples} busy-thread samples every {self.interval * 1000:.0f} ms"]
        lines.append("inclusive (share of busy samples with the function on the stack):")
        for name, count in self.inclusive.most_common(top):
            lines.append(f"  {count / max(self.samples, 1):6.1%}  {name}")
        lines.append("self (on top of the stack):")
        for name, count in self.own.most_common(top // 2):
            lines.append(f"  {count / max(self.samples, 1):6.1%}  {name}")
        return "\n".join(lines)
