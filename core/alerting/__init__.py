"""Notifications for alerts: routing, grouping, silences, quiet hours and delivery.

The rule engine hands every alert transition to :meth:`Dispatcher.submit` and
calls :meth:`Dispatcher.tick` every few seconds; everything else happens here.
See ``docs/notifications.md``.
"""

from ..duration import parse_interval
from .config import NotifySettings, ReceiverConfig, Route
from .delivery import RetryPolicy
from .dispatcher import Dispatcher
from .grouping import group_key, needs_update
from .matchers import Matcher, parse_matchers
from .notification import DeliveryError, Notification, NotifiedAlert, Notifier
from .notifiers import (
    BUILTIN_SETTINGS,
    NotifierFactory,
    build_notifier,
    builtin_notifiers,
    collect_notifiers,
)
from .quiet import QuietHours
from .silences import Silence, SilenceError

__all__ = [
    "BUILTIN_SETTINGS",
    "DeliveryError",
    "Dispatcher",
    "Matcher",
    "Notification",
    "NotifiedAlert",
    "Notifier",
    "NotifierFactory",
    "NotifySettings",
    "QuietHours",
    "ReceiverConfig",
    "RetryPolicy",
    "Route",
    "Silence",
    "SilenceError",
    "build_notifier",
    "builtin_notifiers",
    "collect_notifiers",
    "group_key",
    "needs_update",
    "parse_interval",
    "parse_matchers",
]
