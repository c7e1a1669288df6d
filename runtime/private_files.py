"""Owner-only data: the data folder 0700, every file in it 0600, and every file a
command writes that may hold personal data or secrets 0600 wherever it goes
(``open_private``: import error files, exports, reports, the demo accounts file).

The data folder holds the Temporal SQLite file (every case's history), the read
model (names, masked ids, e-licences) and the keystore. On a shared machine other
users must not read them, so the processes that create them (``up``, ``server``,
``worker``) set an owner-only umask before anything is written — the dev server
child process inherits it — and the folder is created 0700.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any

OWNER_ONLY_UMASK = 0o077


def owner_only_umask() -> int:
    """From now on this process (and its children) create files 0600 / folders 0700;
    returns the previous umask."""
    return os.umask(OWNER_ONLY_UMASK)


def make_private_dir(path: Path) -> None:
    """Create ``path`` 0700 (parents too); an existing folder of ours is narrowed to
    its owner, but never a shared sticky folder such as ``/tmp``."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    shared = info.st_mode & stat.S_ISVTX or info.st_uid != os.getuid()
    if info.st_mode & 0o077 and not shared:
        path.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def open_private(path: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``open(path, mode)`` for writing ("w", "wb", "a", "ab"), the file owner-only
    whatever the umask: created 0600, and an existing regular file narrowed to 0600
    (a file made 0644 by an older version, or by hand, would keep its mode)."""
    if mode.lstrip("x")[:1] not in ("w", "a"):
        raise ValueError(f"open_private writes: mode {mode!r}")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    descriptor = os.open(path, flags, 0o600)
    try:
        info = os.fstat(descriptor)
        # Only regular files: `-o /dev/stdout` must not change a terminal's mode.
        if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077 and info.st_uid == os.getuid():
            os.fchmod(descriptor, 0o600)
        return os.fdopen(descriptor, mode, **kwargs)
    except BaseException:
        os.close(descriptor)
        raise
