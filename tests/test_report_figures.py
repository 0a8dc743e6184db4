"""Figures against values worked out by hand: mean, CSAT, index, negative share, gap, intervals."""

from __future__ import annotations

import math

import pytest

from servicecycle.core.reports.figures import MIN_ANSWERS, Tally, combine, figures
from servicecycle.core.reports.stats import Z95, beyond_noise, t_quantile, wilson


def tally(*answers: tuple[int, int], reasons: dict[str, int] | None = None) -> Tally:
    """answers: (scale, score) pairs."""
    t = Tally()
    for scale, score in answers:
        t.add(scale, score)
    for reason, n in (reasons or {}).items():
        t.reasons[reason] = n
    return t


def test_five_answers_on_a_five_point_scale_by_hand():
    # scores 5, 4, 4, 2, 1 against a target of 4.4
    f = figures(tally((5, 5), (5, 4), (5, 4), (5, 2), (5, 1)), 5, 4.4)
    assert f.count == 5
    assert f.mean == pytest.approx(16 / 5)
    assert f.csat == pytest.approx(3 / 5)  # 5, 4, 4: top two boxes
    assert f.negative_share == pytest.approx(2 / 5)  # 2 and 1: at or below 2
    assert f.index == pytest.approx((1 + 0.75 + 0.75 + 0.25 + 0) / 5 * 100)  # 55
    assert f.gap == pytest.approx(4.4 - 3.2)
    # sample variance: squared deviations 3.24 .64 .64 1.44 4.84 = 10.8, / 4
    assert f.variance == pytest.approx(2.7)
    half = 2.776445 * math.sqrt(2.7 / 5)  # t(0.975, 4 df)
    high = min(5.0, 3.2 + half)  # the mean cannot leave the scale: the interval is cut at 5
    assert (f.mean_ci.low, f.mean_ci.high) == pytest.approx((3.2 - half, high))
    assert (f.gap_ci.low, f.gap_ci.high) == pytest.approx((4.4 - high, 1.2 + half))
    assert (f.index_ci.low, f.index_ci.high) == pytest.approx(((2.2 - half) * 25, 100.0))
    # Wilson 3/5: the textbook (0.2307, 0.8824)
    assert (f.csat_ci.low, f.csat_ci.high) == pytest.approx((0.2307, 0.8824), abs=5e-5)
    assert f.too_few


def test_mixed_scales_on_one_moment():
    # 5/5, 4/4, 3/4 and 1/4 on a 5-point cycle
    f = figures(tally((5, 5), (4, 4), (4, 3), (4, 1)), 5, 4.0)
    on_five = [5, 5, 1 + 2 * 4 / 3, 1]  # each answer moved linearly onto 1..5
    assert f.mean == pytest.approx(sum(on_five) / 4)
    assert f.index == pytest.approx((1 + 1 + 2 / 3 + 0) / 4 * 100)
    # CSAT on each answer's own scale: 5/5, 4/4 and 3/4 are satisfied (top box and next)
    assert f.csat == pytest.approx(3 / 4)
    assert f.negative_share == pytest.approx(1 / 4)  # 1 of 4 (2 would count too)
    assert f.index == pytest.approx((f.mean - 1) / 4 * 100)  # the index is the mean, rescaled


def test_a_four_point_cycle_moves_five_point_answers_down():
    f = figures(tally((5, 5), (5, 3)), 4, 3.0)
    assert f.mean == pytest.approx((4 + 2.5) / 2)
    assert f.csat == pytest.approx(1 / 2)  # 3 of 5 is not satisfied
    assert f.gap == pytest.approx(3.0 - 3.25)


def test_empty_and_single_answer():
    empty = figures(Tally(), 5, 4.4)
    assert empty.count == 0
    assert (empty.mean, empty.csat, empty.index, empty.gap, empty.mean_ci) == (None,) * 5
    assert empty.target == 4.4 and empty.too_few
    one = figures(tally((5, 4)), 5, 4.4)
    assert (one.count, one.mean, one.csat, one.negative_share) == (1, 4.0, 1.0, 0.0)
    assert one.mean_ci is None and one.gap_ci is None  # no spread from one answer
    assert one.csat_ci is not None and one.csat_ci.low > 0.0  # Wilson still answers
    assert one.gap == pytest.approx(0.4)


def test_minimum_answers_and_interval_cut_at_the_scale():
    few = figures(tally(*[(5, 5)] * (MIN_ANSWERS - 1), (5, 1)), 5, 4.0)
    assert few.count == MIN_ANSWERS and not few.too_few
    tiny = figures(tally((5, 5), (5, 1)), 5, 4.0)
    assert tiny.mean_ci.low == 1.0 and tiny.mean_ci.high == 5.0  # t with 1 df is huge


def test_low_threshold_and_reasons_order():
    t = tally((5, 3), (5, 2), (5, 1), reasons={"b": 2, "a": 2, "c": 5})
    assert figures(t, 5, None, low_threshold=1).negative_share == pytest.approx(1 / 3)
    assert figures(t, 5, None, low_threshold=3).negative_share == pytest.approx(1.0)
    assert figures(t, 5).reasons == (("c", 5), ("a", 2), ("b", 2))
    assert figures(t, 5).gap is None


def test_figures_do_not_depend_on_the_order_tallies_are_added():
    parts = [tally((5, s), (4, (s % 4) + 1)) for s in range(1, 6)] * 7
    forward, backward = Tally(), Tally()
    for part in parts:
        forward.merge(part)
    for part in reversed(parts):
        backward.merge(part)
    assert figures(forward, 5, 4.1) == figures(backward, 5, 4.1)


def test_stage_target_is_answer_weighted():
    a, b = tally(*[(5, 5)] * 3), tally((5, 3))
    merged, target = combine([(a, 4.0), (b, 5.0)])
    assert merged.count == 4
    assert float(target) == pytest.approx((3 * 4.0 + 1 * 5.0) / 4)
    f = figures(merged, 5, target)
    gaps = [4.0 - 5.0] * 3 + [5.0 - 3.0]  # the moments' gaps, one per answer
    assert f.gap == pytest.approx(sum(gaps) / 4)
    assert combine([]) == (Tally(), None)


def test_impossible_scores_are_refused():
    for scale, score in ((5, 6), (5, 0), (3, 1), (4, True)):
        with pytest.raises(ValueError):
            Tally().add(scale, score)


def _t_cdf(t: float, df: int, steps: int = 20000) -> float:
    """P(T <= t) by Simpson's rule on the density (for checking the table, not for use)."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def pdf(x: float) -> float:
        return c * (1 + x * x / df) ** (-(df + 1) / 2)

    h = t / steps
    total = pdf(0) + pdf(t) + sum((4 if i % 2 else 2) * pdf(i * h) for i in range(1, steps))
    return 0.5 + total * h / 3


@pytest.mark.parametrize("df", [1, 2, 4, 9, 30, 31, 45, 120, 1000])
def test_t_quantile_is_the_975_point(df):
    assert _t_cdf(t_quantile(df), df) == pytest.approx(0.975, abs=2e-6)


def test_wilson_and_noise():
    assert wilson(0, 0) is None
    zero = wilson(0, 10)
    assert zero.low == 0.0 and zero.high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(10, 10).high == 1.0
    assert round(Z95, 6) == 1.959964
    assert beyond_noise(0.3, 0.1, 0.1) and not beyond_noise(0.2, 0.1, 0.1)
