"""Who may do what. The workflow checks these rules; the UI only hides what they forbid."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Role(StrEnum):
    WINDOW_CLERK = "window_clerk"  # 窗口受理人员
    REVIEWER = "reviewer"  # 部门审查人员 (of one department)
    COORDINATOR = "coordinator"  # 协调员
    SUPERVISOR = "supervisor"  # 督办/监察人员
    SYSTEM = "system"  # the engine itself and outside systems


ROLE_NAMES_ZH: dict[Role, str] = {
    Role.WINDOW_CLERK: "窗口人员",
    Role.REVIEWER: "部门审查人员",
    Role.COORDINATOR: "协调员",
    Role.SUPERVISOR: "督办人员",
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


SYSTEM_ACTOR = Actor(user_id="system", name="系统", role=Role.SYSTEM)


class PermissionDenied(Exception):
    """Raised by :func:`require_role` with a message fit to show the user."""


def require_role(actor: Actor, allowed: set[Role], action: str) -> None:
    if actor.role not in allowed:
        names = "、".join(sorted(ROLE_NAMES_ZH[r] for r in allowed))
        raise PermissionDenied(
            f"{action}: role {actor.role.value} may not do this (allowed: {names})"
        )
