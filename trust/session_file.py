"""Where a signed-in person's session is kept between commands: one small JSON file in
the user's config folder, readable by its owner only (mode 0600 in a 0700 folder).

It holds the token and the session's private key (``trust.action_proof``): together
they act as the person until the session expires or ``logout`` ends it, like a signed-in
browser's cookie jar. A session file written before sessions had keys has none; it is
read as no session (sign in again)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoredSession:
    token: str
    grant: str | None = None  # the role chosen at login, when the person holds several
    key: str | None = None  # the session key (``SessionKey.to_text``)


def session_path() -> Path:
    """``$ONECHAIN_SESSION_FILE``, else ``$XDG_CONFIG_HOME/onechain/session.json``
    (``~/.config/onechain/session.json``)."""
    explicit = os.environ.get("ONECHAIN_SESSION_FILE")
    if explicit:
        return Path(explicit)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "onechain" / "session.json"


def save(session: StoredSession, path: Path | None = None) -> Path:
    path = path or session_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(session), handle)
    os.replace(tmp, path)
    return path


def load(path: Path | None = None) -> StoredSession | None:
    path = path or session_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not data.get("key"):
            return None
        return StoredSession(token=str(data["token"]), grant=data.get("grant"), key=data["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear(path: Path | None = None) -> bool:
    path = path or session_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
