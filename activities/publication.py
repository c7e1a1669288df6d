"""七天双公示: publishing licensing decisions (the credit platform is outside;
this default gateway records the publication in the read model)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from temporalio import activity

from activities.projection import read_model_engine
from domain.projection import Publication
from readmodel.database import write_session
from readmodel.projection import record_publication

logger = logging.getLogger(__name__)


@activity.defn(name="publish_decision")
def publish_decision(publication: Publication) -> None:
    with write_session(read_model_engine()) as session:
        new = record_publication(session, publication, datetime.now(UTC))
    logger.info(
        "publication case_no=%s decision=%s new=%s", publication.case_no, publication.decision, new
    )
