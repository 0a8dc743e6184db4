"""Groups and the rule that decides whether a group has news for its receiver.

Pure functions of their inputs (no clock, no store), so the dispatcher's
timing rules can be read, and tested, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..alert import Alert
from .config import Route
from .journal import Delivered


@dataclass
class Group:
    """Alerts that one route sends to one receiver together."""

    route: Route
    labels: dict[str, str]
    next_flush: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)
    #: Firing alerts a flush held back (quiet hours): their resolution is news too.
    held: set[str] = field(default_factory=set)


def group_key(route: Route, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The group an alert joins on ``route``: ``{route matchers}:{group labels}``.

    Built from the route's matchers rather than its position, so reordering
    routes in the file does not make every group new after a restart.
    """
    if route.group_by == ("...",):
        chosen = dict(labels)
    else:
        chosen = {name: labels[name] for name in route.group_by if name in labels}
    route_part = ",".join(str(m) for m in route.matchers)
    group_part = ",".join(f'{k}="{v}"' for k, v in sorted(chosen.items()))
    return f"{{{route_part}}}:{{{group_part}}}", chosen


def needs_update(
    last: Delivered | None,
    firing: Mapping[str, Alert],
    resolved: Mapping[str, Alert],
    route: Route,
    now: datetime,
) -> bool:
    """Whether a due group has news: Alertmanager's dedup rule, plus: acknowledged alerts
    are not repeated. ``firing``/``resolved`` are what may be sent now (silences applied)."""
    if not firing and not resolved:
        return False
    if last is None:
        return bool(firing or resolved)  # resolved: it fired while held back
    if not firing.keys() <= last.firing:
        return True  # something new is firing
    if resolved.keys() - last.resolved:
        return True  # something the receiver saw firing has resolved
    if last.at + route.repeat_interval <= now:
        return any(alert.acknowledged_by is None for alert in firing.values())
    return False
