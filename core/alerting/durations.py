"""Durations in ``[notify]``: ``"30s"``, ``"5m"``, ``"1h30m"``, plus ``"250ms"`` and numbers.

The rule files' :func:`parse_duration` is reused for the usual forms; whole
milliseconds are accepted too so that tests (and impatient sites) can use short
backoffs, and a bare number means seconds (``timeout = 2.5``).
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

from ..duration import format_duration, parse_duration

#: Longer than any sensible wait; keeps ``now + duration`` far from datetime's limits.
LONGEST = timedelta(days=366)
_MILLIS = re.compile(r"^(\d+)ms$")


def parse_interval(value: Any) -> timedelta:
    """A duration from a config value; ``ValueError`` says what forms are accepted."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError("write a duration such as '30s', '5m', '1h30m' or '250ms'")
    elif isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > LONGEST.total_seconds():
            raise ValueError(f"at most {format_interval(LONGEST)} (given in seconds)")
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        match = _MILLIS.match(value.strip())
        try:
            result = timedelta(milliseconds=int(match[1])) if match else parse_duration(value)
        except OverflowError:
            raise ValueError(f"{value!r} is too long; at most {format_interval(LONGEST)}") from None
        except ValueError:
            raise ValueError(
                f"{value!r} is not a duration; write e.g. '30s', '5m', '1h30m', '2d' or '250ms'"
            ) from None
    else:
        raise ValueError("write a duration such as '30s', '5m', '1h30m' or '250ms'")
    if result < timedelta(0):
        raise ValueError("a duration cannot be negative")
    if result > LONGEST:
        raise ValueError(f"at most {format_interval(LONGEST)}")
    return result


def format_interval(value: timedelta) -> str:
    """Write a duration back as it would be configured (``1h30m``, ``250ms``)."""
    millis = round(value.total_seconds() * 1000)
    if millis % 1000:
        return f"{millis}ms"
    return format_duration(timedelta(seconds=millis // 1000))


#: A duration setting: parsed on the way in, written back as ``"30s"`` by ``config show``.
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_interval),
    PlainSerializer(format_interval, return_type=str, when_used="json"),
]


def _more_than_zero(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be more than 0s")
    return value


#: A duration that must be longer than zero (timeouts, group and repeat intervals).
PositiveDuration = Annotated[Duration, AfterValidator(_more_than_zero)]
