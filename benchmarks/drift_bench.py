"""Benchmark drift rules: false alarms as asked, detection faster than any fixed threshold.

Synthetic histories of one critical moment (check-in wait) with a weekly season —
Monday mornings half a point worse and twice as often unhappy, Friday evenings a
little worse, weekends better — at a busy desk (about 120 ratings a day) and a
quiet one (about 12), open 07:00–23:00 with a morning peak.

Measured, all through the real rule engine (``RuleEngine.replay``):

* false alarms: histories with no change, a year each (the first 9 weeks are
  the drift rules' learning); alarms per moment per 90 days against the asked
  ``false_alarm_every = "90d"``;
* detection delay: histories with a known change point (the mean down by 0.3,
  0.5 and 1.0 points; the negative share from 10 % to 20 %, either 10 points
  more at every hour or doubled at every hour) placed at random in week 11; the median of ratings and hours from the change to the first alarm
  (at most 4 weeks: later counts as missed);
* the reference: for each figure and desk, fixed-threshold rules of the kinds
  sites write today (``mean`` below a number, ``share`` of ratings ≤ 2 above a
  number) over windows from 1 hour to 7 days, each window's threshold tuned in
  this run, by bisection on the no-change histories, to the false-alarm rate the
  drift rule actually had; the best of them is the one with the shortest median
  delay;
* throughput: replaying the built-in rules (drift rules on every critical
  moment) over 12 weeks of a three-site chain; peak memory of a fresh process
  streaming 12 and 24 weeks (flat: bounded by moments x baseline, not history).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from servicecycle.core import Catalogue, PluginHost, Rating
from servicecycle.core.config import SiteSettings
from servicecycle.core.rating import new_rating_id
from servicecycle.core.rules import Rule, RuleEngine, site_ruleset
from servicecycle.core.rules.drift import tilt

ZONE = ZoneInfo("Europe/Istanbul")
SITE = SiteSettings(id="grand", timezone="Europe/Istanbul")
#: A Monday, 00:00 in Istanbul.
START = datetime(2026, 1, 4, 21, 0, tzinfo=UTC)
NORMAL = (4, 6, 12, 33, 45)  # mean about 4.1, 10 % rated 1 or 2
DAYS = 365
CHANGE_WEEK = 10  # changes fall in week 11, after 10 weeks of normal
AFTER = timedelta(weeks=4)  # how long after a change an alarm still counts
DESKS = {"busy": 120.0, "quiet": 12.0}
WINDOWS = ("1h", "3h", "6h", "12h", "1d", "2d", "3d", "7d")
SCENARIOS = (
    ("mean", "mean -0.3", -0.3, None),
    ("mean", "mean -0.5", -0.5, None),
    ("mean", "mean -1.0", -1.0, None),
    ("share", "share 10 % → 20 % (+10 points at every hour)", 0.10, 0.20),
    ("share", "share 10 % → 20 % (doubled at every hour)", 0.0, 0.20),
)


def hour_weight(weekday: int, hour: int) -> float:
    """Relative traffic: open 07–23, a morning peak, busier Mondays and Fridays."""
    if not 7 <= hour < 23:
        return 0.0
    return (2.0 if hour < 11 else 1.0) * (1.3 if weekday in (0, 4) else 1.0)


def season(weekday: int, hour: int) -> tuple[float, float]:
    """(points added to the mean, factor on the negative share) at this local time."""
    if weekday == 0 and 6 <= hour < 12:
        return -0.5, 1.8
    if weekday == 4 and hour >= 18:
        return -0.25, 1.4
    if weekday >= 5:
        return 0.2, 0.7
    return 0.0, 1.0


def _shifted(base: tuple[float, ...], points: float) -> list[float]:
    total = sum(base)
    p = [b / total for b in base]
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    mean = sum(a * v for a, v in zip(p, values, strict=True))
    if points == 0:
        return p
    theta, log_m = tilt(p, values, mean + points)
    return [a * math.exp(theta * v - log_m) for a, v in zip(p, values, strict=True)]


def _with_share(p: list[float], share: float) -> list[float]:
    """``p`` with ratings 1–2 making up ``share``, the rest scaled to match."""
    low, high = p[0] + p[1], p[2] + p[3] + p[4]
    return [p[0] * share / low, p[1] * share / low] + [x * (1 - share) / high for x in p[2:]]


def history(
    catalogue: Catalogue,
    per_day: float,
    days: float,
    seed: int,
    change_at: datetime | None = None,
    points: float = 0.0,
    share: float | None = None,
) -> Iterator[Rating]:
    """Ratings of one moment, in time order, with the season and (from ``change_at``) a change."""
    rng = random.Random(seed)
    weekly = sum(hour_weight(d, h) for d in range(7) for h in range(24))
    scale = per_day * 7 / weekly  # ratings an hour per unit of weight
    cache: dict[tuple[int, int, bool], list[float]] = {}
    hour = START
    end = START + timedelta(days=days)
    stage = catalogue.cycle("hotel-guest").find_moment("check-in-wait")[0].id  # type: ignore[index]
    while hour < end:
        local = hour.astimezone(ZONE)
        weight = hour_weight(local.weekday(), local.hour)
        if weight:
            count = _poisson(rng, weight * scale)
            times = sorted(rng.random() for _ in range(count))
            for fraction in times:
                at = hour + timedelta(hours=fraction)
                changed = change_at is not None and at >= change_at
                key = (local.weekday(), local.hour, changed)
                p = cache.get(key)
                if p is None:
                    effect, factor = season(local.weekday(), local.hour)
                    p = _with_share(_shifted(NORMAL, effect), 0.1 * factor)  # the season
                    if changed and share is not None and points:  # `points` more share
                        p = _with_share(p, min(0.1 * factor + points, 0.95))
                    elif changed and share is not None:  # the share scaled to `share`
                        p = _with_share(p, min(share * factor, 0.95))
                    elif changed:
                        p = _shifted(tuple(p), points)  # the mean moves by exactly `points`
                    cache[key] = p
                score = rng.choices((1, 2, 3, 4, 5), p)[0]
                yield Rating(
                    id=new_rating_id(at),
                    at=at,
                    site="grand",
                    kiosk="lobby-1",
                    cycle="hotel-guest",
                    stage=stage,
                    moment="check-in-wait",
                    score=score,
                    scale=5,
                    language="en",
                    reasons=(),
                    flags=(),
                )
        hour += timedelta(hours=1)


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


# -- the rules ---------------------------------------------------------------------


def drift_rule(figure: str) -> Rule:
    return Rule.model_validate(
        {
            "id": f"drift.{figure}",
            "kind": "drift",
            "cycle": "hotel-guest",
            "scope": {"critical": True},
            "figure": figure,
            "shift": 0.5 if figure == "mean" else "10%",
            "false_alarm_every": "90d",
            "summary": "{moment_name}: {change}",
            "response": "Act.",
        }
    )


def fixed_rule(figure: str, window: str, threshold: float) -> Rule:
    fields: dict = {
        "id": f"fixed.{figure}.{window}",
        "cycle": "hotel-guest",
        "scope": {"critical": True},
        "window": window,
        "min_samples": 5,
        "summary": "{mean} {share}",
        "response": "Act.",
    }
    if figure == "mean":
        fields.update(kind="mean", below=round(threshold, 4))
    else:
        fields.update(kind="share", when={"score": {"le": 2}}, share=round(threshold, 4))
    return Rule.model_validate(fields)


def alarms(
    catalogue: Catalogue, rules: list[Rule], ratings: list[Rating], judged_from: datetime
) -> dict[str, list[datetime]]:
    """When each rule began firing (new alarms only), from ``judged_from`` on."""
    engine = RuleEngine(rules, catalogue, SITE)
    found: dict[str, list[datetime]] = {r.id: [] for r in rules}
    end = ratings[-1].at if ratings else judged_from
    for alert, previous in engine.replay(ratings, until=end):
        if alert.state.value == "firing" and previous is None and alert.since >= judged_from:
            found[alert.rule].append(alert.since)
    return found


def per_90_days(count: int, days: float) -> float:
    return count / days * 90


# -- false alarms and tuning --------------------------------------------------------


def null_histories(catalogue: Catalogue, per_day: float, runs: int, seed: int) -> list[list]:
    return [list(history(catalogue, per_day, DAYS, seed + i)) for i in range(runs)]


def judged_days(runs: int) -> float:
    return runs * (DAYS - 7 * (CHANGE_WEEK - 1))


def tune(
    catalogue: Catalogue, figure: str, nulls: list[list], allowed: int
) -> dict[str, tuple[float, int]]:
    """Per window, the most sensitive threshold with at most ``allowed`` false alarms.

    Bisection, all windows at once (one replay of the no-change histories per
    step): a mean rule alarms more as ``below`` rises, a share rule as ``share`` falls.
    """
    judged = START + timedelta(weeks=CHANGE_WEEK - 1)
    # (threshold that passes, threshold that fails) per window
    span = {w: ((1.0, 5.0) if figure == "mean" else (1.0, 0.01)) for w in WINDOWS}
    best: dict[str, tuple[float, int]] = {w: (span[w][0], 0) for w in WINDOWS}
    for _ in range(10):
        middle = {w: (a + b) / 2 for w, (a, b) in span.items()}
        rules = [fixed_rule(figure, w, middle[w]) for w in WINDOWS]
        counts = {r.id: 0 for r in rules}
        for null in nulls:
            for rule_id, times in alarms(catalogue, rules, null, judged).items():
                counts[rule_id] += len(times)
        for window, rule in zip(WINDOWS, rules, strict=True):
            passing, failing = span[window]
            if counts[rule.id] <= allowed:
                span[window] = (middle[window], failing)
                best[window] = (middle[window], counts[rule.id])
            else:
                span[window] = (passing, middle[window])
    return best


# -- detection ------------------------------------------------------------------------


def delays(
    catalogue: Catalogue,
    rules: list[Rule],
    per_day: float,
    runs: int,
    seed: int,
    points: float,
    share: float | None,
) -> dict[str, list[tuple[float, float]]]:
    """Per rule, (ratings, hours) from the change to its first alarm (inf: missed)."""
    found: dict[str, list[tuple[float, float]]] = {r.id: [] for r in rules}
    rng = random.Random(seed)
    for run in range(runs):
        change = START + timedelta(weeks=CHANGE_WEEK, hours=rng.uniform(0, 7 * 24))
        ratings = list(
            history(
                catalogue,
                per_day,
                (change + AFTER - START).total_seconds() / 86400,
                seed + 1000 + run,
                change,
                points,
                share,
            )
        )
        times = [r.at for r in ratings]
        fired = alarms(catalogue, rules, ratings, change)
        for rule in rules:
            first = fired[rule.id][0] if fired[rule.id] else None
            if first is None:
                found[rule.id].append((math.inf, math.inf))
                continue
            after = sum(1 for t in times if change <= t <= first)
            found[rule.id].append((after, (first - change).total_seconds() / 3600))
    return found


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.inf


def show(value: float, unit: str = "") -> str:
    return "missed" if math.isinf(value) else f"{value:,.0f}{unit}"


# -- throughput ---------------------------------------------------------------------------


def chain_history(catalogue: Catalogue, weeks: int, per_day: float, seed: int) -> Iterator[Rating]:
    """Every built-in moment at three sites, ``per_day`` ratings each, in time order."""
    rng = random.Random(seed)
    moments = [
        (cycle.id, stage.id, moment.id)
        for cycle in catalogue.cycles.values()
        for stage, moment in cycle.moments()
    ]
    sites = ("grand", "harbour", "airport")
    keys = len(moments) * len(sites)
    gap = 86400 / (per_day * keys)
    at = START
    end = START + timedelta(weeks=weeks)
    while at < end:
        at += timedelta(seconds=rng.expovariate(1 / gap))
        cycle, stage, moment = rng.choice(moments)
        yield Rating(
            id=new_rating_id(at),
            at=at,
            site=rng.choice(sites),
            kiosk="k1",
            cycle=cycle,
            stage=stage,
            moment=moment,
            score=rng.choices((1, 2, 3, 4, 5), NORMAL)[0],
            scale=5,
            language="en",
            reasons=(),
            flags=(),
        )


def host() -> PluginHost:
    return PluginHost.discover(only={"hotel", "health", "banking"})


def throughput(catalogue: Catalogue, per_day: float) -> dict[str, float]:
    from servicecycle.core import Runtime

    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime.open(data_dir=Path(tmp), plugins=host())
        rules = site_ruleset(runtime).active()
        runtime.close()
    ratings = list(chain_history(catalogue, 12, per_day, seed=5))
    found = {"ratings": float(len(ratings))}
    for name, chosen in (
        ("all built-in rules", rules),
        ("drift rules only", [r for r in rules if r.kind == "drift"]),
        ("fixed-threshold rules only", [r for r in rules if r.kind != "drift"]),
    ):
        best = 0.0
        for _ in range(2):
            engine = RuleEngine(chosen, catalogue, SITE)
            started = time.perf_counter()
            for _ in engine.replay(ratings):
                pass
            best = max(best, len(ratings) / (time.perf_counter() - started))
        found[name] = best
    return found


def start_time(catalogue: Catalogue, per_day: float) -> tuple[int, float]:
    """Seconds for a rule engine to start on a data folder holding 10 weeks of the chain:
    it reads the last 9 weeks back through the store's change feed (the drift rules' normal)."""
    from servicecycle.core import Runtime
    from servicecycle.core.rules import Alerting

    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime.open(data_dir=Path(tmp), plugins=host())
        ratings = list(chain_history(catalogue, 10, per_day, seed=5))
        runtime.store.ratings.add_many(ratings)
        now = ratings[-1].at + timedelta(minutes=1)
        started = time.perf_counter()
        Alerting(runtime, known_kiosks=[]).start(now)
        elapsed = time.perf_counter() - started
        runtime.close()
    return len(ratings), elapsed


MEMORY_PROBE = """
import sys, tempfile
sys.path.insert(0, {bench_dir!r})
from pathlib import Path
import drift_bench as b
from servicecycle.core import Catalogue, Runtime
from servicecycle.core.rules import RuleEngine, site_ruleset
catalogue = Catalogue.from_plugins(b.host())
with tempfile.TemporaryDirectory() as tmp:
    runtime = Runtime.open(data_dir=Path(tmp), plugins=b.host())
    rules = site_ruleset(runtime).active()
    runtime.close()
