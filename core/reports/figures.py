"""The figures of a moment, stage or cycle, and the counts they are computed from.

Every figure is derived from a :class:`Tally`: how many answers gave each
score on each scale, and how often each reason was picked. A tally is whole
numbers only, so tallies add up exactly in any order: a figure computed from
cached per-day tallies is identical to one computed rating by rating, and the
kiosk's staff screen and the reports share this one implementation.

The rules (docs/reports.md repeats them for managers):

* **mean** — each answer is moved linearly onto the cycle's scale
  (``1 + (score−1)·(S−1)/(k−1)`` for an answer on a k-point scale), then averaged;
* **index** (0–100) — each answer mapped so the worst face is 0 and the best 100
  (``(score−1)/(k−1)·100``), then averaged; scale-aware by construction;
* **CSAT** — share of *satisfied* answers: the top two boxes of the answer's own
  scale (4 and 5 of 5; 3 and 4 of 4, i.e. top box and next);
* **negative share** — share of answers at or below the low threshold (the
  kiosk's ``low_threshold``, default 2) on the answer's own scale;
* **gap** — promised minus perceived: the target minus the mean; positive when
  the service falls short of its promise. For a stage or cycle, the target is
  the answer-weighted mean of its moments' targets, so its gap is the
  answer-weighted mean of the moments' gaps;
* **intervals** — 95 %: Wilson for shares, Student t for means (cut at the
  ends of the scale); see :mod:`.stats`;
* **too few** — fewer than :data:`MIN_ANSWERS` answers: shown, but marked and
  never ranked.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import repeat
from math import lcm
from operator import add
from typing import Any

from ..catalogue import Catalogue
from ..cycle import SCALES
from ..rating import Rating
from .stats import Interval, mean_interval, wilson

log = logging.getLogger(__name__)

#: Below this many answers a figure is marked "too few" and left out of rankings.
MIN_ANSWERS = 30
#: Default low threshold: answers at or below it count as negative.
LOW_THRESHOLD = 2

#: Where each scale's scores start in :attr:`Tally.counts` (4-point: 0..3, 5-point: 4..8).
_OFFSET: dict[int, int] = {scale: sum(SCALES[:i]) for i, scale in enumerate(SCALES)}
#: Slots of a tally's counts: one per (scale, score) pair.
SLOTS = sum(SCALES)


def slot(scale: int, score: int) -> int:
    """Index of ``(scale, score)`` in :attr:`Tally.counts`; ``ValueError`` if impossible."""
    offset = _OFFSET.get(scale)
    if offset is None or isinstance(score, bool) or not 1 <= score <= scale:
        raise ValueError(f"score {score!r} on a {scale!r}-point scale is not a rating")
    return offset + score - 1


class Tally:
    """Answers per (scale, score) and picks per reason: whole numbers that add exactly."""

    __slots__ = ("counts", "reasons")

    def __init__(
        self, counts: Iterable[int] | None = None, reasons: Mapping[str, int] | None = None
    ) -> None:
        self.counts: list[int] = list(counts) if counts is not None else [0] * SLOTS
        if len(self.counts) != SLOTS:
            raise ValueError(f"a tally has {SLOTS} counts, not {len(self.counts)}")
        self.reasons: dict[str, int] = dict(reasons) if reasons else {}

    def add(self, scale: int, score: int, reasons: Iterable[str] = (), times: int = 1) -> None:
        self.counts[slot(scale, score)] += times
        for reason in reasons:
            self.reasons[reason] = self.reasons.get(reason, 0) + times

    def merge(self, other: Tally) -> Tally:
        """Add ``other`` into this tally (in place) and return it."""
        self.counts = list(map(add, self.counts, other.counts))
        if other.reasons:
            mine = self.reasons
            for reason, times in other.reasons.items():
                mine[reason] = mine.get(reason, 0) + times
        return self

    @classmethod
    def total(cls, tallies: Iterable[Tally], reasons: bool = True) -> Tally:
        """The sum of many tallies at once (column sums in C: cheaper than merging one by one).

        ``reasons=False`` leaves the reasons out, for figures that never show them.
        """
        tallies = list(tallies)
        if not tallies:
            return cls()
        summed = cls([sum(column) for column in zip(*(t.counts for t in tallies), strict=True)])
        if not reasons:
            return summed
        picked = summed.reasons
        for tally in tallies:
            if tally.reasons:
                for reason, times in tally.reasons.items():
                    picked[reason] = picked.get(reason, 0) + times
        return summed

    def copy(self) -> Tally:
        return Tally(self.counts, self.reasons)

    @property
    def count(self) -> int:
        return sum(self.counts)

    def items(self) -> Iterable[tuple[int, int, int]]:
        """``(scale, score, answers)`` for every non-zero count, in a fixed order."""
        for scale in SCALES:
            offset = _OFFSET[scale]
            for score in range(1, scale + 1):
                times = self.counts[offset + score - 1]
                if times:
                    yield scale, score, times

    def top_reasons(self, n: int | None = None) -> list[tuple[str, int]]:
        """Reasons by how often they were picked, ties by id (a stable order for tests)."""
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
        return ranked if n is None else ranked[:n]

    def to_json(self) -> list[Any]:
        return [self.counts, self.reasons]

    @classmethod
    def from_json(cls, data: Any) -> Tally:
        counts, reasons = data
        if not all(map(isinstance, counts, repeat(int))) or min(counts, default=0) < 0:
            raise ValueError("tally counts must be non-negative integers")
        if not isinstance(reasons, dict):
            raise ValueError("tally reasons must be a mapping")
        return cls(counts, reasons)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tally):
            return NotImplemented
        return self.counts == other.counts and {k: v for k, v in self.reasons.items() if v} == {
            k: v for k, v in other.reasons.items() if v
        }

    def __repr__(self) -> str:
        shown = ", ".join(f"{s}/{k}:{n}" for k, s, n in self.items())
        return f"Tally({shown}; reasons={self.reasons})"


def on_scale(score: int, scale: int, cycle_scale: int) -> Fraction:
    """An answer moved linearly from its own scale onto the cycle's (exactly)."""
    if scale == cycle_scale:
        return Fraction(score)
    return 1 + Fraction((score - 1) * (cycle_scale - 1), scale - 1)


