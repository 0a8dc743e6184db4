"""What a notifier receives, and the contract it keeps.

A :class:`Notification` is one message about one group of alerts for one
receiver. Its JSON form (:meth:`Notification.payload`) follows Alertmanager's
webhook payload, so tools that read Alertmanager webhooks read ours; it is also
what the ``notifications`` table keeps, so a delivery interrupted by a restart
is sent again byte for byte, with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from ..alert import Alert, AlertState
from ..errors import ServiceCycleError

FIRING = "firing"
RESOLVED = "resolved"
#: Alertmanager writes this as ``endsAt`` of an alert that has not ended.
ZERO_TIME = "0001-01-01T00:00:00Z"
PAYLOAD_VERSION = "1"


class DeliveryError(ServiceCycleError):
    """A notifier could not deliver; ``retryable`` says whether trying again may help.

    ``retry_after`` (seconds) is the receiver's own request for when to try
    again (HTTP ``Retry-After``); the dispatcher waits at least that long.
    """

    def __init__(self, message: str, retryable: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


@runtime_checkable
class Notifier(Protocol):
    """What a notifier factory returns: one ``send`` per delivery attempt.

    ``send`` makes one attempt and returns when it is delivered; it raises
    :class:`DeliveryError` when not. Retries, backoff and bookkeeping belong to
    the dispatcher, so a notifier stays a few lines long.
    """

    def send(self, notification: Notification) -> None: ...


def utc_text(at: datetime | None) -> str:
    if at is None:
        return ZERO_TIME
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str | None) -> datetime | None:
    if not text or text == ZERO_TIME:
        return None
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class NotifiedAlert:
    """One alert as a receiver sees it in a notification."""

    fingerprint: str
    status: str  # "firing" | "resolved"
    labels: dict[str, str]
    summary: str
    response: str
    starts_at: datetime
    ends_at: datetime | None = None
    values: dict[str, Any] = field(default_factory=dict)
    acknowledged_by: str | None = None

    @classmethod
    def from_alert(cls, alert: Alert) -> NotifiedAlert:
        resolved = alert.state == AlertState.RESOLVED
        return cls(
            fingerprint=alert.fingerprint,
            status=RESOLVED if resolved else FIRING,
            labels=alert.all_labels(),
            summary=alert.summary,
            response=alert.response,
            starts_at=alert.active_since or alert.since,
            ends_at=alert.since if resolved else None,
            values=json.loads(json.dumps(dict(alert.values), default=str)),
            acknowledged_by=alert.acknowledged_by,
        )

    def payload(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": {"summary": self.summary, "response": self.response},
            "startsAt": utc_text(self.starts_at),
            "endsAt": utc_text(self.ends_at),
            "fingerprint": self.fingerprint,
            "values": dict(self.values),
            "acknowledgedBy": self.acknowledged_by,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> NotifiedAlert:
        annotations = data.get("annotations", {})
        return cls(
            fingerprint=data["fingerprint"],
            status=data["status"],
            labels=dict(data.get("labels", {})),
            summary=annotations.get("summary", ""),
            response=annotations.get("response", ""),
            starts_at=parse_utc(data.get("startsAt")) or datetime.fromtimestamp(0, UTC),
            ends_at=parse_utc(data.get("endsAt")),
            values=dict(data.get("values", {})),
            acknowledged_by=data.get("acknowledgedBy"),
        )


def idempotency_key(
    receiver: str,
    group_key: str,
    status: str,
    firing: Iterable[str],
    resolved: Iterable[str],
    sequence: int,
) -> str:
    """Same group, status, alert set and sequence → same key, in any process."""
    text = "\n".join(
        [
            receiver,
            group_key,
            status,
            ",".join(sorted(firing)),
            ",".join(sorted(resolved)),
            str(sequence),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Notification:
    """One message for one receiver about one group of alerts."""

    id: str
    receiver: str
    status: str  # "firing" if any alert is firing, else "resolved"
    group_key: str
    group_labels: dict[str, str]
    alerts: tuple[NotifiedAlert, ...]
    sequence: int
    idempotency_key: str
    created_at: datetime

    @property
    def firing(self) -> frozenset[str]:
        """Fingerprints of the firing alerts in this notification."""
        return frozenset(a.fingerprint for a in self.alerts if a.status == FIRING)

    @property
    def resolved(self) -> frozenset[str]:
        return frozenset(a.fingerprint for a in self.alerts if a.status == RESOLVED)

    @property
    def common_labels(self) -> dict[str, str]:
        """Labels every alert of the notification shares, with the same value."""
        if not self.alerts:
            return {}
        first, *rest = self.alerts
        return {k: v for k, v in first.labels.items() if all(a.labels.get(k) == v for a in rest)}

    @property
    def common_annotations(self) -> dict[str, str]:
        annotations = [{"summary": a.summary, "response": a.response} for a in self.alerts]
        if not annotations:
            return {}
        first, *rest = annotations
        return {k: v for k, v in first.items() if all(a[k] == v for a in rest)}

    def payload(self) -> dict[str, Any]:
        """The JSON body of the webhook notifier, and the line of the log notifier."""
        return {
            "version": PAYLOAD_VERSION,
            "receiver": self.receiver,
            "status": self.status,
            "groupKey": self.group_key,
            "groupLabels": dict(self.group_labels),
            "commonLabels": self.common_labels,
            "commonAnnotations": self.common_annotations,
            "truncatedAlerts": 0,
            "alerts": [a.payload() for a in self.alerts],
            "notificationId": self.id,
            "sequence": self.sequence,
            "idempotencyKey": self.idempotency_key,
            "createdAt": utc_text(self.created_at),
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Notification:
        """Rebuild a notification kept in the ``notifications`` table."""
        return cls(
            id=data["notificationId"],
            receiver=data["receiver"],
            status=data["status"],
            group_key=data["groupKey"],
            group_labels=dict(data.get("groupLabels", {})),
            alerts=tuple(NotifiedAlert.from_payload(a) for a in data.get("alerts", [])),
            sequence=int(data["sequence"]),
            idempotency_key=data["idempotencyKey"],
            created_at=parse_utc(data.get("createdAt")) or datetime.now(UTC),
        )
