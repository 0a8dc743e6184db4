"""Time the site is open, counted in the site's own time zone.

A kiosk is silent every night because the lobby is closed, not because it is
broken. "Quiet for 3 hours" therefore means 3 hours *of opening time*: quiet
from 22:00 to 08:00 on a site open 07:00–23:00 is one hour of opening time,
not ten. Local days are walked with their own UTC offsets, so a daylight
saving change moves the hours with the clock on the wall.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .config import WEEKDAYS, SiteSettings


def _spans_on(site: SiteSettings, day: date) -> tuple[tuple[float, float], ...]:
    """The open spans of one local day, as UTC timestamps."""
    spans = site.opening_hours.get(WEEKDAYS[day.weekday()], [])  # type: ignore[call-overload]
    return _day_spans(site.timezone, tuple(spans), day)


@lru_cache(maxsize=8192)
def _day_spans(timezone: str, spans: tuple[str, ...], day: date) -> tuple[tuple[float, float], ...]:
    """Worked out once per zone, hours and day: a silence asks for the same days often."""
    zone = ZoneInfo(timezone)
    found = []
    for span in spans:
        start_text, end_text = span.split("-")
        start = datetime.combine(day, time.fromisoformat(start_text), zone)
        if end_text == "24:00":
            end = datetime.combine(day + timedelta(days=1), time(0), zone)
        else:
            end = datetime.combine(day, time.fromisoformat(end_text), zone)
        found.append((start.timestamp(), end.timestamp()))
    return tuple(found)


def open_spans(site: SiteSettings, start: float, end: float) -> Iterator[tuple[float, float]]:
    """The open spans of ``site`` between UTC timestamps ``start`` and ``end``, clipped."""
    if end <= start:
        return
    if not site.opening_hours:
        yield start, end
        return
    zone = site.zone
    day = datetime.fromtimestamp(start, UTC).astimezone(zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, UTC).astimezone(zone).date()
    while day <= last:
        for a, b in _spans_on(site, day):
            a, b = max(a, start), min(b, end)
            if a < b:
                yield a, b
        day += timedelta(days=1)


def open_seconds(site: SiteSettings, start: float, end: float) -> float:
    """Seconds of opening time between two UTC timestamps."""
    return sum(b - a for a, b in open_spans(site, start, end))


def after_open_time(site: SiteSettings, start: float, seconds: float) -> float:
    """The UTC timestamp at which ``seconds`` of opening time have passed since ``start``.

    ``math.inf`` when the site has no opening time in a whole week (it is never
    open): a silence there is never due.
    """
    if not site.opening_hours:
        return start + seconds
    if not any(site.opening_hours.get(day) for day in WEEKDAYS):  # type: ignore[call-overload]
        return math.inf
    week = 7 * 86400.0
    left = seconds
    cursor = start
    if left > 2 * week:  # skip ahead whole weeks, then walk the rest day by day
        weekly = open_seconds(site, start, start + week)
        if weekly <= 0:
            return math.inf
        whole_weeks = int(left // weekly) - 1
        if whole_weeks > 0:
            cursor += whole_weeks * week
            left -= whole_weeks * weekly
    while True:
        step = cursor + 86400.0
        for a, b in open_spans(site, cursor, step):
            if b - a >= left:
                return a + left
            left -= b - a
        cursor = step
