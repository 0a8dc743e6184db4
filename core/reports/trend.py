"""Trend: each figure against the previous equivalent period, and a daily or weekly series.

A change is called *beyond noise* when it exceeds its own 95 % margin
(:func:`~.stats.beyond_noise`); with too few answers on either side it is not
judged at all, because a swing of a handful of answers says nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from .figures import Figures, Tally, figures
from .period import Period, local_day, week_start
from .stats import beyond_noise

Every = Literal["day", "week"]
#: A period longer than this many days is shown week by week.
DAILY_UP_TO = 62


@dataclass(frozen=True)
class Delta:
    """How one figure moved: now minus before, and whether that is more than noise."""

    change: float | None
    beyond_noise: bool | None  # None: too few answers on one side to judge

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "beyond_noise": self.beyond_noise}


@dataclass(frozen=True)
class Comparison:
    """This period's figures against the previous equivalent period's."""

    previous: Figures
    count: Delta  # relative change in answers (0.1 = +10 %); never judged
    mean: Delta
    index: Delta
    csat: Delta
    negative_share: Delta

    def to_json(self) -> dict[str, Any]:
        return {
            "previous": self.previous.to_json(),
            "count": self.count.to_json(),
            "mean": self.mean.to_json(),
            "index": self.index.to_json(),
            "csat": self.csat.to_json(),
            "negative_share": self.negative_share.to_json(),
        }


def _share_se(share: float | None, n: int) -> float:
    return math.sqrt((share or 0.0) * (1 - (share or 0.0)) / n)


def compare(now: Figures, before: Figures) -> Comparison:
    """Deltas of every figure; significance only when both sides have enough answers."""
    judged = not now.too_few and not before.too_few

    def mean_like(a: float | None, b: float | None, factor: float = 1.0) -> Delta:
        if a is None or b is None:
            return Delta(None, None)
        se_a, se_b = now.mean_se, before.mean_se
        if not judged or se_a is None or se_b is None:
            return Delta(a - b, None)
        return Delta(a - b, beyond_noise(a - b, se_a * factor, se_b * factor))

    def share(a: float | None, b: float | None) -> Delta:
        if a is None or b is None:
            return Delta(None, None)
        if not judged:
            return Delta(a - b, None)
        return Delta(
            a - b, beyond_noise(a - b, _share_se(a, now.count), _share_se(b, before.count))
        )

    volume = (now.count - before.count) / before.count if before.count else None
    return Comparison(
        previous=before,
        count=Delta(volume, None),
        mean=mean_like(now.mean, before.mean),
        index=mean_like(now.index, before.index, 100 / (now.scale - 1)),
        csat=share(now.csat, before.csat),
        negative_share=share(now.negative_share, before.negative_share),
    )


@dataclass(frozen=True)
class Point:
    """One day or week of a series (``start`` is the local day, or the week's Monday)."""

    start: date
    figures: Figures

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), **self.figures.to_json()}


def granularity(period: Period, every: str | None = None) -> Every:
    """Day by day up to :data:`DAILY_UP_TO` days, else week by week (unless asked)."""
    if every in ("day", "week"):
        return every  # type: ignore[return-value]
    return "day" if period.days <= DAILY_UP_TO else "week"


def series(
    daily: Mapping[str, Tally],
    period: Period,
    every: Every,
    cycle_scale: int,
    low_threshold: int,
    target: float | None = None,
) -> list[Point]:
    """Figures per day (or ISO week, Monday first) of the period, empty ones included.

    ``daily`` maps local days (ISO) to tallies; weeks at the period's ends hold
    only the days inside the period.
    """
    first = local_day(period.since, period.zone)
    last = local_day(period.until - timedelta(microseconds=1), period.zone)
    buckets: dict[date, Tally] = {}
    day = first if every == "day" else week_start(first)
    step = timedelta(days=1 if every == "day" else 7)
    while day <= last:
        buckets[day] = Tally()
        day += step
    for text, tally in daily.items():
        day = date.fromisoformat(text)
        bucket = buckets.get(day if every == "day" else week_start(day))
        if bucket is not None:
            bucket.merge(tally)
    return [
        Point(start, figures(tally, cycle_scale, target, low_threshold))
        for start, tally in buckets.items()
    ]
