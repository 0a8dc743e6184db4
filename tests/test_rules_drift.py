"""Drift rules: each moment against its own normal, with a false-alarm rate the site chooses.

Histories are made of real ratings run through the real engine on the data's
own clock; stores are real data folders on disk.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicecycle.core import AlertState, Runtime
from servicecycle.core.config import SiteSettings
from servicecycle.core.rules import Alerting, Rule, RuleEngine
from servicecycle.core.rules.drift import DriftSpec, Season, tilt, words_for
from servicecycle.core.rules.loader import ruleset_from_files
from servicecycle.core.rules.rule import parse_shift

from .conftest import run_cli

#: A Monday at 00:00 in Istanbul (UTC+3), so local weeks start on the hour.
T0 = datetime(2026, 1, 4, 21, 0, tzinfo=UTC)
SITE = SiteSettings(id="kl", timezone="Europe/Istanbul")
GOOD = (3, 4, 10, 33, 50)  # a mean a little under 4.3
WORSE = (12, 10, 20, 33, 25)  # about one point lower


def drift(**fields) -> Rule:
    base = {
        "id": "t.drift",
        "kind": "drift",
        "cycle": "hotel-guest",
        "figure": "mean",
        "shift": 0.5,
        "scope": {"moment": "check-in-wait"},
        "summary": "{moment_name}: {change}",
        "response": "Act.",
    }
    return Rule.model_validate({**base, **fields})


def history(
    catalogue,
    weeks: float,
    per_hour: float = 3.0,
    seed: int = 1,
    weights=lambda at: GOOD,
    rate=lambda at: 1.0,
    moment: str = "check-in-wait",
    **extra,
) -> Iterator:
    """Ratings from 07:00 to 23:00 local time, ``per_hour`` on average (times ``rate``)."""
    rng = random.Random(seed)
    at = T0
    end = T0 + timedelta(weeks=weeks)
    while at < end:
        at += timedelta(hours=rng.expovariate(per_hour))
        local_hour = (at.hour + 3) % 24
        if not 7 <= local_hour < 23 or rng.random() > rate(at):
            continue
        score = rng.choices((1, 2, 3, 4, 5), weights(at))[0]
        yield catalogue.new_rating(
            site="kl",
            kiosk="k1",
            cycle="hotel-guest",
            moment=moment,
            score=score,
            language="en",
            at=at,
            **extra,
        )


def firings(transitions) -> list:
    return [a for a, previous in transitions if a.state is AlertState.FIRING]


def run(rules, catalogue, ratings, until=None) -> list:
    engine = RuleEngine(rules, catalogue, SITE)
    return list(engine.replay(ratings, until=until))


# -- the rule as written -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"figure": None}, "figure: required for a drift rule"),
        ({"shift": "10%"}, "a mean's shift is points on the scale"),
        ({"shift": 5}, "must be between 0.05 and 3 points"),
        ({"figure": "share", "shift": 0.95}, "must be between 0.01 and 0.9"),
        ({"figure": "share", "shift": "ten"}, 'a percentage (shift = "10%")'),
        ({"when": {"score": 1}}, "only a share drift takes `when`"),
        (
            {"figure": "share", "shift": 0.1, "when": {"reasons": {"any": ["lost-time"]}}},
            "judges each rating as it arrives",
        ),
        ({"key_by": ["site"]}, "key_by must include 'moment'"),
        ({"window": "1h"}, "window: not used by a drift rule"),
        ({"false_alarm_every": "12h"}, "false_alarm_every = 12h: at least 1d"),
        ({"figure": "volume", "baseline": "part-of-week"}, "compares each hour with the same"),
        ({"baseline": "fortnightly"}, "baseline"),
        ({"baseline_weeks": 0}, "baseline_weeks"),
    ],
)
def test_a_bad_drift_rule_is_refused_saying_what_is_allowed(fields, message):
    with pytest.raises(ValueError) as caught:
        drift(**fields)
    assert message in str(caught.value)


def test_rules_check_names_the_line_of_a_bad_drift_setting(tmp_path, catalogue):
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[rules]]\nid = "site.drift"\nkind = "drift"\nfigure = "mean"\n'
        'shift = "half"\nsummary = "{change}"\nresponse = "Act."\n'
    )
    problems = ruleset_from_files([path], catalogue).problems
    assert [(p.line, p.rule) for p in problems] == [(5, "site.drift")]
    assert "a mean's shift is points on the scale" in problems[0].message


def test_defaults_are_those_a_manager_reads_in_rules_list():
    rule = drift()
    assert rule.drift_setting("direction") == "down"
    assert rule.drift_setting("false_alarm_every") == timedelta(days=90)
    assert rule.drift_setting("baseline") == "part-of-week"
    assert rule.drift_setting("min_samples") == 30
    assert rule.horizon == timedelta(weeks=9)  # the baseline weeks and the week under way
    assert rule.describe_threshold() == "mean 0.5 points below normal · a false alarm every 90d"
    share = drift(figure="share", shift="10%")
    assert share.drift_setting("direction") == "up"
    assert share.describe_threshold().startswith("share 10 points above normal")
    assert drift(figure="volume", shift=0.5).drift_setting("baseline") == "hour-of-week"


@given(st.one_of(st.text(max_size=12), st.floats(allow_nan=True), st.integers(), st.booleans()))
def test_shift_is_read_or_refused_plainly(value):
    for figure in ("mean", "share", "volume"):
        try:
            shift = parse_shift(value, figure)
        except ValueError as exc:
            assert "shift = " in str(exc)
        else:
            assert isinstance(shift, float)


@given(st.integers(1, 99))
def test_a_percentage_shift_is_that_fraction(percent):
    assert parse_shift(f"{percent}%", "share") == pytest.approx(percent / 100)


@given(
    st.lists(st.floats(0.001, 1.0), min_size=5, max_size=5),
    st.floats(-1.5, 1.5),
)
def test_the_shifted_normal_is_a_distribution_with_the_mean_asked(weights, shift):
    total = sum(weights)
    p = [w / total for w in weights]
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    mean = sum(a * b for a, b in zip(p, values, strict=True))
    goal = min(max(mean + shift, 1.05), 4.95)
    theta, log_m = tilt(p, values, goal)
    q = [a * math.exp(theta * v - log_m) for a, v in zip(p, values, strict=True)]
    assert sum(q) == pytest.approx(1.0)  # E[Λ] = 1 under the normal: the false-alarm rate's basis
    assert sum(a * b for a, b in zip(q, values, strict=True)) == pytest.approx(goal, abs=0.01)


def test_slots_read_as_a_manager_says_them():
    assert words_for("part-of-week", 1, 8) == "Monday mornings"
    assert words_for("part-of-week", 4 * 4 + 3, 8) == "Friday evenings"
    assert words_for("hour-of-week", 24 + 9, 8) == "Tuesdays 09:00–10:00"
    assert words_for("part-of-day", 2, 8) == "afternoons"
    assert words_for("flat", 0, 6) == "the last 6 weeks"


# -- what it does ----------------------------------------------------------------------


def test_a_moment_that_is_always_bad_on_monday_mornings_is_its_normal(catalogue):
    """Monday mornings a full point worse every week: the drift knows; a fixed mean does not."""

    def weights(at):
        local = at + timedelta(hours=3)
        return WORSE if local.weekday() == 0 and local.hour < 12 else GOOD

    ratings = list(history(catalogue, 20, weights=weights))
    fixed = Rule.model_validate(
        {
            "id": "t.fixed",
            "kind": "mean",
            "cycle": "hotel-guest",
            "scope": {"moment": "check-in-wait"},
            "window": "3h",
            "below": 3.6,
            "min_samples": 5,
            "summary": "{mean}",
            "response": "Act.",
        }
    )
    fired = firings(run([drift(), fixed], catalogue, ratings))
    monday = [a for a in fired if (a.since + timedelta(hours=3)).weekday() == 0]
    assert [a for a in monday if a.rule == "t.fixed"], "the fixed threshold fires on Mondays"
    assert [a.rule for a in fired].count("t.drift") <= 2  # ~1 false alarm in 11 judged weeks


def test_a_drop_fires_within_hours_and_says_what_changed_in_words(catalogue):
    change = T0 + timedelta(weeks=10, days=1, hours=9)  # a Tuesday, 12:00 in Istanbul
    ratings = list(history(catalogue, 11, weights=lambda at: WORSE if at >= change else GOOD))
    fired = [a for a in firings(run([drift()], catalogue, ratings)) if a.since >= change]
    assert fired, "a one-point drop was never seen"
    first = fired[0]
    assert first.since - change < timedelta(hours=12)
    assert first.summary.startswith("Check-in wait: mean ")
    assert "against a normal 4.2 for Tuesday" in first.summary or (
        "against a normal 4.3 for Tuesday" in first.summary
    )
    assert first.values["observed"] < first.values["normal"]
    assert first.key == (("site", "kl"), ("moment", "check-in-wait"))


def test_it_resolves_once_the_moment_is_back_to_normal_and_for_holds_it_pending(catalogue):
    start = T0 + timedelta(weeks=10)
    end = start + timedelta(days=2)
    ratings = list(history(catalogue, 12, weights=lambda at: WORSE if start <= at < end else GOOD))
    transitions = run([drift(**{"for": "1h"})], catalogue, ratings)
    sequence = [(str(p) if p else None, str(a.state)) for a, p in transitions if a.since >= start]
    assert sequence[:3] == [(None, "pending"), ("pending", "firing"), ("firing", "resolved")]
    resolved = next(a for a, p in transitions if a.state is AlertState.RESOLVED and a.since >= end)
    assert resolved.since - end < timedelta(days=3)


def test_suspect_and_survey_ratings_never_count(catalogue):
    normal = list(history(catalogue, 10))

    def ones(flag: str) -> list:
        return [
            catalogue.new_rating(
                site="kl",
                kiosk=flag,
                cycle="hotel-guest",
                moment="check-in-wait",
                score=1,
                language="en",
                at=T0 + timedelta(weeks=10, hours=10, minutes=m),
                flags=(flag,),
            )
            for m in range(0, 300, 5)
        ]

    ratings = sorted(normal + ones("suspect") + ones("survey"), key=lambda r: r.at)
    burst = T0 + timedelta(weeks=10, hours=10)

    def in_burst(rule: Rule) -> list:
        fired = firings(run([rule], catalogue, ratings))
        return [a for a in fired if burst <= a.since <= burst + timedelta(hours=5)]

    assert in_burst(drift()) == []
    assert in_burst(drift(include_suspect=True)), "counted, they fire it"
    assert in_burst(drift(include_survey=True)), "counted, they fire it"


def test_a_share_drift_counts_negative_ratings_unless_told(catalogue):
    change = T0 + timedelta(weeks=10, days=2)
    ratings = list(
        history(catalogue, 11, weights=lambda at: (10, 10, 15, 30, 35) if at >= change else GOOD)
    )
    fired = firings(run([drift(figure="share", shift="10%")], catalogue, ratings))
    assert [a for a in fired if a.since >= change]
    assert "negative share" in fired[-1].summary
    assert re.search(r"against a normal [78]% for", fired[-1].summary)


def test_a_volume_drift_sees_a_kiosk_half_as_used_and_not_the_night(catalogue):
    change = T0 + timedelta(weeks=10, days=2)
    ratings = list(history(catalogue, 11, per_hour=8, rate=lambda at: 0.3 if at >= change else 1.0))
    rule = drift(figure="volume", shift=0.5)
    transitions = run([rule], catalogue, ratings, until=T0 + timedelta(weeks=11))
    fired = firings(transitions)
    assert [a for a in fired if a.since >= change], "a quieter kiosk was never seen"
    before = [a for a in fired if a.since < change]
    assert len(before) <= 1  # closed nights are not "quiet hours"
    assert "an hour since" in fired[-1].summary


def test_memory_is_bounded_by_moments_and_baseline_not_by_history(catalogue):
    engine = RuleEngine([drift()], catalogue, SITE)
    sizes = []
    for weeks in (10, 30):
        engine = RuleEngine([drift()], catalogue, SITE)
        list(engine.replay(history(catalogue, weeks, per_hour=1)))
        [state] = engine.states["t.drift"].values()
        sizes.append(len(state.drift.season.cells))
    assert sizes[0] == sizes[1] == 9 * 28 * 5  # (weeks + 1) x slots x faces


def test_a_rating_older_than_every_kept_week_does_not_disturb_the_normal():
    season = Season(weeks=2, slots=1, bins=1)
    season.add(10, 0, 0)
    season.add(7, 0, 0)  # older than weeks 8-10: nothing to keep it in
    assert season.before(11)[0] == [[1.0]]


def test_two_directions_share_the_false_alarm_rate():
    one = DriftSpec("mean", 0.5, "down", timedelta(days=90), "flat", 8, 30)
    both = DriftSpec("mean", 0.5, "both", timedelta(days=90), "flat", 8, 30)
    assert both.log_threshold(700) - one.log_threshold(700) == pytest.approx(math.log(2))


def test_a_restart_rebuilds_the_normal_and_does_not_announce_again(tmp_path, catalogue, host):
    change = T0 + timedelta(weeks=10, days=1, hours=9)
    ratings = list(history(catalogue, 10.5, weights=lambda at: WORSE if at >= change else GOOD))
    now = ratings[-1].at + timedelta(minutes=1)
    config_dir = tmp_path / "data"
    runtime = Runtime.open(data_dir=config_dir, plugins=host)
    runtime.store.ratings.add_many(ratings)
    rules = [drift()]
    from servicecycle.core.rules import RuleSet

    ruleset = RuleSet()
    for rule in rules:
        ruleset.add(rule, "test")
    notified = []
    first = Alerting(runtime, ruleset=ruleset, notify=notified.append, known_kiosks=[])
    missed = first.start(now)
    assert [a.rule for a, _ in missed] == ["t.drift"]  # active by the data: announced once
    second = Alerting(runtime, ruleset=ruleset, notify=notified.append, known_kiosks=[])
    assert second.start(now) == []
    assert [a.rule for a in second.engine.alerts()] == ["t.drift"]
    assert len(notified) == 1
    runtime.close()


# -- the commands ------------------------------------------------------------------------


def test_replay_reports_each_drift_rule_and_learns_before_since(tmp_path, catalogue, host):
    change = T0 + timedelta(weeks=10, days=1, hours=9)
    ratings = list(history(catalogue, 11, weights=lambda at: WORSE if at >= change else GOOD))
    runtime = Runtime.open(data_dir=tmp_path / "data", plugins=host)
    runtime.store.ratings.add_many(ratings)
    runtime.close()
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    since = (T0 + timedelta(weeks=10)).isoformat()
    until = (T0 + timedelta(weeks=11)).isoformat()
    result = run_cli("rules", "replay", "--since", since, "--until", until, "--json", env=env)
    assert result.returncode == 0, result.stderr
    fired = [json.loads(line) for line in result.stdout.splitlines()]
    drifts = [a for a in fired if a["rule"] == "hotel.critical-mean-drift"]
    assert drifts, fired
    assert all(a["at"] >= since for a in fired)  # what fired while learning is not listed
    result = run_cli("rules", "replay", "--since", since, "--until", until, env=env)
    assert result.returncode == 0, result.stderr
    assert "Drift rules" in result.stdout
    assert "hotel.critical-mean-drift" in result.stdout
    # asked to replay from the very start, it says the drift rules were still learning
    start = T0.isoformat()
    result = run_cli("rules", "replay", "--since", start, "--until", until, env=env)
    assert "drift rules learn each moment's normal from 8 complete weeks" in " ".join(
        result.stderr.split()
    )


def test_rules_test_files_take_a_mix_of_scores(tmp_path):
    (tmp_path / "rules.toml").write_text(
        '[[rules]]\nid = "site.drift"\nkind = "drift"\ncycle = "hotel-guest"\n'
        'scope = { moment = "check-in-wait" }\nfigure = "mean"\nshift = 0.5\n'
        'summary = "{change}"\nresponse = "Act."\n'
    )
    (tmp_path / "rules_test.toml").write_text(
        'rule_files = ["rules.toml"]\n[[tests]]\nname = "drop"\n'
        '[[tests.ratings]]\nat = "0m"\nmoment = "check-in-wait"\nscores = [5, 4, 4, 5, 3]\n'
        'repeat = 2016\nevery = "45m"\n'
        '[[tests.ratings]]\nat = "63d"\nmoment = "check-in-wait"\nscores = [2, 3, 1]\n'
        'repeat = 30\nevery = "30m"\n'
        '[[tests.expect]]\nat = "62d"\nfiring = []\n'
        '[[tests.expect]]\nat = "64d"\nfiring = ["site.drift"]\n'
        'summary = { "site.drift" = "against a normal 4.2 for Monday" }\n'
    )
    result = run_cli("rules", "test", str(tmp_path / "rules_test.toml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 0 failed" in result.stdout
    (tmp_path / "bad_test.toml").write_text(
        'rule_files = ["rules.toml"]\n[[tests]]\nname = "x"\n'
        '[[tests.ratings]]\nat = "0m"\nmoment = "check-in-wait"\nscore = 4\nscores = [1]\n'
        '[[tests.expect]]\nat = "1m"\n'
    )
    result = run_cli("rules", "test", str(tmp_path / "bad_test.toml"))
    assert result.returncode != 0
    assert "give score (one score) or scores" in result.stdout + result.stderr


def test_the_rules_reference_names_every_kind_field_and_drift_setting():
    from pathlib import Path

    from servicecycle.core.rules.rule import _DRIFT_FIELDS, KINDS, TEMPLATE_FIELDS

    text = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text()
    missing = [
        name
        for name in [*KINDS, *TEMPLATE_FIELDS, *_DRIFT_FIELDS]
        if name != "python" and f"`{name}`" not in text
    ]
    assert missing == []


def test_a_moment_no_longer_rated_resolves_after_a_quiet_week(catalogue):
    """A kiosk moved to another moment leaves its drift alert: it ends, not fires for ever."""
    change = T0 + timedelta(weeks=10, days=1, hours=9)
    stop = change + timedelta(days=1)
    ratings = [
        r
        for r in history(catalogue, 11, weights=lambda at: WORSE if at >= change else GOOD)
        if r.at < stop
    ]
    transitions = run([drift()], catalogue, ratings, until=stop + timedelta(days=8))
    fired = [a for a, p in transitions if a.state is AlertState.FIRING and a.since >= change]
    resolved = [a for a, p in transitions if a.state is AlertState.RESOLVED and a.since >= stop]
    assert fired, "the drop was seen"
    assert resolved and resolved[-1].since == ratings[-1].at + timedelta(days=7)
