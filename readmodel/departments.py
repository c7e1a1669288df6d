"""The departments of the office, kept in the shared database.

Chains name departments by code (``fire``); what people read is the name (消防救援支队),
and each office has its own departments and names. Revision
``0004_calendars_departments`` seeds the table with ``domain.departments.DEPARTMENTS``;
an administrator adds or renames with ``onechain departments add|rename``.

``domain/`` stays pure: workflow code keeps using the code list for the names it
writes into history (a rename must never change what a replay computes). Screens and
commands that *show* names take a :class:`DepartmentNames` from here instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, select

from domain.departments import DEPARTMENTS
from domain.text import describe_unsafe
from readmodel.database import read_session, write_session
from readmodel.errors import ReadModelError
from readmodel.tables import UTCDateTime

#: A department code as chains write it: lower-case letters, digits and ``_``.
CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,31}")
NAME_MAX = 64


class DepartmentRecord(SQLModel, table=True):
    """One department: the code chains name it by and the name people read."""

    __tablename__ = "departments"

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=NAME_MAX)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_by: str = Field(default="", max_length=64)


class DepartmentError(ValueError):
    """A department that cannot be added or renamed; the message says why."""


def check_code(code: str) -> str:
    if not CODE_PATTERN.fullmatch(code):
        raise DepartmentError(
            f"department code {code!r} must be 2–32 lower-case letters, digits or _ "
            "starting with a letter, e.g. market_supervision"
        )
    return code


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise DepartmentError("a department name cannot be empty")
    if len(name) > NAME_MAX:
        raise DepartmentError(f"department name is {len(name)} characters, at most {NAME_MAX}")
    if (problem := describe_unsafe(name)) is not None:
        raise DepartmentError(f"department name {problem}")
    return name


def list_departments(session: Session) -> list[DepartmentRecord]:
    return list(session.exec(select(DepartmentRecord).order_by(DepartmentRecord.code)))


def add_department(engine: Engine, code: str, name: str, by: str) -> DepartmentRecord:
    check_code(code)
    name = check_name(name)
    with write_session(engine) as session:
        if session.get(DepartmentRecord, code) is not None:
            raise DepartmentError(
                f"department {code!r} already exists (rename it with `onechain departments rename`)"
            )
        record = DepartmentRecord(code=code, name=name, updated_at=datetime.now(UTC), updated_by=by)
        session.add(record)
        return DepartmentRecord.model_validate(record)


def rename_department(engine: Engine, code: str, name: str, by: str) -> tuple[str, str]:
    """Give ``code`` a new name; returns (old name, new name)."""
    name = check_name(name)
    with write_session(engine) as session:
        record = session.get(DepartmentRecord, code)
        if record is None:
            raise DepartmentError(
                f"no department {code!r} (see `onechain departments list`; add it with "
                "`onechain departments add`)"
            )
        old = record.name
        record.name, record.updated_at, record.updated_by = name, datetime.now(UTC), by
        session.add(record)
        return old, name


def load_names(engine: Engine) -> dict[str, str]:
    with read_session(engine) as session:
        return {r.code: r.name for r in list_departments(session)}


def department_codes(engine: Engine) -> set[str]:
    """The codes chains may name (``chains check`` checks against these)."""
    with read_session(engine) as session:
        return set(session.exec(select(DepartmentRecord.code)))


@dataclass
class DepartmentNames:
    """``names(code)`` → the office's name for a department, read from the database
    once on first use; the code list in ``domain.departments`` answers when the
    database cannot (a screen must still show something), the code itself last."""

    load: Callable[[], dict[str, str]]
    _names: dict[str, str] | None = None

    @classmethod
    def of(cls, engine: Engine) -> DepartmentNames:
        return cls(lambda: load_names(engine))

    def __call__(self, code: str) -> str:
        if self._names is None:
            try:
                self._names = self.load()
            except (ReadModelError, SQLAlchemyError):  # server gone, schema not there yet
                self._names = {}
        return self._names.get(code) or DEPARTMENTS.get(code, code)
