"""Report periods in the site's own time zone: days, weeks and months as the site lives them.

Ratings are stored in UTC, but a manager's "yesterday" or "November" starts at
local midnight. Every period edge, day, week and month here is a local
midnight turned into a UTC instant, and compared with stored times as text, as
the store itself does (``2026-11-22T07:00:00.000000Z`` sorts in time order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..duration import parse_duration
from ..errors import ServiceCycleError
from ..rating import format_time

#: The default report length: the last 30 days, today included.
DEFAULT_DAYS = 30


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local day starts (on a day whose midnight is skipped, the zone decides)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def utc_text(at: datetime) -> str:
    """An aware time as the store writes it, for comparing with stored times."""
    return format_time(at)


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def week_start(day: date) -> date:
    """Monday of the day's ISO week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Period:
    """A half-open span ``[since, until)`` of time, read in ``zone``."""

    since: datetime
    until: datetime
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ServiceCycleError("report period edges need a time zone")
        if self.until <= self.since:
            raise ServiceCycleError(
                f"the report period is empty: --until ({self.until.isoformat()}) must be after "
                f"--since ({self.since.isoformat()})"
            )

    @property
    def whole_days(self) -> bool:
        """Whether both edges are local midnights (the period is a run of whole days)."""
        return all(
            local_midnight(local_day(edge, self.zone), self.zone) == edge.astimezone(self.zone)
            for edge in (self.since, self.until)
        )

    @property
    def days(self) -> int:
        """Local calendar days the period touches."""
        last = local_day(self.until - timedelta(microseconds=1), self.zone)
        return (last - local_day(self.since, self.zone)).days + 1

    def previous(self) -> Period:
        """The equivalent period just before: as many local days, or as long a span."""
        if self.whole_days:
            first = local_day(self.since, self.zone)
            start = first - timedelta(days=self.days)
            return Period(local_midnight(start, self.zone), self.since, self.zone)
        return Period(self.since - (self.until - self.since), self.since, self.zone)

    def utc(self) -> tuple[str, str]:
        return utc_text(self.since), utc_text(self.until)

    def label(self) -> str:
        """``2026-10-24 – 2026-11-22`` for whole days (the last day included), else times."""
        if self.whole_days:
            first = local_day(self.since, self.zone)
            last = local_day(self.until - timedelta(microseconds=1), self.zone)
            return f"{first.isoformat()} – {last.isoformat()}"
        fmt = "%Y-%m-%d %H:%M"
        return (
            f"{self.since.astimezone(self.zone).strftime(fmt)} – "
            f"{self.until.astimezone(self.zone).strftime(fmt)}"
        )


def default_period(zone: ZoneInfo, now: datetime | None = None, days: int = DEFAULT_DAYS) -> Period:
    """The last ``days`` local days, today included."""
    today = local_day(now or datetime.now(UTC), zone)
    return Period(
        local_midnight(today - timedelta(days=days - 1), zone),
        local_midnight(today + timedelta(days=1), zone),
        zone,
    )


#: What ``--since``/``--until`` take, for help texts and error messages.
EDGE_FORMS = (
    "a date (2026-11-01), a date and time (2026-11-01T08:00 in the site's time zone, or "
    "with its own: 2026-11-01T08:00+03:00, 2026-11-01T05:00Z) or a time ago (7d, 36h, 90m)"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII | re.IGNORECASE,
)
#: Years a period edge may name: enough for any rating (from 2000), far from datetime's limits.
_YEARS = range(1900, 3000)


def parse_edge(text: str, zone: ZoneInfo, *, end: bool, now: datetime | None = None) -> datetime:
    """Read ``--since``/``--until``: a date (a whole local day), a time, or a time ago.

    A date as ``--until`` includes that whole day (the period ends at the next
    local midnight); a time is exclusive. A time without a zone is site time.
    ``7d``, ``36h``, ``1h30m`` are that long before ``now``. Anything else raises
    :class:`ServiceCycleError` naming the text and :data:`EDGE_FORMS`.
    """
    text = text.strip()
    try:
        if _DATE.fullmatch(text):
            day = date.fromisoformat(text)
            if day.year not in _YEARS:
                raise ValueError
            return local_midnight(day + timedelta(days=1) if end else day, zone)
        if _TIME.fullmatch(text):
            at = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
            if at.year not in _YEARS:
                raise ValueError
            return at if at.tzinfo else at.replace(tzinfo=zone)
        if text[:1].isdigit() and not text[:4].isdigit():
            return (now or datetime.now(UTC)) - parse_duration(text)
    except ValueError as exc:
        if "too long" in str(exc):
            raise ServiceCycleError(f"{exc} ago; for longer, give a date") from None
    shown = text if len(text) <= 40 else text[:40] + "..."
    raise ServiceCycleError(
        f"{shown!r} is neither a date, a date and time nor a time ago; use {EDGE_FORMS}"
    )


def period_from(
    since: str | datetime | None,
    until: str | datetime | None,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> Period:
    """The period the options ask for; the defaults fill in what is missing.

    An edge is a text :func:`parse_edge` reads, or a time it already read.
    """
    default = default_period(zone, now)

    def edge(value: str | datetime, end: bool) -> datetime:
        return value if isinstance(value, datetime) else parse_edge(value, zone, end=end, now=now)

    end = edge(until, True) if until else default.until
    if since:
        start = edge(since, False)
    elif until:
        last = local_day(end - timedelta(microseconds=1), zone)
        start = local_midnight(last - timedelta(days=DEFAULT_DAYS - 1), zone)
    else:
        start = default.since
    return Period(start, end, zone)
