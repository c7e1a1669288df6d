"""Who the simulator and the demo act as: the one place their actors come from.

The demo's window clerk accepts the demo cases; the simulated window records
supplements, materials and the applicant's notices; one simulated reviewer per
department decides. How these identities are proven to the engine may change (signed
tokens); callers only ask this module for "the window" or "a reviewer of X".
"""

from __future__ import annotations

from domain.departments import department_name
from domain.roles import Actor, Role

#: Accepts the demo cases at the window (``up --demo``, ``simulate --demo-cases``).
DEMO_CLERK = Actor(
    user_id="demo-window", name="窗口（演示）", role=Role.WINDOW_CLERK, department="window"
)
#: Records what the applicant brings or reports, as the window would.
WINDOW = Actor(
    user_id="sim-window", name="综合窗口（模拟）", role=Role.WINDOW_CLERK, department="window"
)


def reviewer(department: str) -> Actor:
    """The simulated reviewer of ``department``."""
    return Actor(
        user_id=f"sim-{department}",
        name=f"{department_name(department)}审查员（模拟）"[:64],
        role=Role.REVIEWER,
        department=department,
    )
