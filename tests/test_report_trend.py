"""Periods in the site's time zone, the comparison with the previous period, series, lifecycle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from servicecycle.core import ServiceCycleError
from servicecycle.core.reports.figures import Tally, figures
from servicecycle.core.reports.lifecycle import phase_of, slope
from servicecycle.core.reports.period import Period, default_period, period_from
from servicecycle.core.reports.trend import compare, granularity, series

from .test_report_support import ISTANBUL, utc


def test_default_period_is_the_last_30_local_days():
    now = utc(2026, 11, 22, 22, 30)  # already 23 November in Istanbul (UTC+3)
    period = default_period(ISTANBUL, now)
    assert period.label() == "2026-10-25 – 2026-11-23"
    assert period.since == datetime(2026, 10, 25, tzinfo=ISTANBUL)
    assert period.utc() == ("2026-10-24T21:00:00.000000Z", "2026-11-23T21:00:00.000000Z")
    assert period.days == 30 and period.whole_days
    previous = period.previous()
    assert previous.label() == "2026-09-25 – 2026-10-24" and previous.until == period.since


def test_dates_and_times_as_options():
    p = period_from("2026-11-01", "2026-11-30", ISTANBUL)
    assert p.label() == "2026-11-01 – 2026-11-30" and p.days == 30  # --until DATE is inclusive
    p = period_from("2026-11-01T08:00", "2026-11-01T20:00+03:00", ISTANBUL)
    assert not p.whole_days and p.since.utcoffset() == timedelta(hours=3)  # naive: site time
    assert p.previous().since == p.since - timedelta(hours=12)
    p = period_from(None, "2026-11-30", ISTANBUL)
    assert p.label() == "2026-11-01 – 2026-11-30"
    with pytest.raises(ServiceCycleError, match="neither a date"):
        period_from("yesterday", None, ISTANBUL)
    with pytest.raises(ServiceCycleError, match="must be after"):
        period_from("2026-11-05", "2026-11-01", ISTANBUL)


def test_previous_period_across_a_daylight_saving_change():
    berlin = ZoneInfo("Europe/Berlin")
    p = period_from("2026-10-26", "2026-11-01", berlin)  # the week after the clocks went back
    previous = p.previous()
    assert previous.label() == "2026-10-19 – 2026-10-25"
    since, until = (edge.astimezone(UTC) for edge in (previous.since, previous.until))
    assert until - since == timedelta(days=7, hours=1)  # Sunday 25 October had 25 hours


def _figures(*scores: int, target: float = 4.0):
    t = Tally()
    for score in scores:
        t.add(5, score)
    return figures(t, 5, target)


def test_change_beyond_noise_needs_enough_answers():
    better = compare(_figures(*([5] * 60 + [4] * 40)), _figures(*([2] * 50 + [3] * 50)))
    assert better.mean.change == pytest.approx(4.6 - 2.5)
    assert better.mean.beyond_noise is True
    assert better.csat.change == pytest.approx(1.0) and better.csat.beyond_noise is True
    assert better.count.change == 0.0 and better.count.beyond_noise is None
    same = compare(_figures(*([4, 5] * 40)), _figures(*([5, 4] * 40)))
    assert same.mean.change == 0.0 and same.mean.beyond_noise is False
    few = compare(_figures(5, 5, 5), _figures(1, 1, 1))
    assert few.mean.change == 4.0 and few.mean.beyond_noise is None  # too few to judge
    nothing = compare(_figures(5), _figures())
    assert nothing.mean.change is None and nothing.count.change is None


def test_series_fills_every_day_and_groups_weeks():
    period = period_from("2026-11-02", "2026-11-15", ISTANBUL)  # Monday to Sunday, two weeks
    day = Tally()
    day.add(5, 5)
    daily = {"2026-11-02": day, "2026-11-04": day.copy(), "2026-11-10": day.copy()}
    days = series(daily, period, "day", 5, 2)
    assert len(days) == 14 and days[0].start == date(2026, 11, 2)
    assert [p.figures.count for p in days[:3]] == [1, 0, 1]
    weeks = series(daily, period, "week", 5, 2)
    assert [(p.start, p.figures.count) for p in weeks] == [
        (date(2026, 11, 2), 2),
        (date(2026, 11, 9), 1),
    ]
    assert granularity(period) == "day"
    assert granularity(period_from("2026-01-01", "2026-12-31", ISTANBUL)) == "week"
    assert granularity(period, "week") == "week"


LAST = date(2026, 10, 1)  # the last complete month is October 2026
MONTHS = ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05",
          "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]  # fmt: skip


def volumes(*counts: int) -> dict[str, int]:
    return dict(zip(MONTHS[-len(counts) :], counts, strict=True))


@pytest.mark.parametrize(
    ("counts", "phase"),
    [
        ((), None),
        ((100, 120, 140, 160, 180), "introduction"),  # 5 complete months: too new
        ((100, 110, 121, 133, 146, 161), "growth"),  # +10 %/month, still rising
        ((100, 100, 100, 100, 100, 100, 100), "maturity"),
        ((160, 150, 140, 128, 118, 100), "decline"),
        ((100, 120, 140, 160, 150, 140), "maturity"),  # rose, but the last quarter falls
        ((100, 104, 98, 102, 99, 101, 103, 97), "maturity"),  # noise around a level
        ((50, 40, 30, 20, 0, 0, 0, 0, 0, 0), "decline"),  # nobody rated it for 6 months
        ((0, 0, 0, 30, 60, 90, 120, 150, 180), "growth"),  # zeros before the start: ignored
    ],
)
def test_lifecycle_phases(counts, phase):
    assert phase_of(volumes(*counts) if counts else {}, LAST).phase == phase


def test_lifecycle_numbers_are_the_documented_ones():
    life = phase_of(volumes(100, 110, 121, 133, 146, 161), LAST)
    window = [100, 110, 121, 133, 146, 161]
    mean = sum(window) / 6
    assert life.r6 == pytest.approx(slope(window) / mean)
    assert life.r3 == pytest.approx(slope(window[-3:]) / mean)
    assert slope([1, 3, 5]) == 2.0
    assert life.months[0] == ("2026-05", 100) and len(life.months) == 6
    assert "+" in life.explanation and "%/month" in life.explanation
    assert "only 2" in phase_of(volumes(5, 5), LAST).explanation
    later = phase_of({"2026-11": 999, **volumes(100, 100, 100, 100, 100, 100)}, LAST)
    assert later.phase == "maturity"  # the running month is never judged


def test_a_period_needs_zones_and_order():
    with pytest.raises(ServiceCycleError):
        Period(datetime(2026, 1, 2), datetime(2026, 1, 3), ISTANBUL)
