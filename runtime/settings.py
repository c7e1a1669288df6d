"""Configuration from the environment (``ONECHAIN_*``) with embedded defaults.

Temporal's own connection settings (address, namespace, TLS, API key) come from
the standard ``TEMPORAL_*`` variables / envconfig profiles, see ``runtime.connect``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONECHAIN_", extra="ignore")

    data_dir: Path = Path("data")
    #: Where the keystore lives (see ``runtime.keys``); default ``<data_dir>/keys``.
    keys_dir: Path | None = None
    database_url: str | None = None
    task_queue: str = "onechain"
    warning_fraction: float = 0.2
    session_hours: float = 8.0
    directory_refresh_seconds: float = 2.0
    #: Cases a worker keeps in memory (``max_cached_workflows``). A cached case answers a
    #: Query or takes an action without replaying its history first; each costs about
    #: 230-270 KiB of the worker's memory (docs/deploy.md, "Sizing").
    worker_cache: int = Field(default=1000, ge=0)
    #: How often a worker looks for cases changed around onechain (reset, terminated,
    #: deleted with the stock ``temporal`` CLI; ``runtime.outside_sweep``); 0: never.
    outside_sweep_seconds: float = Field(default=30.0, ge=0)
    #: How often a worker evaluates the 电子监察 rules on what is new in the audit trail
    #: (``runtime.supervise_loop``); 0: never (``onechain supervise run`` still does).
    supervise_seconds: float = Field(default=60.0, ge=0)
    #: How workers and services log on stderr: ``text`` (a terminal) or ``json`` (one
    #: object per line, for a log shipper; ``runtime.log_setup``).
    log_format: Literal["text", "json"] = "text"
    #: The sign-in service (``onechain signin-service``; ``up`` runs one): the only place
    #: that holds the private signing key. ``login``, the console and batch jobs ask it.
    signin_url: str = "http://127.0.0.1:7240"
    #: The audit trail's anchor file (``readmodel.audit_anchors``); default
    #: ``<data_dir>/audit/anchors.jsonl``. Keep it on another disk or host than the database.
    audit_anchors: Path | None = None
    #: How often a running worker anchors the audit chain's head (when it moved).
    audit_anchor_seconds: float = Field(default=60.0, gt=0)
    #: Refused attempts without a valid identity: detailed audit rows per reason and
    #: window, then one summary row ("and K more") per window.
    audit_security_per_window: int = Field(default=20, ge=1)
    audit_security_window_seconds: float = Field(default=60.0, gt=0)

    @property
    def resolved_database_url(self) -> str:
        """The read model's SQLAlchemy URL: a SQLite file in the data folder by default."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'readmodel.sqlite3').resolve()}"

    @property
    def audit_anchors_file(self) -> Path:
        """``ONECHAIN_AUDIT_ANCHORS``, by default ``<data_dir>/audit/anchors.jsonl``."""
        if self.audit_anchors is not None:
            return self.audit_anchors
        return self.data_dir / "audit" / "anchors.jsonl"

    @property
    def calendars_dir(self) -> Path:
        """Where loaded official schedule files are kept (one JSON file per year)."""
        return self.data_dir / "calendars"

    @property
    def temporal_db_file(self) -> Path:
        return self.data_dir / "temporal.sqlite3"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
