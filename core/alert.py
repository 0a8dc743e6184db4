"""The states an alert moves through, as rules see bad moments come and go.

Modelled on Prometheus: a rule's condition first makes an alert *pending*;
if it holds for the rule's ``for`` duration it is *firing*; when it stops
holding it is *resolved*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: a rule's verdict for one key (site, kiosk, moment...)."""

    rule: str
    key: tuple[tuple[str, str], ...]
    state: AlertState
    severity: str
    summary: str
    since: datetime
    response: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Stable identity of the alert across its state changes."""
        return self.rule + "|" + ",".join(f"{k}={v}" for k, v in self.key)
