"""Opening time, and the "kiosk silent" rule that counts only opening time.

A month of ordinary traffic must not raise a silence alert every night the
lobby is closed: only a kiosk that stops answering while the site is open is
news to anyone.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicecycle.core import SiteSettings
from servicecycle.core.opening import after_open_time, open_seconds
from servicecycle.core.rules import RuleEngine, load_ruleset

HOUR = 3600.0
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)


def ts(day: int, hour: float, base: datetime = MONDAY) -> float:
    return (base + timedelta(days=day, hours=hour)).timestamp()


def test_opening_time_counts_only_open_hours():
    site = SiteSettings(opening_hours={"mon": ["08:00-12:00", "13:00-17:00"], "tue": []})
    assert open_seconds(site, ts(0, 0), ts(1, 0)) == 8 * HOUR
    assert open_seconds(site, ts(0, 11), ts(0, 14)) == 2 * HOUR
    assert open_seconds(site, ts(0, 18), ts(6, 23)) == 0  # closed till next Monday
    assert after_open_time(site, ts(0, 11), 2 * HOUR) == ts(0, 14)
    assert after_open_time(site, ts(0, 16), 2 * HOUR) == ts(7, 9)  # next Monday 09:00


def test_always_open_never_open_and_a_day_to_midnight():
    always = SiteSettings(opening_hours={})
    assert after_open_time(always, ts(0, 3), HOUR) == ts(0, 4)
    assert open_seconds(always, ts(0, 0), ts(2, 0)) == 48 * HOUR
    never = SiteSettings(opening_hours={"mon": []})
    assert after_open_time(never, ts(0, 3), HOUR) == math.inf
    late = SiteSettings(opening_hours={"fri": ["18:00-24:00"], "sat": ["00:00-02:00"]})
    assert after_open_time(late, ts(4, 23), 2 * HOUR) == ts(5, 1)  # across midnight


def test_hours_follow_the_local_clock_across_daylight_saving():
    # Europe/Berlin moves to summer time on 2026-03-29: 08:00 local is 07:00 UTC before, 06:00 after
    site = SiteSettings(
        timezone="Europe/Berlin", opening_hours={"sat": ["08:00-09:00"], "sun": ["08:00-09:00"]}
    )
    saturday = datetime(2026, 3, 28, tzinfo=UTC)
    assert after_open_time(site, saturday.timestamp(), 1) == ts(0, 7, saturday) + 1
    assert after_open_time(site, ts(0, 12, saturday), 1) == ts(1, 6, saturday) + 1


def test_a_long_wait_on_a_site_open_one_hour_a_week():
    site = SiteSettings(opening_hours={"wed": ["10:00-11:00"]})
    # 7 hours of opening time: 7 Wednesdays; the seventh ends at 11:00
    assert after_open_time(site, ts(0, 0), 7 * HOUR) == ts(2 + 6 * 7, 11)


@given(
    start=st.floats(min_value=ts(0, 0), max_value=ts(60, 0)),
    seconds=st.floats(min_value=1, max_value=7 * 86400),
)
def test_after_open_time_is_where_that_much_opening_time_has_passed(start, seconds):
    site = SiteSettings(timezone="America/New_York")  # the default hours, with DST in range
    end = after_open_time(site, start, seconds)
    assert open_seconds(site, start, end) == pytest.approx(seconds, abs=1e-3)


# -- a month of ordinary traffic ------------------------------------------------------

#: Ratings per hour of the local day at a hotel lobby kiosk (07:00–23:00).
TRAFFIC = {7: 1.5, 8: 6, 9: 6, 10: 5, 11: 3, 12: 3, 13: 3, 14: 3, 15: 3, 16: 4,
           17: 5, 18: 5, 19: 5, 20: 4, 21: 3, 22: 1.5}  # fmt: skip
OUTAGES = [(9, 9, 15), (19, 13, 20)]  # (day, from hour, to hour): the kiosk was unplugged


def month_of_ratings(catalogue, start: datetime) -> list:
    """30 days of a lobby's taps (a Poisson stream per hour), with two real outages."""
    rng = random.Random(20261001)
    moments = [m.id for stage in catalogue.cycle("hotel-guest").stages for m in stage.moments]
    ratings = []
    for day in range(30):
        for hour, per_hour in TRAFFIC.items():
            t = rng.expovariate(per_hour)
            while t < 1:
                at = start + timedelta(days=day, hours=hour + t)
                if not any(d == day and a <= hour + t < b for d, a, b in OUTAGES):
                    ratings.append(
                        catalogue.new_rating(
                            site="demo-site",
                            kiosk="kiosk-1",
                            cycle="hotel-guest",
                            moment=rng.choice(moments),
                            score=rng.choice([3, 4, 4, 5, 5, 5]),
                            language="en",
                            at=at,
                        )
                    )
                t += rng.expovariate(per_hour)
    return ratings


