"""Plain-text renderings of a notification, shared by the email and apprise notifiers."""

from __future__ import annotations

import string
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from .notification import FIRING, Notification

DEFAULT_SUBJECT = "[{STATUS}] {alertname} at {site} ({count} alert(s))"
#: Placeholders every subject may use, besides any label of the group.
SUBJECT_FIELDS: tuple[str, ...] = (
    "status",
    "STATUS",
    "count",
    "receiver",
    "summary",
    "alertname",
    "site",
    "severity",
)


def check_template(text: str) -> str:
    """Refuse templates that cannot be filled: bad braces, attribute or index access."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"bad template ({exc}); write placeholders as {{status}}") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(
                f"placeholder {{{name}}}: use plain names such as "
                f"{', '.join('{' + f + '}' for f in SUBJECT_FIELDS)} or a label name"
            )
    return text


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def subject(template: str, notification: Notification) -> str:
    """Fill a subject template; a label the group lacks becomes empty."""
    first = notification.alerts[0] if notification.alerts else None
    fields = _Blank(notification.common_labels)
    fields.update(
        status=notification.status,
        STATUS=notification.status.upper(),
        count=len(notification.alerts),
        receiver=notification.receiver,
        summary=first.summary if first else "",
    )
    for key in ("alertname", "site", "severity"):
        fields.setdefault(key, notification.group_labels.get(key, ""))
    return " ".join(template.format_map(fields).split())


def _when(at: datetime, zone: tzinfo) -> str:
    local = at.astimezone(zone)
    name = getattr(zone, "key", None) or local.tzname() or ""
    return f"{local:%Y-%m-%d %H:%M:%S} {name}".rstrip()


def body(notification: Notification, zone: tzinfo | None = None) -> str:
    """What a person reads: summary, response path, labels and times, alert by alert."""
    zone = zone or ZoneInfo("UTC")
    firing = sum(1 for a in notification.alerts if a.status == FIRING)
    resolved = len(notification.alerts) - firing
    group = ", ".join(f"{k}={v}" for k, v in sorted(notification.group_labels.items()))
    lines = [
        f"{notification.status.upper()}: {firing} firing, {resolved} resolved"
        + (f" — {group}" if group else ""),
        "",
    ]
    for alert in notification.alerts:
        lines.append(f"[{alert.status.upper()}] {alert.summary or alert.labels.get('alertname')}")
        if alert.response:
            lines.append(f"  Response:  {alert.response}")
        lines.append(f"  Severity:  {alert.labels.get('severity', '')}")
        lines.append(f"  Started:   {_when(alert.starts_at, zone)}")
        if alert.ends_at is not None:
            lines.append(f"  Resolved:  {_when(alert.ends_at, zone)}")
        if alert.acknowledged_by:
            lines.append(f"  Acknowledged by: {alert.acknowledged_by}")
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        lines.append(f"  Labels:    {labels}")
        lines.append("")
    lines.append(f"Receiver: {notification.receiver} · notification {notification.sequence}")
    lines.append(f"Group: {notification.group_key}")
    return "\n".join(lines) + "\n"
