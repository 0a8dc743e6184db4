"""How figures read in every format: numbers, margins, changes, and the colour of a score.

The terminal, the HTML page and the CSV header all word a figure the same
way, so a manager who compares the printed card with the screen sees the
same numbers. The colour rule — a score *meets* its promise, is *near* it, or
falls *short* — lives here too.
"""

from __future__ import annotations

from typing import Literal

from .figures import Figures
from .trend import Delta

Standing = Literal["meets", "near", "short", "too-few", "none"]
#: A gap up to this share of the scale's range (0.4 of a point on a 5-point scale) is "near".
NEAR = 0.10

NO_VALUE = "–"


def standing(figures: Figures) -> Standing:
    """How a perceived score stands against its promise (the colour it is drawn in).

    *meets*: gap ≤ 0; *near*: short by at most 10 % of the scale's range;
    *short*: further below; *too-few*: under the minimum number of answers
    (drawn grey whatever its score); *none*: no answers, or no target.
    """
    if figures.count == 0 or figures.gap is None:
        return "none"
    if figures.too_few:
        return "too-few"
    if figures.gap <= 0:
        return "meets"
    if figures.gap <= NEAR * (figures.scale - 1):
        return "near"
    return "short"


def number(value: float | None, digits: int = 2) -> str:
    return NO_VALUE if value is None else f"{value:.{digits}f}"


def percent(value: float | None, digits: int = 0) -> str:
    return NO_VALUE if value is None else f"{value * 100:.{digits}f} %"


def signed(value: float | None, digits: int = 2) -> str:
    return NO_VALUE if value is None else f"{value:+.{digits}f}"


def mean_text(figures: Figures) -> str:
    """``4.12 ± 0.05`` (the 95 % margin), or just the mean when it has none."""
    if figures.mean is None:
        return NO_VALUE
    if figures.mean_ci is None:
        return number(figures.mean)
    return f"{figures.mean:.2f} ± {figures.mean_ci.half_width:.2f}"


def share_text(value: float | None, interval: object) -> str:
    """``78 % (75–81)``: a share with its Wilson interval."""
    if value is None:
        return NO_VALUE
    low_high = getattr(interval, "low", None), getattr(interval, "high", None)
    if low_high[0] is None or low_high[1] is None:
        return percent(value)
    return f"{value * 100:.0f} % ({low_high[0] * 100:.0f}–{low_high[1] * 100:.0f})"


def index_text(figures: Figures) -> str:
    if figures.index is None:
        return NO_VALUE
    if figures.index_ci is None:
        return f"{figures.index:.0f}"
    margin = figures.index_ci.half_width
    return (
        f"{figures.index:.0f} ± {margin:.1f}"
        if margin < 10
        else f"{figures.index:.0f} ± {margin:.0f}"
    )


def gap_text(figures: Figures) -> str:
    return signed(figures.gap)


def count_text(figures: Figures) -> str:
    """``1,234``, or ``12 (too few)`` under the minimum."""
    text = f"{figures.count:,}"
    return f"{text} (too few)" if figures.count and figures.too_few else text


def delta_text(delta: Delta, kind: Literal["mean", "share", "index", "volume"]) -> str:
    """A change against the previous period; ``*`` marks one beyond noise."""
    if delta.change is None:
        return NO_VALUE
    if kind == "share":
        text = f"{delta.change * 100:+.0f} pt"
    elif kind == "volume":
        text = f"{delta.change * 100:+.0f} %"
    elif kind == "index":
        text = f"{delta.change:+.0f}"
    else:
        text = f"{delta.change:+.2f}"
    return text + ("*" if delta.beyond_noise else "")


def arrow(delta: Delta) -> str:
    """▲ or ▼ for a change beyond noise, · otherwise."""
    if not delta.beyond_noise or delta.change is None or delta.change == 0:
        return "·"
    return "▲" if delta.change > 0 else "▼"
