"""Benchmark the rule engine: replay synthetic ratings through every built-in rule.

The engine keeps each rule's window in memory and is fed each rating once, so its
speed should not depend on history and its memory only on what the windows hold.
The reference is the naive design the engine replaces: for every rating, query the
store for each applicable rule's window and recompute the condition from scratch.
Both run in this process, on the same ratings, in the same run.

Measured:

* engine throughput: ratings/s replaying N ratings (default 1M) held in memory;
* engine peak memory: VmHWM of a fresh process that streams N ratings from a generator
  through the engine (so history is never held), at N/10 and N: flat means bounded by
  the windows, not by history;
* naive throughput: ratings/s for the first ``--naive`` ratings (default 2000), each
  evaluated by querying a real store (the ratings are written to it first).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from servicecycle.core import PluginHost, Rating, RatingFilter, Runtime
from servicecycle.core.rating import new_rating_id
from servicecycle.core.rules import RuleEngine, site_ruleset

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
SITES = ("kl", "istanbul", "kazan")
KIOSKS = ("k1", "k2", "k3", "k4")
#: Mostly good service with a tail of bad moments: a mean a little under 4.3.
SCORES = (1, 2, 3, 4, 5)
WEIGHTS = (3, 4, 10, 33, 50)


def synthetic(
    runtime: Runtime, count: int, seed: int = 7, gap: float = 3.0, sites: tuple[str, ...] = SITES
) -> Iterator[Rating]:
    """``count`` ratings across every built-in moment, in time order, ~``gap`` s apart."""
    rng = random.Random(seed)
    moments = [
        (cycle.id, stage.id, moment.id, moment.reasons)
        for cycle in runtime.catalogue.cycles.values()
        for stage, moment in cycle.moments()
    ]
    at = START
    for _ in range(count):
        at += timedelta(seconds=rng.expovariate(1 / gap))
        cycle, stage, moment, reasons = rng.choice(moments)
        score = rng.choices(SCORES, WEIGHTS)[0]
        picked = (rng.choice(reasons),) if score <= 2 and reasons and rng.random() < 0.7 else ()
        yield Rating(
            id=new_rating_id(at),
            at=at,
            site=rng.choice(sites),
            kiosk=rng.choice(KIOSKS),
            cycle=cycle,
            stage=stage,
            moment=moment,
            score=score,
            scale=5,
            language="en",
            reasons=picked,
            flags=("suspect",) if rng.random() < 0.01 else (),
        )


def open_runtime(data_dir: Path) -> Runtime:
    return Runtime.open(
        data_dir=data_dir, plugins=PluginHost.discover(only={"hotel", "health", "banking"})
    )


def engine_throughput(runtime: Runtime, ratings: list[Rating]) -> tuple[float, int]:
    rules = site_ruleset(runtime).active()
    engine = RuleEngine(rules, runtime.catalogue, runtime.config.site)
    started = time.perf_counter()
    transitions = sum(1 for _ in engine.replay(ratings))
    elapsed = time.perf_counter() - started
    return len(ratings) / elapsed, transitions


def naive_throughput(runtime: Runtime, ratings: list[Rating]) -> float:
    """Evaluate each rating by querying the store for every applicable rule's window."""
    rules = site_ruleset(runtime).active()
    engine = RuleEngine(rules, runtime.catalogue, runtime.config.site)  # reused for its plans
    store = runtime.store
    store.ratings.add_many(ratings)
    started = time.perf_counter()
    for rating in ratings:
        info = engine._moments[(rating.cycle, rating.moment)]
        for plan in info[4] + info[5]:
            window = timedelta(seconds=plan.window)
            where = RatingFilter(
                since=rating.at - window, until=rating.at + timedelta(microseconds=1)
            )
            history = [r for r in store.ratings.query(where) if not r.suspect]
            scoped = [r for r in history if r.cycle == rating.cycle]
            _ = sum(1 for r in scoped if r.score <= 2), len(scoped)  # the condition's inputs
    return len(ratings) / (time.perf_counter() - started)


MEMORY_PROBE = """
import sys
sys.path.insert(0, {bench_dir!r})
from pathlib import Path
import rules_bench as b
from servicecycle.core.rules import RuleEngine, site_ruleset
rt = b.open_runtime(Path({data!r}))
engine = RuleEngine(site_ruleset(rt).active(), rt.catalogue, rt.config.site)
n = sum(1 for _ in engine.replay(b.synthetic(rt, {count})))
keys = sum(len(s) for s in engine.states.values())
for line in open("/proc/self/status"):
    if line.startswith("VmHWM"):
        print(int(line.split()[1]) / 1024, keys)
"""


def peak_memory(count: int, data: Path) -> tuple[float, int]:
    code = MEMORY_PROBE.format(bench_dir=str(Path(__file__).parent), data=str(data), count=count)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    mb, keys = out.stdout.split()
    return float(mb), int(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="ratings to replay")
    parser.add_argument("--naive", type=int, default=2_000, help="ratings for the naive reference")
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "rules.json"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sc-rules-bench-") as tmp:
        runtime = open_runtime(Path(tmp) / "engine")
        print(f"generating {args.count:,} synthetic ratings ...", file=sys.stderr)
        ratings = list(synthetic(runtime, args.count))
        span = ratings[-1].at - ratings[0].at
        rate, transitions = engine_throughput(runtime, ratings)
        rules = len(site_ruleset(runtime).active())
        naive_runtime = open_runtime(Path(tmp) / "naive")
        naive = naive_throughput(naive_runtime, ratings[: args.naive])
        small = max(args.count // 10, 1)
        mem_small = peak_memory(small, Path(tmp) / "m1")
        mem_full = peak_memory(args.count, Path(tmp) / "m2")

    rows = [
        ("rule engine (windows in memory)", f"{args.count:,}", f"{rate:,.0f}"),
        ("naive: query the store per rating", f"{args.naive:,}", f"{naive:,.0f}"),
    ]
    print(
        f"\n{rules} built-in rules; {args.count:,} ratings spanning {span.days} days; "
        f"{transitions:,} alert transitions\n"
    )
    print("| approach | ratings | ratings/s |")
    print("|---|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nspeed-up: {rate / naive:,.0f}x")
    print("\n| ratings streamed | peak RSS MB | keys held at the end |")
    print("|---:|---:|---:|")
    print(f"| {small:,} | {mem_small[0]:.1f} | {mem_small[1]} |")
    print(f"| {args.count:,} | {mem_full[0]:.1f} | {mem_full[1]} |")
    facts = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
    }
    print(f"\n{facts}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                **facts,
                "rules": rules,
                "ratings": args.count,
                "engine_ratings_per_s": rate,
                "naive_ratings": args.naive,
                "naive_ratings_per_s": naive,
                "transitions": transitions,
                "peak_rss_mb": {str(small): mem_small[0], str(args.count): mem_full[0]},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