def satisfied(score: int, scale: int) -> bool:
    """Top two boxes of the answer's own scale (top box and next on a 4-point scale)."""
    return score >= scale - 1


@dataclass(frozen=True)
class Figures:
    """What a report says about one moment, stage, cycle or slice of them."""

    count: int
    scale: int  # the cycle's scale, which mean and target are on
    target: float | None = None
    mean: float | None = None
    mean_ci: Interval | None = None
    variance: float | None = None  # sample variance of the answers on the cycle's scale
    index: float | None = None
    index_ci: Interval | None = None
    satisfied: int = 0
    csat: float | None = None
    csat_ci: Interval | None = None
    negative: int = 0
    negative_share: float | None = None
    negative_ci: Interval | None = None
    gap: float | None = None
    gap_ci: Interval | None = None
    reasons: tuple[tuple[str, int], ...] = field(default=())
    #: How many answers gave each face, per scale answered on: ``{5: (n1, ..., n5)}``.
    faces: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @property
    def too_few(self) -> bool:
        """Fewer than :data:`MIN_ANSWERS` answers: shown, but not ranked."""
        return self.count < MIN_ANSWERS

    @property
    def mean_se(self) -> float | None:
        """Standard error of the mean (for comparing periods)."""
        if self.variance is None or self.count < 2:
            return None
        return math.sqrt(self.variance / self.count)

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        return list(self.reasons[:n])

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (intervals as ``[low, high]``)."""

        def pair(interval: Interval | None) -> list[float] | None:
            return None if interval is None else [interval.low, interval.high]

        return {
            "count": self.count,
            "too_few": self.too_few,
            "target": self.target,
            "mean": self.mean,
            "mean_ci": pair(self.mean_ci),
            "index": self.index,
            "index_ci": pair(self.index_ci),
            "csat": self.csat,
            "csat_ci": pair(self.csat_ci),
            "negative_share": self.negative_share,
            "negative_ci": pair(self.negative_ci),
            "gap": self.gap,
            "gap_ci": pair(self.gap_ci),
            "satisfied": self.satisfied,
            "negative": self.negative,
            "top_reasons": [list(item) for item in self.reasons],
            "faces": {str(scale): list(counts) for scale, counts in self.faces.items()},
        }


#: Answers are moved onto the cycle's scale in steps of 1/_UNIT (exact for every scale pair).
_UNIT = lcm(*(scale - 1 for scale in SCALES))


def figures(
    tally: Tally,
    cycle_scale: int,
    target: float | Fraction | None = None,
    low_threshold: int = LOW_THRESHOLD,
) -> Figures:
    """Every figure of one tally; means and target on ``cycle_scale``.

    Sums are exact integers (each answer in units of 1/12 of a point), and every
    float comes from one correctly rounded division, so equal tallies always
    give bit-identical figures, whatever order they were added in.
    """
    n = 0
    total = 0  # sum of the answers on the cycle's scale, times _UNIT
    squares = 0
    happy = 0
    unhappy = 0
    for scale, score, times in tally.items():
        value = _UNIT + (score - 1) * (cycle_scale - 1) * _UNIT // (scale - 1)
        n += times
        total += times * value
        squares += times * value * value
        happy += times if satisfied(score, scale) else 0
        unhappy += times if score <= low_threshold else 0
    reasons = tuple(tally.top_reasons())
    target_value = None if target is None else float(target)
    if n == 0:
        return Figures(0, cycle_scale, target=target_value, reasons=reasons)
    faces = {
        scale: tuple(tally.counts[slot(scale, 1) : slot(scale, scale) + 1])
        for scale in SCALES
        if any(tally.counts[slot(scale, 1) : slot(scale, scale) + 1])
    }
    mean = total / (n * _UNIT)
    variance = (n * squares - total * total) / (n * (n - 1) * _UNIT * _UNIT) if n > 1 else 0.0
    mean_ci = _clip(mean_interval(mean, variance, n), 1.0, float(cycle_scale))
    to_index = 100 / (cycle_scale - 1)
    gap = None if target_value is None else target_value - mean
    return Figures(
        count=n,
        scale=cycle_scale,
        target=target_value,
        mean=mean,
        mean_ci=mean_ci,
        variance=variance if n > 1 else None,
        index=(total - n * _UNIT) * 100 / (n * _UNIT * (cycle_scale - 1)),
        index_ci=None if mean_ci is None else mean_ci.scaled(to_index, -to_index),
        satisfied=happy,
        csat=happy / n,
        csat_ci=wilson(happy, n),
        negative=unhappy,
        negative_share=unhappy / n,
        negative_ci=wilson(unhappy, n),
        gap=gap,
        gap_ci=None
        if target_value is None or mean_ci is None
        else mean_ci.scaled(-1.0, target_value),
        reasons=reasons,
        faces=faces,
    )


def _clip(interval: Interval | None, low: float, high: float) -> Interval | None:
    """A mean cannot leave its scale: a small sample's t interval is cut at the ends."""
    if interval is None:
        return None
    return Interval(max(low, interval.low), min(high, interval.high))


