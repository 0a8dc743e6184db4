"""The engine and the alert lifecycle, driven with real ratings on a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from servicecycle.core import AlertState, Runtime, hookimpl
from servicecycle.core.rules import AlertBook, Alerting, PythonRule, Rule, RuleEngine

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def rule(**fields) -> Rule:
    base = {"id": "t.rule", "summary": "{count} at {moment}", "response": "Act."}
    return Rule.model_validate({**base, **fields})


def rate(catalogue, minutes: float, score: int, moment="check-in-wait", **extra):
    return catalogue.new_rating(
        site=extra.pop("site", "kl"),
        kiosk=extra.pop("kiosk", "k1"),
        cycle=extra.pop("cycle", "hotel-guest"),
        moment=moment,
        score=score,
        language="en",
        at=T0 + timedelta(minutes=minutes),
        **extra,
    )


def states(transitions):
    return [(a.rule, str(prev) if prev else None, str(a.state)) for a, prev in transitions]


def test_count_rule_fires_resolves_and_splits_by_key(catalogue):
    engine = RuleEngine(
        [rule(kind="count", when={"score": {"le": 2}}, window="15m", count=2, key_by=["kiosk"])],
        catalogue,
    )
    assert engine.observe(rate(catalogue, 0, 1, kiosk="a")) == []
    assert engine.observe(rate(catalogue, 1, 1, kiosk="b")) == []  # another key
    fired = engine.observe(rate(catalogue, 2, 2, kiosk="a"))
    assert states(fired) == [("t.rule", None, "firing")]
    assert fired[0][0].key == (("kiosk", "a"),)
    assert fired[0][0].summary == "2 at check-in-wait"
    assert engine.tick(T0 + timedelta(minutes=14)) == []
    resolved = engine.tick(T0 + timedelta(minutes=16))  # the first rating left the window
    assert states(resolved) == [("t.rule", "firing", "resolved")]
    assert engine.alerts() == []


def test_for_makes_it_pending_first_and_short_blips_never_fire(catalogue):
    engine = RuleEngine(
        [rule(kind="count", when={"score": 1}, window="5m", count=1, **{"for": "3m"})], catalogue
    )
    assert states(engine.observe(rate(catalogue, 0, 1))) == [("t.rule", None, "pending")]
    assert states(engine.tick(T0 + timedelta(minutes=2))) == []
    assert states(engine.tick(T0 + timedelta(minutes=3))) == [("t.rule", "pending", "firing")]
    # a blip shorter than `for` goes pending, then away, never firing
    engine2 = RuleEngine(
        [rule(kind="count", when={"score": 1}, window="1m", count=1, **{"for": "3m"})], catalogue
    )
    engine2.observe(rate(catalogue, 0, 1))
    assert states(engine2.tick(T0 + timedelta(minutes=2))) == [("t.rule", "pending", "resolved")]


def test_keep_firing_for_and_resolve_threshold_against_flapping(catalogue):
    engine = RuleEngine(
        [
            rule(
                kind="share",
                when={"score": {"le": 2}},
                window="10m",
                share=0.5,
                resolve_share=0.2,
                min_samples=4,
                keep_firing_for="2m",
            )
        ],
        catalogue,
    )
    for minute, score in enumerate([1, 1, 5, 5]):
        out = engine.observe(rate(catalogue, minute, score))
    assert states(out) == [("t.rule", None, "firing")]
    # 2 of 5 bad = 40 %: below the firing share, above the resolve share: keeps firing
    assert engine.observe(rate(catalogue, 4, 5)) == []
    assert engine.observe(rate(catalogue, 5, 5)) == []  # 2/6 = 33 %
    assert engine.observe(rate(catalogue, 6, 5)) == []  # 2/7 = 29 %
    assert engine.observe(rate(catalogue, 6.5, 5)) == []  # 25 %
    assert engine.observe(rate(catalogue, 7, 5)) == []  # 2/9 = 22 %, still above 20 %
    assert engine.observe(rate(catalogue, 7.5, 5)) == []  # 2/10 = 20 %: still holds
    assert engine.observe(rate(catalogue, 8, 5)) == []  # 18 %: below → keep_firing_for starts
    assert engine.tick(T0 + timedelta(minutes=9)) == []
    assert states(engine.tick(T0 + timedelta(minutes=9, seconds=40))) == [
        ("t.rule", "firing", "resolved")
    ]


def test_mean_below_target_uses_the_moments_promised_level_and_mixed_scales(catalogue):
    target = catalogue.cycle("hotel-guest").find_moment("check-in-wait")[1].target  # 4.4
    engine = RuleEngine(
        [
            rule(
                kind="mean",
                window="1h",
                below="target",
                min_samples=3,
                summary="{mean} vs {target}",
            )
        ],
        catalogue,
    )
    engine.observe(rate(catalogue, 0, 4, scale=4))  # 4/4 → 5 on the cycle's 5-point scale
    engine.observe(rate(catalogue, 1, 5))
    assert engine.observe(rate(catalogue, 2, 5)) == []  # mean 5.0
    out = engine.observe(rate(catalogue, 3, 1))  # mean 4.0 < 4.4
    assert states(out) == [("t.rule", None, "firing")]
    assert out[0][0].summary == f"4.00 vs {target:.1f}"


def test_suspect_ratings_do_not_count_unless_asked(catalogue):
    def engine(include):
        return RuleEngine(
            [rule(kind="single", when={"score": 1}, include_suspect=include)], catalogue
        )

    suspect = rate(catalogue, 0, 1, flags=["suspect"])
    assert engine(False).observe(suspect) == []
    assert states(engine(True).observe(suspect)) == [("t.rule", None, "firing")]


def test_reasons_added_after_the_tap_are_counted(catalogue):
    engine = RuleEngine(
        [rule(kind="count", when={"reasons": {"any": ["lost-time"]}}, window="10m", count=1)],
        catalogue,
    )
    first = rate(catalogue, 0, 2)
    assert engine.observe(first) == []
    assert states(engine.amend(first.with_reasons(("lost-time",)))) == [("t.rule", None, "firing")]


def test_silence_only_during_opening_hours(catalogue):
    from servicecycle.core import SiteSettings

    site = SiteSettings(opening_hours={"mon": ["08:00-12:00"]})  # 2026-01-05 is a Monday
    engine = RuleEngine(
        [rule(kind="silence", window="30m", key_by=["site", "kiosk"], summary="quiet {quiet_for}")],
        catalogue,
        site,
    )
    engine.observe(rate(catalogue, 0, 4))
    assert engine.tick(T0 + timedelta(minutes=29)) == []
    fired = engine.tick(T0 + timedelta(minutes=31))
    assert states(fired) == [("t.rule", None, "firing")]
    assert fired[0][0].summary == "quiet 31m"
    # a rating resolves it; only opening time counts towards the window
    assert states(engine.observe(rate(catalogue, 40, 4))) == [("t.rule", "firing", "resolved")]
    engine.observe(rate(catalogue, 170, 4))  # 11:50, ten minutes before closing
    assert engine.tick(T0 + timedelta(hours=5)) == []  # 14:00: closed, 10 min of quiet counted
    assert engine.tick(T0 + timedelta(days=6, hours=23)) == []  # next Monday 08:00
    fired = engine.tick(T0 + timedelta(days=7, minutes=-40))  # 08:20: 30 min of opening time
    assert states(fired) == [("t.rule", None, "firing")]


def test_time_of_day_in_the_sites_zone(catalogue):
    from servicecycle.core import SiteSettings

    site = SiteSettings(timezone="Asia/Kuala_Lumpur")  # UTC+8: 09:00 UTC is 17:00 there
    engine = RuleEngine(
        [rule(kind="single", when={"score": 1, "time_of_day": {"between": ["16:00", "18:00"]}})],
        catalogue,
        site,
    )
    assert states(engine.observe(rate(catalogue, 0, 1))) == [("t.rule", None, "firing")]
    later = states(engine.observe(rate(catalogue, 120, 1)))  # 19:00 local
    assert [s for s in later if s[2] == "firing"] == []


def test_python_rule(catalogue):
    def two_same_kiosk_lows(observations, now):
        lows = [o for o in observations if o.score <= 2]
        return {"count": len(lows)} if len(lows) >= 2 else None

    engine = RuleEngine(
        [
            PythonRule(
                id="t.py",
                summary="{count} lows",
                response="Look.",
                window="10m",
                evaluate=two_same_kiosk_lows,
                key_by=["kiosk"],
            )
        ],
        catalogue,
    )
    engine.observe(rate(catalogue, 0, 1))
    out = engine.observe(rate(catalogue, 1, 2))
    assert [(a.rule, a.summary) for a, _ in out] == [("t.py", "2 lows")]


# -- alerting with the store: persistence, restart, acknowledgement -----------------


def test_alerts_are_stored_survive_a_restart_and_are_not_sent_again(tmp_path, host):
    seen = []

    class Mirror:
        @hookimpl
        def alert_changed(self, alert, previous):
            seen.append((alert.rule, previous, alert.state))

    host.add(Mirror(), "mirror")
    runtime = Runtime.open(data_dir=tmp_path, plugins=host)
    notified = []
    alerting = Alerting(runtime, notify=notified.append)
    now = datetime.now(UTC)
    alerting.start(now)
    rating = runtime.recorder.record(
        site="demo-site",
        kiosk="kiosk-1",
        cycle="health-emergency",
        moment="emergency-wait",
        score=1,
        language="ms",
        at=now,
    )
    out = alerting.poll(now + timedelta(seconds=1))
    assert states(out) == [("health.admission-furious", None, "firing")]
    assert seen == [("health.admission-furious", None, AlertState.FIRING)]
    assert [a.rule for a in notified] == ["health.admission-furious"]
    assert rating.id  # recorded by the recorder, seen by following the store
    runtime.close()

    # restart: the firing alert comes back from the book, and nothing is announced again
    runtime = Runtime.open(data_dir=tmp_path, plugins=host)
    again = Alerting(runtime, notify=notified.append)
    assert again.start(now + timedelta(seconds=5)) == []
    assert [a.rule for a in again.engine.alerts()] == ["health.admission-furious"]
    assert len(notified) == 1 and len(seen) == 1

    # staff acknowledge it, then it resolves once keep_firing_for (15m) has passed
    alert = again.engine.alerts()[0]
    acknowledged = again.acknowledge(alert.short_id, by="nurse Aida", note="talking to patient")
    assert acknowledged.acknowledged_by == "nurse Aida"
    assert AlertBook(runtime.store).current()[0].acknowledged_by == "nurse Aida"
    resolved = again.poll(now + timedelta(minutes=16))
    assert states(resolved) == [("health.admission-furious", "firing", "resolved")]
    assert AlertBook(runtime.store).current() == []
    assert [a.state for a in notified] == [AlertState.FIRING, AlertState.RESOLVED]
    runtime.close()


def test_a_missed_announcement_is_made_at_start(tmp_path, host):
    """Ratings that make an alert fire but were never judged (a crash) are announced."""
    runtime = Runtime.open(data_dir=tmp_path, plugins=host)
    now = datetime.now(UTC)
    runtime.recorder.record(
        site="demo-site",
        kiosk="kiosk-1",
        cycle="banking-branch",
        moment="correct-payment",
        score=1,
        language="en",
        at=now - timedelta(minutes=5),
    )
    notified = []
    out = Alerting(runtime, notify=notified.append).start(now)
    assert states(out) == [("banking.wrong-payment", None, "firing")]
    assert [a.rule for a in AlertBook(runtime.store).current()] == ["banking.wrong-payment"]
    runtime.close()
