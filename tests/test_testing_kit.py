"""servicecycle.testing: the kit plugin authors use, tried on an in-test plugin."""

from __future__ import annotations

import pytest

from servicecycle.core import hookimpl
from servicecycle.testing import PluginTester, assert_valid_plugin

CAFE = {
    "id": "cafe-visit",
    "industry": "cafe",
    "languages": ["en", "tr"],
    "name": {"en": "Cafe visit", "tr": "Kafe ziyareti"},
    "stages": [
        {
            "id": "order",
            "name": {"en": "Ordering"},
            "moments": [
                {
                    "id": "order-wait",
                    "question": {"en": "How was the wait?", "tr": "Bekleme nasıldı?"},
                    "critical": True,
                    "target": 4.2,
                    "reasons": ["lost-time"],
                }
            ],
        }
    ],
}
RULE = {
    "id": "cafe.slow-orders",
    "kind": "count",
    "cycle": "cafe-visit",
    "when": {"moment": "order-wait", "score": {"le": 2}},
    "window": "10m",
    "count": 3,
    "summary": "{count} slow orders",
    "response": "Floor manager: open the second till.",
}


class Cafe:
    def __init__(self, cycle=CAFE, rule=RULE):
        self.cycle, self.rule = cycle, rule

    @hookimpl
    def register_cycles(self, register):
        register(self.cycle)

    @hookimpl
    def register_rules(self, register):
        register(self.rule)


def test_feed_timed_ratings_and_assert_alerts(plugin_tester):
    tester = plugin_tester(Cafe(), "cafe")
    feed = tester.feed()
    feed.rate("order-wait", score=1, at="0m", repeat=2, every="2m")
    assert feed.firing(at="3m") == set()
    feed.rate("order-wait", score=2, at="4m")
    assert feed.firing(at="5m") == {"cafe.slow-orders"}
    assert feed.firing(at="15m") == set()


def test_valid_plugin_passes_and_gaps_are_named(tmp_path):
    tester = PluginTester(Cafe(), "cafe", tmp_path)
    with pytest.raises(AssertionError) as info:
        assert_valid_plugin(tester)  # strict: the stage name and a reason lack Turkish
    assert "stages[0].name has no text in tr" in str(info.value)
    assert "reason 'lost-time'" not in str(info.value)  # the default taxonomy has Turkish
    report = assert_valid_plugin(tester, strict=False)
    assert report.cycles == ["cafe-visit"] and report.rules == ["cafe.slow-orders"]


def test_a_broken_plugin_is_reported_precisely(tmp_path):
    broken = Cafe(rule={**RULE, "window": "90d"})
    tester = PluginTester(broken, "cafe", tmp_path)
    with pytest.raises(AssertionError, match="window = 90d: must be between 1s and 7d"):
        assert_valid_plugin(tester, strict=False)