def combine(parts: Iterable[tuple[Tally, float]]) -> tuple[Tally, Fraction | None]:
    """Merge moment tallies into a stage's or cycle's, with its answer-weighted target.

    The weighted target makes the combined gap the answer-weighted mean of the
    moments' gaps: a stage is not judged against the target of a moment nobody rated.
    """
    merged = Tally()
    weighted = Fraction(0)
    for tally, target in parts:
        merged.merge(tally)
        weighted += tally.count * Fraction(target)
    n = merged.count
    return merged, (weighted / n if n else None)


def tally_ratings(
    ratings: Iterable[Rating],
    catalogue: Catalogue,
    *,
    include_suspect: bool = False,
    skip_invalid: bool = False,
) -> dict[tuple[str, str], Tally]:
    """Tallies per (cycle, moment) of a stream of ratings — the record-by-record path.

    Ratings of a cycle or moment no plugin provides any more are left out, as
    are suspect presses unless asked for. A rating with an impossible score
    raises ``ValueError``, or is skipped with ``skip_invalid`` (a staff screen
    must keep working).
    """
    tallies: dict[tuple[str, str], Tally] = {}
    known: dict[tuple[str, str], bool] = {}
    for rating in ratings:
        if rating.suspect and not include_suspect:
            continue
        key = (rating.cycle, rating.moment)
        found = known.get(key)
        if found is None:
            cycle = catalogue.cycles.get(rating.cycle)
            found = known[key] = cycle is not None and cycle.find_moment(rating.moment) is not None
        if not found:
            continue
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally()
        try:
            tally.add(rating.scale, rating.score, rating.reasons)
        except ValueError:
            if not skip_invalid:
                raise
            log.warning(
                "rating %s skipped: score %r on a %r-point scale",
                rating.id,
                rating.score,
                rating.scale,
            )
    return tallies
