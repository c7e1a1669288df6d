"""The worker's Prometheus endpoint (``onechain worker --metrics HOST:PORT``).

The Temporal SDK serves its own metrics (``temporal_*``: task latencies, slots,
polls, sticky cache...) from a runtime configured with a Prometheus bind address;
onechain's counters, emitted by workflow code through ``workflow.metric_meter()``
(``workflows.case_metrics``), and the worker's gauges (``runtime.open_cases_gauge``)
go through the same runtime, so one endpoint has them all. The runtime must be the
one the worker's client connects with.
"""

from __future__ import annotations

import logging
import re

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

_ADDRESS = re.compile(r"(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(?P<port>\d{1,5})")


class MetricsAddressError(ValueError):
    """A ``--metrics`` value that cannot be served; the message says why."""


def check_bind_address(text: str) -> str:
    """``HOST:PORT`` as Prometheus' exporter takes it, or a clear error."""
    found = _ADDRESS.fullmatch(text.strip())
    if found is None:
        raise MetricsAddressError(
            f"--metrics {text!r} must be HOST:PORT, e.g. 127.0.0.1:9464 (0.0.0.0:9464 for "
            "every interface)"
        )
    if not 0 < int(found["port"]) < 65536:
        raise MetricsAddressError(f"--metrics {text!r}: port must be 1..65535")
    return text.strip()


PROJECTION_LAG = "onechain_projection_lag"
#: Projection lag buckets (ms): 50 ms to 3 h, so an outage of hours is still measured.
LAG_BUCKETS_MS = (
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
    300_000, 900_000, 1_800_000, 3_600_000, 10_800_000,
)  # fmt: skip


def metrics_runtime(bind_address: str) -> Runtime:
    """A runtime serving ``/metrics`` on ``bind_address``; its core logs go to Python
    logging (``temporalio.core``) like the CLI's, never to the terminal directly."""
    address = check_bind_address(bind_address)
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=address,
                    histogram_bucket_overrides={PROJECTION_LAG: LAG_BUCKETS_MS},
                ),
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
                ),
            )
        )
    except Exception as error:  # the core cannot bind (port taken, no such address)
        raise MetricsAddressError(f"cannot serve metrics on {address}: {error}") from None
