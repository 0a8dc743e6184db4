"""Durations as people write them: ``250ms``, ``30s``, ``15m``, ``1h30m``, ``2d``.

One reading for every file and option — rules, rule tests, ``[notify]``, the
kiosk and survey settings, ``--for``: the same forms are accepted everywhere,
a bare number in a file means seconds, and nothing can overflow: a duration
is at most :data:`LONGEST`.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)(ms|d|h|m|s)")
_WHOLE = re.compile(r"^(?:\d{1,12}(?:ms|d|h|m|s))+$", re.ASCII)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
#: Longer than any sensible wait, window or lifetime; keeps ``now + duration`` far
#: from datetime's limits.
LONGEST = timedelta(days=366)
_FORMS = "write e.g. '250ms', '30s', '15m', '1h30m' or '2d'"


def parse_duration(text: Any) -> timedelta:
    """``"1h30m"`` → 90 minutes; ``ValueError`` names the accepted forms."""
    if not isinstance(text, str) or len(text) > 60 or not _WHOLE.match(text.strip()):
        shown = text if not isinstance(text, str) or len(text) <= 60 else text[:60] + "..."
        raise ValueError(f"{shown!r} is not a duration; {_FORMS}")
    millis = sum(
        int(n) * (1 if unit == "ms" else _UNITS[unit] * 1000)
        for n, unit in _PART.findall(text.strip())
    )
    if millis > LONGEST.total_seconds() * 1000:
        raise ValueError(f"{text!r} is too long; at most {format_duration(LONGEST)}")
    return timedelta(milliseconds=millis)


def parse_interval(value: Any) -> timedelta:
    """A duration from a file's value: a text (:func:`parse_duration`) or seconds."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool) or value is None:
        raise ValueError(_FORMS)
    elif isinstance(value, int | float):
        # compared as they are: a 400-digit int overflows a float conversion
        if (isinstance(value, float) and not math.isfinite(value)) or abs(
            value
        ) > LONGEST.total_seconds():
            raise ValueError(f"at most {format_duration(LONGEST)} (given in seconds)")
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        result = parse_duration(value)
    else:
        raise ValueError(_FORMS)
    if result < timedelta(0):
        raise ValueError("a duration cannot be negative")
    if result > LONGEST:
        raise ValueError(f"at most {format_duration(LONGEST)}")
    return result


def format_duration(value: timedelta) -> str:
    """The shortest way to write ``value`` back (90 minutes → ``1h30m``, ``250ms``)."""
    millis = round(value.total_seconds() * 1000)
    if millis == 0:
        return "0s"
    sign, millis = ("-", -millis) if millis < 0 else ("", millis)
    seconds, rest = divmod(millis, 1000)
    parts = []
    for unit, size in _UNITS.items():
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if rest:
        parts.append(f"{rest}ms")
    return sign + "".join(parts)


#: A duration setting: parsed on the way in, written back as users write it (``"30s"``).
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_interval),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]


def _more_than_zero(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be more than 0s")
    return value


#: A duration that must be longer than zero (timeouts, group and repeat intervals).
PositiveDuration = Annotated[Duration, AfterValidator(_more_than_zero)]
