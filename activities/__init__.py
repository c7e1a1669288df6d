"""Everything with side effects: read-model writes, notifications, the e-licence store.

The worker registers ``ALL_ACTIVITIES``. They are synchronous functions: the worker
runs them in its thread pool (``activity_executor``), since the database drivers block.
"""

from activities.licences import issue_licences
from activities.notifications import notify
from activities.projection import project_case

ALL_ACTIVITIES = [project_case, notify, issue_licences]

__all__ = ["ALL_ACTIVITIES", "issue_licences", "notify", "project_case"]