def silence_alerts(catalogue, host, site: SiteSettings, ratings, until) -> int:
    ruleset = load_ruleset(host, catalogue)
    engine = RuleEngine(
        [r for r in ruleset.active() if r.id == "hotel.kiosk-silent"], catalogue, site
    )
    return sum(
        1 for alert, _ in engine.replay(ratings, until=until) if alert.state.value == "firing"
    )


def test_a_month_of_normal_data_gives_a_silence_alert_per_real_outage_only(catalogue, host):
    start = datetime(2026, 10, 1, tzinfo=UTC)
    ratings = month_of_ratings(catalogue, start)
    until = start + timedelta(days=30)
    assert len(ratings) > 30 * 50
    assert silence_alerts(catalogue, host, SiteSettings(), ratings, until) == len(OUTAGES)
    # the same month on a site said to be always open: a "silence" every night
    always = silence_alerts(catalogue, host, SiteSettings(opening_hours={}), ratings, until)
    assert always >= 30


# -- one engine, many sites ------------------------------------------------------------


def test_one_engine_keeps_each_sites_clock_and_hours(catalogue):
    from servicecycle.core.rules import Rule
    from servicecycle.core.sites import SiteRegistry

    hours = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    sites = SiteRegistry(
        [
            SiteSettings(id="ist", timezone="Europe/Istanbul", opening_hours=hours),
            SiteSettings(id="nyc", timezone="America/New_York", opening_hours=hours),
        ]
    )
    silent = Rule.model_validate(
        {
            "id": "t.silent",
            "kind": "silence",
            "window": "1h",
            "key_by": ["site", "kiosk"],
            "summary": "quiet",
            "response": "look",
        }
    )
    morning = Rule.model_validate(
        {
            "id": "t.morning",
            "kind": "single",
            "when": {"score": 1, "time_of_day": {"between": ["09:00", "10:00"]}},
            "key_by": ["site"],
            "summary": "x",
            "response": "y",
        }
    )
    engine = RuleEngine([silent, morning], catalogue, sites)

    def rate(site: str, at: datetime, score: int = 4):
        return catalogue.new_rating(
            site=site, kiosk="k1", cycle="hotel-guest", moment="check-in-wait",
            score=score, language="en", at=at,
        )  # fmt: skip

    day = datetime(2026, 6, 1, tzinfo=UTC)  # summer: Istanbul UTC+3, New York UTC-4
    fired = [
        (a.rule, dict(a.key)["site"])
        for a, _ in engine.replay(
            [
                rate("ist", day + timedelta(hours=6, minutes=30), score=1),  # 09:30 in Istanbul
                rate("nyc", day + timedelta(hours=6, minutes=30), score=1),  # 02:30 in New York
                rate("nyc", day + timedelta(hours=13, minutes=5)),  # 09:05 in New York
            ],
            until=day + timedelta(hours=23),
        )
        if a.state.value == "firing"
    ]
    assert ("t.morning", "ist") in fired and ("t.morning", "nyc") not in fired
    # Istanbul quiet from 09:30 local: 10:30 local (07:30 UTC); New York from 09:05 local
    assert fired.count(("t.silent", "ist")) == 1 and fired.count(("t.silent", "nyc")) == 1
    since = {dict(a.key)["site"]: a.since for a in engine.alerts() if a.rule == "t.silent"}
    assert since == {
        "ist": day + timedelta(hours=7, minutes=30),
        "nyc": day + timedelta(hours=14, minutes=5),
    }


def test_a_site_registry_refuses_a_site_described_twice():
    from servicecycle.core.sites import SiteRegistry

    with pytest.raises(ValueError, match="described twice"):
        SiteRegistry([SiteSettings(id="a"), SiteSettings(id="a")])
    registry = SiteRegistry([SiteSettings(id="a", timezone="Asia/Tokyo")])
    assert registry.get("elsewhere").id == "a" and registry.zone("b").key == "Asia/Tokyo"
