"""Which phase of its life a service is in — introduction, growth, maturity, decline.

A service offering rises, levels off and fades; its monthly volume of ratings
shows where it stands. The rule, on complete local calendar months only (the
running month is left out, as its volume is not yet known):

1. The service's months run from the first month with a rating (within the
   last :data:`LOOKBACK` months) to the last complete month; months without
   ratings count as 0.
2. **introduction** — fewer than :data:`MIN_MONTHS` such months: too new to
   have a trend.
3. Otherwise take the last :data:`WINDOW` months and their mean volume ``m``.
   If ``m`` is 0 the service is in **decline** (nobody rated it for half a year).
4. ``r6`` = least-squares slope of those 6 monthly volumes ÷ ``m``, and ``r3``
   = slope of the last 3 of them ÷ ``m`` (both in "share of a typical month,
   per month").
5. **growth** — ``r6 ≥ +5 %/month`` and ``r3 > 0``: a sustained rise.
   **decline** — ``r6 ≤ −5 %/month`` and ``r3 < 0``: a sustained fall.
   **maturity** — anything else: volume about level, or a trend the last
   quarter does not confirm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

Phase = Literal["introduction", "growth", "maturity", "decline"]
PHASES: tuple[Phase, ...] = ("introduction", "growth", "maturity", "decline")

#: Months of history the report reads for the lifecycle (and charts).
LOOKBACK = 12
#: Complete months needed before a trend is judged.
MIN_MONTHS = 6
#: Months the trend is measured over.
WINDOW = 6
#: Relative slope (per month) that counts as growth or decline.
THRESHOLD = 0.05


@dataclass(frozen=True)
class Lifecycle:
    phase: Phase | None  # None: no ratings at all
    months: tuple[tuple[str, int], ...]  # ("2026-05", volume), complete months, oldest first
    r6: float | None = None
    r3: float | None = None

    @property
    def explanation(self) -> str:
        """Why this phase, in words and numbers a manager can check."""
        n = len(self.months)
        if self.phase is None:
            return "no ratings in the last complete months"
        if self.phase == "introduction":
            return f"only {n} complete month(s) of ratings (a trend needs {MIN_MONTHS})"
        if self.r6 is None or self.r3 is None:
            return "no ratings in the last 6 complete months"
        return (
            f"volume {self.r6:+.1%}/month over the last {WINDOW} months, "
            f"{self.r3:+.1%}/month over the last 3"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "explanation": self.explanation,
            "r6": self.r6,
            "r3": self.r3,
            "months": [{"month": month, "count": count} for month, count in self.months],
        }


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, …"""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    den = sum((x - mean_x) ** 2 for x in range(n))
    return num / den


def month_keys(last_complete: date, count: int) -> list[str]:
    """The ``count`` months up to and including ``last_complete``'s, oldest first."""
    keys = []
    year, month = last_complete.year, last_complete.month
    for _ in range(count):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return keys[::-1]


def phase_of(volumes: Mapping[str, int], last_complete: date) -> Lifecycle:
    """Apply the rule above to monthly volumes (``"YYYY-MM"`` → ratings)."""
    keys = month_keys(last_complete, LOOKBACK)
    first = next((i for i, key in enumerate(keys) if volumes.get(key, 0) > 0), None)
    if first is None:
        return Lifecycle(None, ())
    months = tuple((key, int(volumes.get(key, 0))) for key in keys[first:])
    if len(months) < MIN_MONTHS:
        return Lifecycle("introduction", months)
    window = [count for _, count in months[-WINDOW:]]
    mean = sum(window) / len(window)
    if mean == 0:
        return Lifecycle("decline", months)
    r6 = slope(window) / mean
    r3 = slope(window[-3:]) / mean
    if r6 >= THRESHOLD and r3 > 0:
        phase: Phase = "growth"
    elif r6 <= -THRESHOLD and r3 < 0:
        phase = "decline"
    else:
        phase = "maturity"
    return Lifecycle(phase, months, r6, r3)