engine = RuleEngine(rules, catalogue, b.SITE)
n = sum(1 for _ in engine.replay(b.chain_history(catalogue, {weeks}, {per_day}, seed=5)))
keys = sum(len(s) for s in engine.states.values())
for line in open("/proc/self/status"):
    if line.startswith("VmHWM"):
        print(int(line.split()[1]) / 1024, keys)
"""


def peak_memory(weeks: int, per_day: float) -> tuple[float, int]:
    code = MEMORY_PROBE.format(bench_dir=str(Path(__file__).parent), weeks=weeks, per_day=per_day)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    mb, keys = out.stdout.split()
    return float(mb), int(keys)


# -- the run ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nulls", type=int, default=6, help="no-change histories (a year each)")
    parser.add_argument("--changes", type=int, default=24, help="histories per change scenario")
    parser.add_argument("--per-day", type=float, default=40.0, help="throughput: per moment")
    parser.add_argument("--quick", action="store_true", help="fewer histories (a smoke run)")
    parser.add_argument(
        "--throughput-only", action="store_true", help="only the replay speed and memory"
    )
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "drift.json"
    )
    args = parser.parse_args()
    if args.quick:
        args.nulls, args.changes = 2, 6
    catalogue = Catalogue.from_plugins(host())
    results: dict = {"false_alarms": {}, "detection": {}, "fixed": {}}
    lines: list[str] = []
    say = lines.append

    if args.throughput_only:
        _speed(catalogue, args, results, say)
        _finish(args, results, lines)
        return
    say("| desk | figure | false alarms per 90 days, asked 1 | ratio | judged days |")
    say("|---|---|---:|---:|---:|")
    tuned: dict[tuple[str, str], list[Rule]] = {}
    for desk, per_day in DESKS.items():
        print(f"{desk}: {args.nulls} no-change years ...", file=sys.stderr)
        nulls = null_histories(catalogue, per_day, args.nulls, seed=100)
        judged = START + timedelta(weeks=CHANGE_WEEK - 1)
        days = judged_days(args.nulls)
        drifts = [drift_rule("mean"), drift_rule("share")]
        counts = {r.id: 0 for r in drifts}
        for null in nulls:
            for rule_id, times in alarms(catalogue, drifts, null, judged).items():
                counts[rule_id] += len(times)
        for rule in drifts:
            rate = per_90_days(counts[rule.id], days)
            print(
                f"  {rule.id}: {counts[rule.id]} false alarms in {days:,.0f} days", file=sys.stderr
            )
            results["false_alarms"][f"{desk} {rule.figure}"] = {
                "alarms": counts[rule.id],
                "days": days,
                "per_90_days": rate,
            }
            say(f"| {desk} | {rule.figure} | {rate:.2f} | {rate:.2f}x | {days:,.0f} |")
            print(
                f"  tuning fixed {rule.figure} rules to {counts[rule.id]} alarms", file=sys.stderr
            )
            chosen = []
            for window, (threshold, found) in tune(
                catalogue, rule.figure, nulls, counts[rule.id]
            ).items():
                fixed = fixed_rule(rule.figure, window, threshold)
                chosen.append(fixed)
                results["fixed"][f"{desk} {fixed.id}"] = {
                    "threshold": threshold,
                    "false_alarms": found,
                    "per_90_days": per_90_days(found, days),
                }
            tuned[(desk, rule.figure)] = chosen
        del nulls

    say("")
    say(
        "| desk | change | drift: median ratings | drift: median hours | drift: missed "
        "| best fixed rule | fixed: median ratings | fixed: median hours | fixed: missed |"
    )
    say("|---|---|---:|---:|---:|---|---:|---:|---:|")
    for desk, per_day in DESKS.items():
        for index, (figure, name, points, share) in enumerate(SCENARIOS):
            print(f"{desk}: {args.changes} histories, {name} ...", file=sys.stderr)
            drift = drift_rule(figure)
            rules = [drift, *tuned[(desk, figure)]]
            found = delays(catalogue, rules, per_day, args.changes, 7000 + index, points, share)

            def summary(rule_id: str, found=found) -> tuple[float, float, int]:
                pairs = found[rule_id]
                return (
                    median([p[0] for p in pairs]),
                    median([p[1] for p in pairs]),
                    sum(1 for p in pairs if math.isinf(p[0])),
                )

            mine = summary(drift.id)
            fixed = {r.id: summary(r.id) for r in tuned[(desk, figure)]}
            best_id = min(fixed, key=lambda k: (fixed[k][1], fixed[k][0]))
            best = fixed[best_id]
            window = best_id.rsplit(".", 1)[1]
            threshold = results["fixed"][f"{desk} {best_id}"]["threshold"]
            words = (
                f"mean < {threshold:.2f} in {window}"
                if figure == "mean"
                else f"share ≥ {threshold:.0%} in {window}"
            )
            results["detection"][f"{desk} {name}"] = {
                "drift": {"ratings": mine[0], "hours": mine[1], "missed": mine[2]},
                "best_fixed": {
                    "rule": words,
                    "ratings": best[0],
                    "hours": best[1],
                    "missed": best[2],
                },
                "histories": args.changes,
            }
            say(
                f"| {desk} | {name} | {show(mine[0])} | {show(mine[1], ' h')} | "
                f"{mine[2]}/{args.changes} | {words} | {show(best[0])} | "
                f"{show(best[1], ' h')} | {best[2]}/{args.changes} |"
            )

    _speed(catalogue, args, results, say)
    _finish(args, results, lines)


def _speed(
    catalogue: Catalogue, args: argparse.Namespace, results: dict, say: Callable[[str], None]
) -> None:
    print("throughput ...", file=sys.stderr)
    speed = throughput(catalogue, args.per_day)
    results["throughput"] = speed
    say("")
    say(
        f"Replay of 12 weeks at three sites, every built-in moment at {args.per_day:g} ratings "
        f"a day ({speed['ratings']:,.0f} ratings):"
    )
    say("")
    say("| rules | ratings/s |")
    say("|---|---:|")
    for name in ("all built-in rules", "drift rules only", "fixed-threshold rules only"):
        say(f"| {name} | {speed[name]:,.0f} |")
    stored, seconds = start_time(catalogue, args.per_day)
    results["start"] = {"ratings": stored, "seconds": seconds}
    say("")
    say(
        f"A rule engine starting on a data folder of {stored:,} ratings (10 weeks) reads "
        f"9 weeks back through the change feed: {seconds:.1f} s."
    )
    memory = {weeks: peak_memory(weeks, args.per_day) for weeks in (12, 24)}
    results["peak_rss_mb"] = {str(w): m[0] for w, m in memory.items()}
    say("")
    say("| weeks streamed | peak RSS MB | keys held |")
    say("|---:|---:|---:|")
    for weeks, (mb, keys) in memory.items():
        say(f"| {weeks} | {mb:.1f} | {keys} |")


def _finish(args: argparse.Namespace, results: dict, lines: list[str]) -> None:
    facts = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
    }
    print("\n".join(lines))
    print(f"\n{facts}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**facts, **results}, indent=2, default=str))


if __name__ == "__main__":
    main()
