"""`moment_figures`, the staff screen's figures: the same numbers as the reports, same API."""

from __future__ import annotations

import dataclasses

import pytest

from servicecycle.core import MomentFigures, moment_figures
from servicecycle.core.reports.figures import figures, tally_ratings

from .test_report_support import rating, utc

AT = utc(2026, 11, 22, 9)


def test_counts_mean_gap_and_reasons_as_before(catalogue):
    ratings = [
        rating(catalogue, AT, 1, reasons=["lost-time"]),
        rating(catalogue, AT, 2, reasons=["lost-time", "wrong-pace"]),
        rating(catalogue, AT, 5),
        rating(catalogue, AT, 4, moment="bill-accuracy"),
    ]
    found = moment_figures(ratings, catalogue)
    assert [f.moment for f in found] == ["bill-accuracy", "check-out-wait"]  # cycle order
    wait = found[1]
    assert isinstance(wait, MomentFigures)
    assert (wait.cycle, wait.stage, wait.critical, wait.target) == (
        "hotel-guest",
        "check-out",
        True,
        4.4,
    )
    assert (wait.count, wait.negative) == (3, 2)
    assert wait.mean == pytest.approx(8 / 3)
    assert wait.total == pytest.approx(8.0)
    assert wait.gap == pytest.approx(4.4 - 8 / 3)
    assert wait.negative_share == pytest.approx(2 / 3)
    assert wait.top_reasons() == [("lost-time", 2), ("wrong-pace", 1)]
    assert wait.top_reasons(1) == [("lost-time", 2)]
    # and the new figures, from the one implementation the reports use
    assert wait.csat == pytest.approx(1 / 3)
    assert wait.index == pytest.approx((0 + 0.25 + 1) / 3 * 100)
    assert wait.too_few
    assert wait.figures == figures(wait.tally, 5, 4.4, 2)


def test_critical_moments_come_first(catalogue):
    ratings = [
        rating(catalogue, AT, 4, moment="booking-contact"),
        rating(catalogue, AT, 4, moment="check-out-wait"),
        rating(catalogue, AT, 4, moment="pickup-welcome"),
        rating(catalogue, AT, 4, moment="wait-time", cycle="banking-branch"),
    ]
    order = [(f.critical, f.cycle, f.moment) for f in moment_figures(ratings, catalogue)]
    assert order == [
        (True, "banking-branch", "wait-time"),
        (True, "hotel-guest", "pickup-welcome"),
        (True, "hotel-guest", "check-out-wait"),
        (False, "hotel-guest", "booking-contact"),
    ]


def test_suspect_presses_left_out_unless_asked(catalogue):
    ratings = [rating(catalogue, AT, 1, suspect=True), rating(catalogue, AT, 5, suspect=True)]
    assert moment_figures(ratings, catalogue) == []
    both = moment_figures(ratings, catalogue, include_suspect=True)
    assert both[0].count == 2 and both[0].mean == 3.0


def test_mixed_scales_and_low_threshold(catalogue):
    ratings = [rating(catalogue, AT, 4, scale=4), rating(catalogue, AT, 3, scale=5)]
    (wait,) = moment_figures(ratings, catalogue, low_threshold=3)
    assert wait.mean == pytest.approx((5 + 3) / 2)
    assert wait.negative == 1 and wait.low_threshold == 3
    assert wait.csat == pytest.approx(1 / 2)


def test_uninstalled_cycles_and_impossible_scores_are_skipped(catalogue):
    good = rating(catalogue, AT, 4)
    gone = dataclasses.replace(good, cycle="spa-visit")
    broken = dataclasses.replace(good, score=9)
    (wait,) = moment_figures([good, gone, broken], catalogue)
    assert wait.count == 1
    with pytest.raises(ValueError, match="score 9"):
        tally_ratings([broken], catalogue)


def test_hand_built_figures_still_work():
    entry = MomentFigures("c", "s", "m", False, 4.0, count=2, total=7.0, negative=1)
    assert (entry.mean, entry.gap, entry.negative_share) == (3.5, 0.5, 0.5)
    assert entry.top_reasons() == [] and entry.csat is None
