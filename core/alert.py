"""Alerts: what a rule says about one key (a site, a kiosk, a moment) over time.

Modelled on Prometheus: while a rule's condition holds the alert is *pending*;
once it has held for the rule's ``for`` duration it is *firing*; when it stops
holding (for ``keep_firing_for``, against flapping) it is *resolved*.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


#: Severities, most urgent first. ``critical`` pages someone now.
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert in one state. A new state makes a new ``Alert`` with the same fingerprint."""

    rule: str
    key: tuple[tuple[str, str], ...]
    state: AlertState
    severity: str
    summary: str
    since: datetime  # when the alert entered this state
    response: str = ""  # the response path: who acts, and what they do
    active_since: datetime | None = None  # when the condition first held
    labels: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    acknowledged_by: str | None = None

    @property
    def fingerprint(self) -> str:
        """Stable identity of the alert across its state changes."""
        return self.rule + "|" + ",".join(f"{k}={v}" for k, v in self.key)

    @property
    def short_id(self) -> str:
        """Eight hex digits naming the alert in lists and on the kiosk's staff screen."""
        return hashlib.sha1(self.fingerprint.encode()).hexdigest()[:8]

    def all_labels(self) -> dict[str, str]:
        """Labels for routing and silences: rule labels, key, ``alertname`` and ``severity``."""
        return {"alertname": self.rule, "severity": self.severity, **self.labels, **dict(self.key)}

    def to_json(self) -> dict[str, Any]:
        """As `alerts list --json` and the console's API give it."""
        return {
            "id": self.short_id,
            "fingerprint": self.fingerprint,
            "state": str(self.state),
            "rule": self.rule,
            "severity": self.severity,
            "key": dict(self.key),
            "since": self.since.isoformat(),
            "summary": self.summary,
            "response": self.response,
            "acknowledged_by": self.acknowledged_by,
        }

    def moved_to(self, state: AlertState, at: datetime, **changes: Any) -> Alert:
        return replace(self, state=state, since=at, **changes)
