"""The worker's view of the people who may act: refreshed from the shared database
every few seconds, so disabling someone (or ending their session, or taking a role
away) takes effect on their next action on every worker, even on a session already
open — without a database round trip inside an Update's validator.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from readmodel.accounts import DirectorySnapshot, directory_snapshot
from readmodel.database import read_session

logger = logging.getLogger(__name__)

#: How old the snapshot may get (e.g. the database is unreachable) before actions are
#: refused rather than judged on stale data.
MAX_STALENESS_SECONDS = 60.0


class DirectoryUnavailable(Exception):
    pass


class UserDirectory:
    """A snapshot of users and ended sessions, refreshed in a background thread."""

    def __init__(self, load: Callable[[], DirectorySnapshot], refresh_seconds: float = 2.0) -> None:
        self._load = load
        self._refresh_seconds = refresh_seconds
        self._snapshot: DirectorySnapshot | None = None
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @classmethod
    def for_engine(cls, engine: Engine, refresh_seconds: float = 2.0) -> UserDirectory:
        def load() -> DirectorySnapshot:
            from readmodel.database import missing, sqlite_file

            if (path := sqlite_file(engine.url)) is not None and not path.exists():
                raise missing(engine.url, "does not exist")  # a lost read model, named
            with read_session(engine) as session:
                return directory_snapshot(session)

        return cls(load, refresh_seconds)

    def refresh(self) -> DirectorySnapshot:
        """Load and install a snapshot. Refreshes never overlap: the timer's read that
        began before a user was added cannot finish after (and overwrite) the refresh
        asked for right after adding them."""
        with self._refreshing:
            snapshot = self._load()
            with self._lock:
                self._snapshot = snapshot
        return snapshot

    def start(self) -> None:
        """Load once now (so the first action is judged on real data), then keep fresh."""
        self.refresh()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="onechain-user-directory", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._refresh_seconds):
            try:
                self.refresh()
            except Exception as error:  # keep the last snapshot; staleness is judged on use
                from readmodel.errors import ReadModelError

                # Our own messages name the database and the fix, never a row's data.
                why = str(error) if isinstance(error, ReadModelError) else type(error).__name__
                logger.warning("user directory refresh failed: %s", why)

    def snapshot(self) -> DirectorySnapshot:
        with self._lock:
            snapshot = self._snapshot
        if snapshot is None:
            raise DirectoryUnavailable("用户目录尚未加载（user directory not loaded）")
        age = (datetime.now(UTC) - snapshot.taken_at).total_seconds()
        if age > max(MAX_STALENESS_SECONDS, 3 * self._refresh_seconds):
            raise DirectoryUnavailable(
                f"用户目录 {age:.0f} 秒未能刷新，数据库不可达？（user directory stale）"
            )
        return snapshot


_shared: dict[str, UserDirectory] = {}
_shared_lock = threading.Lock()


def shared_directory(engine: Engine, refresh_seconds: float) -> UserDirectory:
    """One directory per database per process: several workers in one process (tests)
    share the refresh thread."""
    key = str(engine.url)
    with _shared_lock:
        directory = _shared.get(key)
        if directory is None:
            directory = _shared[key] = UserDirectory.for_engine(engine, refresh_seconds)
            directory.start()
        return directory


def refresh_shared(engine: Engine) -> None:
    """Refresh this process's directory for ``engine`` now, if there is one (after a
    change made in-process, so the next action does not wait for the timer)."""
    with _shared_lock:
        directory = _shared.get(str(engine.url))
    if directory is not None:
        directory.refresh()


def wait_for_refresh(directory: UserDirectory, timeout: float = 10.0) -> None:
    """Force a refresh now (tests, and the CLI after changing a user in-process)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            directory.refresh()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
