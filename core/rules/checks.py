"""Unit tests for rules, in the spirit of ``promtool test rules``.

A test file lists ratings at times relative to a start, and the alerts
expected at given times::

    rule_files = ["rules.toml"]          # relative to this file; default: the site's rules

    [[tests]]
    name = "three bad check-in waits in 15 minutes"
    [[tests.ratings]]
    at = "0m"
    moment = "check-in-wait"
    score = 1
    repeat = 3        # optional: the same rating several times ...
    every = "2m"      # ... this far apart
    [[tests.expect]]
    at = "5m"
    firing = ["hotel.check-in-wait-streak"]
    pending = []
    summary = { "hotel.check-in-wait-streak" = "3 bad check-in waits" }
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..alert import AlertState
from ..catalogue import Catalogue
from ..config import SiteSettings
from ..duration import Duration, format_duration
from ..errors import ServiceCycleError
from ..rating import Rating
from ..text import shown
from ..validation import TomlError, describe, parse_toml
from .engine import RuleEngine
from .loader import AnyRule, ruleset_from_files

#: Carries a test's rating to the engine: what comes back is observed (see run_rule_tests).
Feed = Callable[[Rating], Iterable[Rating]]

#: A Monday morning, so opening hours and time-of-day conditions behave predictably.
DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

Offset = Duration


class TestRating(BaseModel):
    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="forbid")
    at: Offset
    moment: str
    score: int | None = None
    #: Scores taken in turn by the repeats (a mix for a drift rule's normal), instead of score.
    scores: list[int] = Field([], max_length=1000)
    cycle: str | None = None
    site: str = "test-site"
    kiosk: str = "test-kiosk"
    language: str | None = None
    reasons: list[str] = []
    flags: list[str] = []
    scale: int | None = None
    repeat: int = Field(1, ge=1, le=100_000)
    every: Offset = timedelta(minutes=1)

    @model_validator(mode="after")
    def _one_score(self) -> TestRating:
        if (self.score is None) == (not self.scores):
            raise ValueError("give score (one score) or scores (taken in turn by the repeats)")
        return self

    def score_at(self, n: int) -> int:
        """The score of the ``n``-th repeat."""
        return self.score if self.score is not None else self.scores[n % len(self.scores)]


class Expectation(BaseModel):
    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="forbid")
    at: Offset
    firing: list[str] = []
    pending: list[str] = []
    summary: dict[str, str] = {}


class RuleTest(BaseModel):
    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="forbid")
    name: str
    start: datetime = DEFAULT_START
    ratings: list[TestRating] = []
    expect: list[Expectation] = Field(min_length=1)


class TestFile(BaseModel):
    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="forbid")
    rule_files: list[Path] = []
    #: How often the clock ticks between ratings, as the kiosk's engine would.
    interval: Offset = timedelta(minutes=1)
    tests: list[RuleTest] = Field(min_length=1)


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def run_rule_tests(
    path: Path,
    catalogue: Catalogue,
    site_rules: list[AnyRule] | None = None,
    site: SiteSettings | None = None,
    feed: Feed | None = None,
) -> list[TestResult]:
    """Run every test of a test file; raise ServiceCycleError if the file itself is bad.

    ``feed``, when given, carries each rating to the engine: a store records it
    and hands back what its change feed delivers (the store parity suite runs
    every plugin's tests that way, on each engine).
    """
    path = Path(path)
    try:
        data = parse_toml(path.read_text(encoding="utf-8"))
        spec = TestFile.model_validate(data)
    except (OSError, UnicodeDecodeError) as exc:
        raise ServiceCycleError(f"cannot read rule tests {path}: {exc}") from exc
    except TomlError as exc:
        raise ServiceCycleError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        lines = "\n".join(f"  - {line}" for line in describe(exc, TestFile))
        raise ServiceCycleError(f"bad rule test file {path}:\n{lines}") from exc
    rules = _rules_for(spec, path, catalogue, site_rules)
    return [
        _run(test, rules, catalogue, site or SiteSettings(), spec.interval, feed)
        for test in spec.tests
    ]


def _rules_for(
    spec: TestFile, path: Path, catalogue: Catalogue, site_rules: list[AnyRule] | None
) -> list[AnyRule]:
    if not spec.rule_files:
        if site_rules is None:
            raise ServiceCycleError(f"{path}: give rule_files, or run it against the site's rules")
        return site_rules
    ruleset = ruleset_from_files((path.parent / name for name in spec.rule_files), catalogue)
    if ruleset.problems:
        lines = "\n".join(f"  - {p}" for p in ruleset.problems)
        raise ServiceCycleError(f"rules under test do not load:\n{lines}")
    return ruleset.active()


def _run(
    test: RuleTest,
    rules: list[AnyRule],
    catalogue: Catalogue,
    site: SiteSettings,
    interval: timedelta,
    feed: Feed | None = None,
) -> TestResult:
    result = TestResult(test.name)
    engine = RuleEngine(rules, catalogue, site)
    clock = test.start

    def advance(to: datetime) -> None:
        """Tick every ``interval`` up to ``to``, as a running engine would."""
        nonlocal clock
        while clock + interval < to:
            clock += interval
            engine.tick(clock)
        clock = max(clock, to)
        engine.tick(to)

    timeline = []
    for index, spec in enumerate(test.ratings):
        for n in range(spec.repeat):
            timeline.append((test.start + spec.at + n * spec.every, index, n, spec))
    timeline.sort(key=lambda item: (item[0], item[1], item[2]))
    position = 0
    for expect in sorted(test.expect, key=lambda e: e.at):
        moment_time = test.start + expect.at
        while position < len(timeline) and timeline[position][0] <= moment_time:
            at, index, n, spec = timeline[position]
            try:
                rating = _rating(catalogue, spec, at, spec.score_at(n))
            except ServiceCycleError as exc:
                result.failures.append(f"ratings[{index}]: {exc}")
                return result
            advance(at)
            for delivered in feed(rating) if feed is not None else (rating,):
                engine.observe(delivered)
            position += 1
        advance(moment_time)
        alerts = engine.alerts()
        got = {
            "firing": sorted({a.rule for a in alerts if a.state is AlertState.FIRING}),
            "pending": sorted({a.rule for a in alerts if a.state is AlertState.PENDING}),
        }
        for state in ("firing", "pending"):
            wanted = sorted(set(getattr(expect, state)))
            if got[state] != wanted:
                result.failures.append(
                    f"at {_offset(expect.at)}: expected {state} {wanted}, got {got[state]}"
                )
        for rule_id, text in expect.summary.items():
            summaries = [a.summary for a in alerts if a.rule == rule_id]
            if not any(text in s for s in summaries):
                result.failures.append(
                    f"at {_offset(expect.at)}: summary of {rule_id!r} should contain {text!r}; "
                    f"got {summaries or 'no alert'}"
                )
    return result


def _rating(catalogue: Catalogue, spec: TestRating, at: datetime, score: int) -> Any:
    cycle = spec.cycle or _cycle_of(catalogue, spec.moment)
    language = spec.language or catalogue.cycle(cycle).languages[0]
    return catalogue.new_rating(
        site=spec.site,
        kiosk=spec.kiosk,
        cycle=cycle,
        moment=spec.moment,
        score=score,
        scale=spec.scale,
        language=language,
        reasons=spec.reasons,
        flags=spec.flags,
        at=at,
    )


def _cycle_of(catalogue: Catalogue, moment: str) -> str:
    owners = [c.id for c in catalogue.cycles.values() if c.find_moment(moment)]
    if len(owners) != 1:
        found = ", ".join(owners) or "no cycle"
        raise ServiceCycleError(f"moment {shown(moment)} is in {found}; say which with cycle = ...")
    return owners[0]


def _offset(value: timedelta) -> str:
    return format_duration(value)
