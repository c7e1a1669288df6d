"""The activity that writes a case's state into the SQL read model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.projection import ProjectionBatch
from readmodel.database import ready_engine, reporting_outages
from readmodel.projection import project
from runtime.settings import get_settings


def read_model_engine() -> Engine:
    """The configured read model's engine, its schema created on first use in this process."""
    return ready_engine(get_settings().resolved_database_url)


@activity.defn(name="project_case")
def project_case(batch: ProjectionBatch) -> None:
    """Upsert the case, its tasks and new events; safe to retry and to run out of order.

    Synchronous on purpose: the database drivers block, and the worker runs sync
    activities in its thread pool. A malformed batch will never succeed, so it fails
    without retries instead of blocking the workflow forever.
    """
    try:
        with reporting_outages(get_settings().resolved_database_url):
            project(read_model_engine(), batch)
    except ValueError as err:
        raise ApplicationError(str(err), type="InvalidProjectionBatch", non_retryable=True) from err
    _record_lag(batch)


PROJECTION_LAG = "onechain_projection_lag"


def _record_lag(batch: ProjectionBatch) -> None:
    """How long after the workflow changed the case its row was written (ms histogram
    on the worker's metrics endpoint): the read model's staleness, as lists show it."""
    lag = max(timedelta(0), datetime.now(UTC) - batch.case.updated_at)
    activity.metric_meter().create_histogram_timedelta(
        PROJECTION_LAG, "Time from a case change in the workflow to its read-model row.", "ms"
    ).record(lag)
