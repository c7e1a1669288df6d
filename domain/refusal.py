"""The one exception the rules of a case raise, and the reason check they share.

A refusal carries a stable :class:`Refusal` code and its parameters (task ids, task
names, department codes, numbers) so that each interface words it in its own
language (the console's catalog, the CLI); the English message built from the
code's template is what logs, ``--json`` output and older callers see. The workflow
sends code and parameters in the error's details (``workflows/case_workflow.py``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

#: A parameter's value: text, a number, or a list of texts (items, departments).
Param = str | int | list[str]


class Refusal(StrEnum):
    """Why an action was refused. The value is the stable code interfaces word;
    :data:`ENGLISH` holds each code's message template."""

    UNSPECIFIED = "unspecified"
    REASON_REQUIRED = "reason_required"
    CASE_NOT_RUNNING = "case_not_running"
    UNKNOWN_TASK = "unknown_task"
    TASK_NOT_OPEN = "task_not_open"
    DEPARTMENT_NEEDED = "department_needed"
    DEPARTMENT_NOT_IN_TASK = "department_not_in_task"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    NOT_DECIDED_BY_DEPARTMENT = "not_decided_by_department"
    VERIFICATION_NO_RETURN = "verification_no_return"
    TASK_AWAITS_SUPPLEMENT = "task_awaits_supplement"
    ALREADY_DECIDED = "already_decided"
    MATERIAL_ALREADY_RECEIVED = "material_already_received"
    OTHER_DEPARTMENT = "other_department"
    ON_BEHALF_NO_RETURN = "on_behalf_no_return"
    NO_TIME_LIMIT = "no_time_limit"
    ALREADY_EXTENDED = "already_extended"
    EXTENSION_TOO_LONG = "extension_too_long"
    UNKNOWN_DEPARTMENT = "unknown_department"
    DEPARTMENT_ALREADY_IN_TASK = "department_already_in_task"
    REVIEWER_NOT_IN_TASK = "reviewer_not_in_task"
    TASK_STOPPED_FOR_SUPPLEMENT = "task_stopped_for_supplement"
    SPECIAL_ALREADY_RUNNING = "special_already_running"
    NO_SUCH_SPECIAL = "no_such_special"
    SPECIAL_ENDS_BY_APPLICANT = "special_ends_by_applicant"
    REVIEWER_NOT_IN_SPECIAL = "reviewer_not_in_special"
    TASK_NOT_RETURNED = "task_not_returned"
    ITEMS_NOT_MISSING_IN_TASK = "items_not_missing_in_task"
    NOT_WAITING_FOR_EVENT = "not_waiting_for_event"
    NOT_CONCLUDED_YET = "not_concluded_yet"
    ALREADY_RATED = "already_rated"
    NOT_RECTIFICATION = "not_rectification"
    MATERIALS_NOT_MISSING = "materials_not_missing"
    CASE_WITHDRAWING = "case_withdrawing"
    ALREADY_AGENT = "already_agent"
    UNKNOWN_USER = "unknown_user"
    # Raised by the client facade, not the workflow (kept here: one list of codes).
    CASE_NOT_FOUND = "case_not_found"
    CASE_CLOSED = "case_closed"
    NOT_PERMITTED = "not_permitted"


