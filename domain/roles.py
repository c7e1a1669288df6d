"""Who may do what. The workflow checks these rules; the UI only hides what they forbid."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Role(StrEnum):
    WINDOW_CLERK = "window_clerk"  # 窗口受理人员
    REVIEWER = "reviewer"  # 部门审查人员 (of one department)
    COORDINATOR = "coordinator"  # 协调员
    SUPERVISOR = "supervisor"  # 督办/监察人员
    ADMINISTRATOR = "administrator"  # 系统管理员: people, keys, calendars
    SYSTEM = "system"  # the engine itself and outside systems (service accounts only)


ROLE_NAMES_ZH: dict[Role, str] = {
    Role.WINDOW_CLERK: "窗口人员",
    Role.REVIEWER: "部门审查人员",
    Role.COORDINATOR: "协调员",
    Role.SUPERVISOR: "督办人员",
    Role.ADMINISTRATOR: "系统管理员",
    Role.SYSTEM: "系统",
}


class Actor(BaseModel):
    """The person (or system) behind an action; recorded with every event."""

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    role: Role
    department: str | None = None

    @model_validator(mode="after")
    def _reviewer_has_department(self) -> Actor:
        if self.role is Role.REVIEWER and not self.department:
            raise ValueError("a reviewer must belong to a department")
        return self

    def describe(self) -> str:
        dept = f"/{self.department}" if self.department else ""
        return f"{self.name}({self.user_id}, {self.role.value}{dept})"


class Grant(BaseModel):
    """One role a person holds, e.g. ``reviewer:fire``; a person may hold several.

    A signed-in person acts in one grant at a time (the one the action needs), so the
    workflow's rules keep seeing one :class:`Actor` with one role.
    """

    model_config = ConfigDict(frozen=True)

    role: Role
    department: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _department_only_for_reviewers(self) -> Grant:
        if self.role is Role.REVIEWER and not self.department:
            raise ValueError("a reviewer grant names a department, e.g. reviewer:fire")
        if (
            self.role is not Role.REVIEWER
            and self.role is not Role.WINDOW_CLERK
            and self.department
        ):
            raise ValueError(f"role {self.role.value} does not belong to a department")
        return self

    @classmethod
    def parse(cls, text: str) -> Grant:
        """``reviewer:fire`` → Grant(REVIEWER, "fire"); ``coordinator`` → Grant(COORDINATOR)."""
        role, _, department = text.strip().partition(":")
        try:
            parsed = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {role!r} (roles: {roles})") from None
        return cls(role=parsed, department=department or None)

    def label(self) -> str:
        return f"{self.role.value}:{self.department}" if self.department else self.role.value

    def actor(self, user_id: str, name: str) -> Actor:
        return Actor(user_id=user_id, name=name, role=self.role, department=self.department)


SYSTEM_ACTOR = Actor(user_id="system", name="系统", role=Role.SYSTEM)


class PermissionDenied(Exception):
    """Raised by :func:`require_role` with a message fit to show the user."""


def require_role(actor: Actor, allowed: set[Role], action: str) -> None:
    if actor.role not in allowed:
        names = "、".join(sorted(ROLE_NAMES_ZH[r] for r in allowed))
        raise PermissionDenied(
            f"{action}: role {actor.role.value} may not do this (allowed: {names})"
        )
