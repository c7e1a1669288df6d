"""Everything with side effects: read-model writes, notifications, the e-licence store.

The worker registers ``ALL_ACTIVITIES``. They are synchronous functions: the worker
runs them in its thread pool (``activity_executor``), since the database drivers block.
"""

from activities.licences import find_elicences, issue_licences, revoke_licences
from activities.notifications import notify, notify_all
from activities.projection import project_case
from activities.publication import publish_decision

ALL_ACTIVITIES = [
    project_case,
    notify,
    notify_all,
    issue_licences,
    find_elicences,
    revoke_licences,
    publish_decision,
]

__all__ = [
    "ALL_ACTIVITIES",
    "find_elicences",
    "issue_licences",
    "notify",
    "notify_all",
    "project_case",
    "publish_decision",
    "revoke_licences",
]