#: The English message of each code (what logs and ``--json`` show).
ENGLISH: dict[Refusal, str] = {
    Refusal.UNSPECIFIED: "{message}",
    Refusal.REASON_REQUIRED: "{action}: a reason is required",
    Refusal.CASE_NOT_RUNNING: "case {case_no} is {status}; no more actions",
    Refusal.UNKNOWN_TASK: "unknown task '{task}' in case {case_no} (tasks: {tasks})",
    Refusal.TASK_NOT_OPEN: "task {task} is already {status}",
    Refusal.DEPARTMENT_NEEDED: "task {task} is joint ({departments}): name the department",
    Refusal.DEPARTMENT_NOT_IN_TASK: (
        "department {department} has no part in task {task} (departments: {departments})"
    ),
    Refusal.ROLE_NOT_ALLOWED: "{action}: role {role} may not do this (allowed: {allowed})",
    Refusal.NOT_DECIDED_BY_DEPARTMENT: "task {task} ({task_name}) is not decided by a department",
    Refusal.VERIFICATION_NO_RETURN: "task {task}: a verification is approved or rejected",
    Refusal.TASK_AWAITS_SUPPLEMENT: (
        "task {task} was returned for supplement and waits for: {items}"
    ),
    Refusal.ALREADY_DECIDED: "department {department} already decided task {task}: {verdict}",
    Refusal.MATERIAL_ALREADY_RECEIVED: (
        "{material} was already received ({source}); a material is never asked for twice"
    ),
    Refusal.OTHER_DEPARTMENT: (
        "reviewer of {actor_department} may not decide for department {department}"
    ),
    Refusal.ON_BEHALF_NO_RETURN: "decide on behalf: only approve or reject",
    Refusal.NO_TIME_LIMIT: "task {task} has no time limit to extend",
    Refusal.ALREADY_EXTENDED: "the limit of {target} was already extended once (+{days})",
    Refusal.EXTENSION_TOO_LONG: "extend {target}: at most {max_days} working days, asked {days}",
    Refusal.UNKNOWN_DEPARTMENT: "unknown department '{department}'",
    Refusal.DEPARTMENT_ALREADY_IN_TASK: "department {department} already has a part in task {task}",
    Refusal.REVIEWER_NOT_IN_TASK: "reviewer of {actor_department} has no part in task {task}",
    Refusal.TASK_STOPPED_FOR_SUPPLEMENT: "task {task} is already stopped for supplement",
    Refusal.SPECIAL_ALREADY_RUNNING: "task {task} already has a special procedure running",
    Refusal.NO_SUCH_SPECIAL: "no running special procedure '{suspension}'",
    Refusal.SPECIAL_ENDS_BY_APPLICANT: "{suspension} ends when the applicant acts, not by hand",
    Refusal.REVIEWER_NOT_IN_SPECIAL: "reviewer of {actor_department} has no part in {suspension}",
    Refusal.TASK_NOT_RETURNED: "task {task} was not returned for supplement",
    Refusal.ITEMS_NOT_MISSING_IN_TASK: "not missing in task {task}: {items} (missing: {missing})",
    Refusal.NOT_WAITING_FOR_EVENT: "the case is not waiting for '{event}' (waiting for: {waiting})",
    Refusal.NOT_CONCLUDED_YET: "case {case_no} is not concluded yet; rate it afterwards",
    Refusal.ALREADY_RATED: "case {case_no} was already rated ({score})",
    Refusal.NOT_RECTIFICATION: "task {task} is not a rectification task",
    Refusal.MATERIALS_NOT_MISSING: "not missing: {items} (missing: {missing})",
    Refusal.CASE_WITHDRAWING: "the case is being withdrawn; no more actions",
    Refusal.ALREADY_AGENT: "{agent} is already the agent of case {case_no}",
    Refusal.UNKNOWN_USER: "unknown or disabled user '{user}'",
    Refusal.CASE_NOT_FOUND: "case {case_no} not found",
    Refusal.CASE_CLOSED: "case {case_no} is closed; no more actions",
    Refusal.NOT_PERMITTED: "{message}",
}

if set(ENGLISH) != set(Refusal):
    raise RuntimeError("domain.refusal: every Refusal code needs an English template")


def english(value: Param | None) -> str:
    """One parameter as the English message shows it (lists joined, none as "none")."""
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return str(value)


def render(code: Refusal, params: dict[str, Param]) -> str:
    """The English message of ``code`` with ``params`` (a missing one shows its name)."""

    class _Shown(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return ENGLISH[code].format_map(_Shown({k: english(v) for k, v in params.items()}))


class ActionRefused(Exception):
    """An action that may not be taken, and why: a :class:`Refusal` code with its
    parameters (worded by each interface) and the English message (``str()``).

    ``ActionRefused("text")`` still works: code ``unspecified``, the text as message.
    """

    def __init__(
        self, code: Refusal | str, message: str | None = None, **params: Param | None
    ) -> None:
        if not isinstance(code, Refusal):
            message, code, params = str(code), Refusal.UNSPECIFIED, {"message": str(code)}
        self.code: Refusal = code
        self.params: dict[str, Param] = {k: v for k, v in params.items() if v is not None}
        super().__init__(message or render(code, self.params))

    @property
    def message(self) -> str:
        return str(self)

    def details(self) -> dict[str, Any]:
        """What the workflow sends with the error (plain JSON)."""
        return {"code": self.code.value, "params": self.params}


def need_reason(reason: str, action: str) -> None:
    if not reason.strip():
        raise ActionRefused(Refusal.REASON_REQUIRED, action=action)
