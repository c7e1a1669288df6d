"""Notifying departments and supervisors, through a swappable gateway.

The default gateway only records the notification in the read model (the TUI shows
it); a deployment plugs in a real channel (SMS, 政务微信 ...) with ``set_gateway``.
Activities are retried, so a gateway must be idempotent by (case_no, seq, kind).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine
from temporalio import activity

from activities.projection import read_model_engine
from domain.projection import Notification, Notifications
from readmodel.database import write_session
from readmodel.projection import record_notification

logger = logging.getLogger(__name__)


class NotificationGateway(Protocol):
    """Delivers one notification. Must tolerate the same notification twice (retries)."""

    def send(self, notification: Notification) -> None: ...


class ReadModelNotificationGateway:
    """Stores the notification in the read model, once per (case_no, seq, kind).

    The log line names the case, sequence, kind and recipient departments only:
    the message text may contain applicant details and stays out of the logs.
    """

    def __init__(self, engine_provider: Callable[[], Engine] = read_model_engine) -> None:
        # A provider, not an engine: the settings may change (tests) after import.
        self._engine = engine_provider

    def send(self, notification: Notification) -> None:
        self.send_many([notification])

    def send_many(self, notifications: list[Notification]) -> None:
        """Several in one transaction (the turn of a working day warns many at once)."""
        with write_session(self._engine()) as session:
            stored = [record_notification(session, n) for n in notifications]
        for notification, new in zip(notifications, stored, strict=True):
            logger.info(
                "notification %s case_no=%s seq=%d kind=%s recipients=%s",
                "stored" if new else "already stored",
                notification.case_no,
                notification.seq,
                notification.kind,
                ",".join(notification.recipients),
            )


_gateway: NotificationGateway = ReadModelNotificationGateway()
_gateway_lock = threading.Lock()


def set_gateway(gateway: NotificationGateway) -> NotificationGateway:
    """Use ``gateway`` for all later notifications; returns the previous one (for tests)."""
    global _gateway
    with _gateway_lock:
        previous, _gateway = _gateway, gateway
    return previous


def get_gateway() -> NotificationGateway:
    """The gateway ``notify`` currently sends through."""
    return _gateway


@activity.defn(name="notify")
def notify(notification: Notification) -> None:
    """Send a notification through the configured gateway (sync: gateways block)."""
    get_gateway().send(notification)


@activity.defn(name="notify_all")
def notify_all(batch: Notifications) -> None:
    """Send the notifications a case decided on at one moment, in order. A retry sends
    them all again, which the gateway tolerates (idempotent by case, seq and kind).
    A gateway with ``send_many`` gets them in one call."""
    gateway = get_gateway()
    send_many = getattr(gateway, "send_many", None)
    if send_many is not None:
        send_many(batch.notifications)
        return
    for notification in batch.notifications:
        gateway.send(notification)
