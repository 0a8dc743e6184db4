"""Quiet hours: local times when a route's notifications wait instead of going out.

``[notify.quiet_hours.night]`` with ``weekdays = ["mon", ...]`` and
``times = ["22:00-07:00"]``, read in the site's time zone. A range that ends
before it starts runs past midnight and belongs to the day it starts on
(``fri`` + ``22:00-07:00`` is Friday 22:00 to Saturday 07:00). No ``times``
means the whole of each listed day.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Literal

from pydantic import AfterValidator

from .strict import StrictModel

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|24:00)$")


def _check_range(value: str) -> str:
    if not _RANGE.match(value):
        raise ValueError("use HH:MM-HH:MM, e.g. '22:00-07:00' (may run past midnight)")
    if value[:5] == value[6:]:
        raise ValueError("the range is empty; leave `times` out to mean the whole day")
    return value


TimeRange = Annotated[str, AfterValidator(_check_range)]


def _some_day(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("list at least one weekday, or leave `weekdays` out for every day")
    return value


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


class QuietHours(StrictModel):
    """One named quiet period, referenced by routes' ``quiet_hours``."""

    weekdays: Annotated[tuple[Weekday, ...], AfterValidator(_some_day)] = WEEKDAYS  # type: ignore[assignment]
    times: tuple[TimeRange, ...] = ()

    def contains(self, at: datetime, zone: tzinfo) -> bool:
        """Whether the instant ``at`` falls in this quiet period at the site."""
        local = at.astimezone(zone)
        day = WEEKDAYS[local.weekday()]
        previous = WEEKDAYS[(local - timedelta(days=1)).weekday()]
        if not self.times:
            return day in self.weekdays
        now = local.hour * 60 + local.minute
        for span in self.times:
            start, end = _minutes(span[:5]), _minutes(span[6:])
            if start < end:
                if day in self.weekdays and start <= now < end:
                    return True
            elif (day in self.weekdays and now >= start) or (
                previous in self.weekdays and now < end
            ):
                return True
        return False
