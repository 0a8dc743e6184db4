"""Helpers for testing servicecycle plugins, the way the built-in plugins are tested.

    from servicecycle.testing import PluginTester

    def test_slow_orders_page_the_floor_manager(tmp_path):
        tester = PluginTester(servicecycle_restaurant, "restaurant", tmp_path)
        feed = tester.feed()
        feed.rate("order-wait", score=1, at="0m", repeat=3, every="2m")
        assert feed.firing(at="5m") == {"restaurant.slow-orders"}

The plugin is registered in-process for the one test (no install needed); the
data folder is real. The pytest fixture ``plugin_tester`` (installed with
servicecycle) builds one with ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from servicecycle.core import AlertState, PluginHost, Rating, Runtime, ServiceCycleError
from servicecycle.core.duration import parse_interval
from servicecycle.core.plugin_check import PluginReport, check_plugins
from servicecycle.core.rules import RuleEngine, site_ruleset
from servicecycle.core.rules.checks import DEFAULT_START, run_rule_tests

__all__ = ["DEFAULT_START", "PluginTester", "RuleFeed", "assert_valid_plugin"]


class PluginTester:
    """One plugin, registered in-process, over a real data folder."""

    def __init__(
        self,
        plugin: ModuleType | object,
        name: str,
        data_dir: Path,
        *,
        with_builtin: bool = False,
        config: Path | None = None,
    ) -> None:
        self.name = name
        self.host = PluginHost.discover(
            only={"hotel", "health", "banking"} if with_builtin else set()
        )
        self.host.add(plugin, name)
        self.runtime = Runtime.open(config, data_dir=data_dir, plugins=self.host)

    @property
    def catalogue(self) -> Any:
        return self.runtime.catalogue

    def report(self) -> PluginReport:
        """Everything ``servicecycle plugin check`` would say about this plugin."""
        [report] = check_plugins(self.host, [self.name])
        return report

    def feed(self, start: datetime = DEFAULT_START, site: str = "test-site") -> RuleFeed:
        """Timed ratings into the plugin's rules (and the site's changes, if a config was given)."""
        rules = site_ruleset(self.runtime).active()
        return RuleFeed(
            self.runtime, RuleEngine(rules, self.catalogue, self.runtime.config.site), start, site
        )

    def run_rule_tests(self, path: Path | Any) -> None:
        """Run a rules test file; fail with every failure listed."""
        results = run_rule_tests(Path(str(path)), self.catalogue)
        failures = [f"{r.name}: {f}" for r in results for f in r.failures]
        if failures:
            raise AssertionError("rule tests failed:\n  " + "\n  ".join(failures))

    def close(self) -> None:
        self.runtime.close()


def assert_valid_plugin(tester: PluginTester, *, strict: bool = True) -> PluginReport:
    """Fail on any problem (and, with ``strict``, any warning such as a missing translation)."""
    report = tester.report()
    findings = report.problems + (report.warnings if strict else [])
    if findings:
        raise AssertionError(f"plugin {tester.name!r}:\n  " + "\n  ".join(findings))
    return report


@dataclass
class RuleFeed:
    """Ratings at given times into a rule engine, and the alerts at given times."""

    runtime: Runtime
    engine: RuleEngine
    start: datetime
    site: str
    clock: datetime = field(init=False)
    interval: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        self.clock = self.start

    def rate(
        self,
        moment: str,
        score: int,
        *,
        at: str | timedelta = "0m",
        cycle: str | None = None,
        kiosk: str = "test-kiosk",
        reasons: Iterable[str] = (),
        flags: Iterable[str] = (),
        language: str | None = None,
        repeat: int = 1,
        every: str | timedelta = "1m",
    ) -> list[Rating]:
        """Record ``repeat`` ratings of ``moment`` starting at offset ``at``."""
        offset = _offset(at)
        step = _offset(every)
        made = []
        for n in range(repeat):
            when = self.start + offset + n * step
            self._advance(when)
            the_cycle = cycle or self._cycle_of(moment)
            rating = self.runtime.catalogue.new_rating(
                site=self.site,
                kiosk=kiosk,
                cycle=the_cycle,
                moment=moment,
                score=score,
                language=language or self.runtime.catalogue.cycle(the_cycle).languages[0],
                reasons=reasons,
                flags=flags,
                at=when,
            )
            self.engine.observe(rating)
            made.append(rating)
        return made

    def alerts(self, at: str | timedelta | None = None) -> list[Any]:
        if at is not None:
            self._advance(self.start + _offset(at))
        return self.engine.alerts()

    def firing(self, at: str | timedelta | None = None) -> set[str]:
        return {a.rule for a in self.alerts(at) if a.state is AlertState.FIRING}

    def pending(self, at: str | timedelta | None = None) -> set[str]:
        return {a.rule for a in self.alerts(at) if a.state is AlertState.PENDING}

    def _advance(self, to: datetime) -> None:
        """Tick every minute up to ``to``, as a running engine would."""
        if to < self.clock:
            raise ServiceCycleError("ratings must be fed in time order")
        while self.clock + self.interval < to:
            self.clock += self.interval
            self.engine.tick(self.clock)
        self.clock = to
        self.engine.tick(to)

    def _cycle_of(self, moment: str) -> str:
        owners = [c.id for c in self.runtime.catalogue.cycles.values() if c.find_moment(moment)]
        if len(owners) != 1:
            raise ServiceCycleError(f"moment {moment!r} is in {owners or 'no cycle'}; pass cycle=")
        return owners[0]


def _offset(value: str | timedelta) -> timedelta:
    return parse_interval(value)
