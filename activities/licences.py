"""Recording issued licences in the e-licence store (电子证照库)."""

from __future__ import annotations

import logging

from temporalio import activity

from activities.projection import read_model_engine
from domain.projection import IssueLicences
from readmodel.database import write_session
from readmodel.projection import store_licences

logger = logging.getLogger(__name__)


@activity.defn(name="issue_licences")
def issue_licences(request: IssueLicences) -> None:
    """Store the licences once each by number, so a retried activity adds nothing.

    Logs case numbers and counts only: licences carry the holder's id.
    """
    with write_session(read_model_engine()) as session:
        stored = store_licences(session, request.licences)
    cases = sorted({licence.case_no for licence in request.licences})
    logger.info(
        "licences stored=%d of %d case_no=%s", stored, len(request.licences), ",".join(cases)
    )
