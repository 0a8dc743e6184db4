"""The three built-in industry plugins: their cycles follow the domain notes."""

from __future__ import annotations

from importlib import import_module
from importlib.resources import files

import pytest

from servicecycle.testing import PluginTester, assert_valid_plugin

LANGS = {"en", "ms", "ru", "tr"}

EXPECTED = {
    "hotel-guest": (
        ["reservation", "arrival-transfer", "check-in", "stay", "check-out", "departure-transfer"],
        {"arrival-transfer", "check-in", "check-out"},
    ),
    "health-emergency": (
        [
            "ambulance-request",
            "transfer-first-aid",
            "emergency-admission",
            "administration",
            "hospitalisation",
            "discharge",
            "outcome",
        ],
        {"ambulance-request", "transfer-first-aid", "hospitalisation", "emergency-admission"},
    ),
    "banking-branch": (
        [
            "travel-parking",
            "orientation",
            "queue-ticket",
            "waiting",
            "called-greeted",
            "transaction",
            "leaving",
        ],
        {"waiting", "transaction", "leaving"},
    ),
}


@pytest.mark.parametrize("cycle_id", sorted(EXPECTED))
def test_cycle_follows_the_domain(runtime, cycle_id):
    cycle = runtime.catalogue.cycle(cycle_id)
    stages, critical = EXPECTED[cycle_id]
    assert [s.id for s in cycle.stages] == stages
    assert {s.id for s in cycle.stages if s.critical} == critical
    assert set(cycle.languages) == LANGS


@pytest.mark.parametrize("cycle_id", sorted(EXPECTED))
def test_every_text_in_four_languages_and_fits_a_kiosk(runtime, cycle_id):
    cycle = runtime.catalogue.cycle(cycle_id)
    for path, text in cycle.texts().items():
        assert set(text) == LANGS, path
    for _, moment in cycle.moments():
        assert all(len(q) <= 80 for q in moment.question.values()), moment.id
        assert 1 <= len(moment.reasons) <= 6, moment.id
        assert 1 <= moment.target <= cycle.scale
        low, high = (4.3, 4.8) if moment.critical else (3.5, 4.3)
        assert low <= moment.target <= high, moment.id
    for reason_id in {r for _, m in cycle.moments() for r in (*m.reasons, *m.praise)}:
        assert set(cycle.reason(reason_id).label) == LANGS


def test_plugins_are_attributed(runtime):
    assert runtime.catalogue.origin == {
        "hotel-guest": "hotel",
        "health-emergency": "health",
        "banking-branch": "banking",
    }
    assert runtime.catalogue.industries == ["banking", "health", "hotel"]


@pytest.mark.parametrize("plugin", ["hotel", "health", "banking"])
def test_builtin_plugin_passes_the_plugin_kit(plugin, tmp_path):
    """The built-in plugins are tested with the same kit outside authors use."""
    module = import_module(f"servicecycle.plugins.{plugin}")
    tester = PluginTester(module, plugin, tmp_path)
    report = assert_valid_plugin(tester)  # strict: every text in en, ms, ru and tr
    assert report.rule_tests >= 3
    tester.run_rule_tests(files(module) / "rules_test.toml")
    tester.close()
