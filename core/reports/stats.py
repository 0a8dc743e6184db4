"""Margins of error: 95 % intervals for shares and means, and when a change is more than noise.

A manager comparing two moments needs to know whether a difference is real or
just a handful of answers. Every figure a report shows therefore carries its
95 % interval:

* shares (CSAT, negative share) use the **Wilson score interval**, which stays
  inside 0–100 % and behaves with small counts and shares near 0 or 1, where
  the textbook ``p ± z·√(p(1−p)/n)`` interval fails;
* means use the **Student t interval** ``mean ± t(0.975, n−1) · s/√n`` with the
  sample standard deviation ``s``; with many answers it is the normal interval.

No SciPy: the t quantile comes from an exact table for 1–30 degrees of freedom
and the Cornish–Fisher expansion beyond (error < 1e-6 there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

#: The confidence level of every interval in a report.
CONFIDENCE = 0.95
#: The two-sided 95 % normal quantile, 1.959963…
Z95 = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)

# t(0.975, df) for df = 1..30 (standard table values, 6 decimals).
_T975 = (
    12.706205,
    4.302653,
    3.182446,
    2.776445,
    2.570582,
    2.446912,
    2.364624,
    2.306004,
    2.262157,
    2.228139,
    2.200985,
    2.178813,
    2.160369,
    2.144787,
    2.131450,
    2.119905,
    2.109816,
    2.100922,
    2.093024,
    2.085963,
    2.079614,
    2.073873,
    2.068658,
    2.063899,
    2.059539,
    2.055529,
    2.051831,
    2.048407,
    2.045230,
    2.042272,
)


@dataclass(frozen=True)
class Interval:
    """A closed range ``[low, high]`` that holds the true value with 95 % confidence."""

    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def scaled(self, factor: float, offset: float = 0.0) -> Interval:
        """The interval moved through ``x → offset + factor·x`` (order kept)."""
        a, b = offset + factor * self.low, offset + factor * self.high
        return Interval(min(a, b), max(a, b))


def t_quantile(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (two-sided 95 %)."""
    if df < 1:
        raise ValueError("the t distribution needs at least 1 degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    z = Z95
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def wilson(successes: int, n: int) -> Interval | None:
    """Wilson score interval of the share ``successes / n``; ``None`` without answers."""
    if n <= 0:
        return None
    z2 = Z95 * Z95
    p = successes / n
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, no rounding dust
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low, high)


def mean_interval(mean: float, variance: float, n: int) -> Interval | None:
    """Student t interval of a mean; ``None`` below 2 answers (no spread to measure)."""
    if n < 2:
        return None
    half = t_quantile(n - 1) * math.sqrt(max(variance, 0.0) / n)
    return Interval(mean - half, mean + half)


def beyond_noise(delta: float, se_now: float, se_before: float) -> bool:
    """Whether a change exceeds its 95 % margin: ``|Δ| > z·√(se₁² + se₂²)``.

    The two periods are independent samples, so their standard errors add in
    quadrature (Welch's test for means, the unpooled two-proportion test for
    shares, both with the normal quantile).
    """
    return abs(delta) > Z95 * math.sqrt(se_now * se_now + se_before * se_before)
