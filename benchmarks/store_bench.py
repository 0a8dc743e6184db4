"""Benchmark the rating store against plain TinyDB, at several stored sizes, in one run.

The store promises that recording a rating costs the same with a year of history as with
none: every insert appends one line to today's partition and fsyncs it, and opening the data
folder reads no ratings. This script checks that promise against the layout it replaced,
one TinyDB file with the default JSONStorage, which reads and rewrites the whole file on
every insert.

For each stored size (1k, 100k and 1M ratings by default) it pre-fills a store and a
TinyDB file with the same synthetic year of history, then measures, per implementation:

* insert latency: p50 / p99 / max of single durable inserts of a rating made "now", timed
  with ``time.perf_counter_ns`` after one untimed warm-up insert. TinyDB gets fewer inserts
  at larger sizes (``--reference-inserts``), since each one rewrites the file;
* open time: median of 3 fresh interpreters timing ``Store(path, owner=...)`` (the kiosk's open, with its recovery check) (TinyDB: ``TinyDB(path)``
  plus ``len(table)``, since TinyDB reads the file lazily). Imports are not timed; the OS
  page cache is warm;
* resident memory: peak RSS (VmHWM) of a fresh kiosk-like process: import
  ``servicecycle.core``, open the store, 200 inserts, one query of today's ratings
  (TinyDB: open the file, 5 inserts).

Results go to stdout as a Markdown table and to ``benchmarks/results/store.json``.
Stores live in a temporary folder (``--dir``) that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import tinydb
from machine import machine_facts
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from tinydb import TinyDB

from servicecycle.core.rating import Rating, format_time, new_rating_id, utc_now
from servicecycle.core.store import Store

DEFAULT_SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
HISTORY = timedelta(days=365)
CHUNK = 50_000  # records per insert_multiple call while pre-filling
OPEN_RUNS = 3
KIOSK_INSERTS = 200
REFERENCE_KIOSK_INSERTS = 5
RESULTS = Path(__file__).resolve().parent / "results" / "store.json"
STORE_NAME = "servicecycle Store"
TINYDB_NAME = f"TinyDB {tinydb.__version__} JSONStorage"
T = TypeVar("T")

# The fresh-process measurements. Each prints one JSON value on stdout; argv[1] is the path,
# stdin (for the kiosk-like ones) a JSON list of records to insert.
#
# Peak memory is VmHWM (KiB), not getrusage's ru_maxrss: Linux carries ru_maxrss over
# execve, so a process spawned by this (large) benchmark process would report our peak.
PRINT_PEAK_RSS = """
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""

STORE_OPEN = """
import json, sys, time
from servicecycle.core.store import Store
start = time.perf_counter()
store = Store(sys.argv[1], owner="kiosk benchmark")  # the kiosk's open: recovery included
print(json.dumps(time.perf_counter() - start))
store.close()
"""

TINYDB_OPEN = """
import json, sys, time
from tinydb import TinyDB
start = time.perf_counter()
db = TinyDB(sys.argv[1])
len(db.table("ratings"))
print(json.dumps(time.perf_counter() - start))
"""

STORE_KIOSK = (
    """
import json, sys
from datetime import UTC, datetime
import servicecycle.core
from servicecycle.core.rating import Rating
from servicecycle.core.store import RatingFilter, Store
store = Store(sys.argv[1], owner="kiosk benchmark")
for record in json.load(sys.stdin):
    store.ratings.add(Rating.from_record(record))
midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
today = list(store.ratings.query(RatingFilter(since=midnight)))
store.close()
"""
    + PRINT_PEAK_RSS
)

TINYDB_KIOSK = (
    """
import json, sys
from tinydb import TinyDB
table = TinyDB(sys.argv[1]).table("ratings")
for record in json.load(sys.stdin):
    table.insert(record)
"""
    + PRINT_PEAK_RSS
)


@dataclass
class Row:
    """One line of the results table; ``inserts`` is None when the measurement was skipped."""

    stored: int
    implementation: str
    inserts: int | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    open_s: float | None = None
    rss_mb: float | None = None


# -- synthetic ratings ------------------------------------------------------------------------


def record(at: datetime, rng: random.Random) -> dict[str, Any]:
    """A rating as the store files it (the shape of ``Rating.to_record()``)."""
    score = rng.randint(1, 5)
    return {
        "id": new_rating_id(at),
        "at": format_time(at),
        "site": "bench-hotel",
        "kiosk": "lobby-1",
        "cycle": "hotel-guest",
        "stage": "check-out",
        "moment": "check-out-wait",
        "score": score,
        "scale": 5,
        "language": "en",
        "reasons": ["lost-time"] if score <= 2 else [],
        "flags": [],
    }


def history(size: int, end: datetime, rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    """``size`` ratings spread evenly (with jitter) over the year before ``end``, in time order."""
    start = end - HISTORY
    step = HISTORY / size
    for first in range(0, size, CHUNK):
        yield [
            record(start + step * (i + rng.random()), rng)
            for i in range(first, min(first + CHUNK, size))
        ]


def prefill(
    size: int, store_dir: Path, tinydb_file: Path | None, rng: random.Random, progress: Progress
) -> None:
    """Fill a new store (and the TinyDB file, unless None) with the same ``size`` ratings.

    The TinyDB file is written directly, byte for byte what ``json.dumps`` of the database
    gives (TinyDB's own format), instead of through ``size`` whole-file rewrites.
    """
    task = progress.add_task(f"pre-fill {size:,}", total=size)
    writing = tinydb_file.open("w", encoding="utf-8") if tinydb_file else nullcontext()
    with Store(store_dir) as store, writing as json_out:
        if json_out is not None:
            json_out.write('{"ratings": {')
        doc_id = 0
        for chunk in history(size, utc_now(), rng):
            store.table("ratings").insert_multiple(chunk)
            if json_out is not None:
                separator = ", " if doc_id else ""
                entries = []
                for document in chunk:
                    doc_id += 1
                    entries.append(f'"{doc_id}": {json.dumps(document)}')
                json_out.write(separator + ", ".join(entries))
            progress.advance(task, len(chunk))
        if json_out is not None:
            json_out.write("}}")


# -- measurements -----------------------------------------------------------------------------


def time_inserts(count: int, make: Callable[[], T], insert: Callable[[T], object]) -> list[int]:
    """Nanoseconds of ``count`` calls ``insert(make())``, only ``insert`` timed, after a warm-up."""
    insert(make())
    samples = []
    for _ in range(count):
        item = make()
        start = time.perf_counter_ns()
        insert(item)
        samples.append(time.perf_counter_ns() - start)
    return samples


def percentile(ordered: list[int], fraction: float) -> int:
    """Nearest-rank percentile of a sorted list (with under 100 samples, p99 is the max)."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency_row(stored: int, implementation: str, samples: list[int]) -> Row:
    ordered = sorted(samples)
    return Row(
        stored=stored,
        implementation=implementation,
        inserts=len(samples),
        p50_ms=percentile(ordered, 0.50) / 1e6,
        p99_ms=percentile(ordered, 0.99) / 1e6,
        max_ms=ordered[-1] / 1e6,
    )


def run_child(program: str, path: Path, stdin: str | None = None) -> Any:
    """Run one measurement program in a fresh interpreter; return the JSON value it prints."""
    done = subprocess.run(
        [sys.executable, "-c", program, str(path)],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measurement process failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)


def open_seconds(program: str, path: Path) -> float:
    return statistics.median(run_child(program, path) for _ in range(OPEN_RUNS))


def kiosk_rss_mb(program: str, path: Path, inserts: int, rng: random.Random) -> float:
    records = [record(utc_now(), rng) for _ in range(inserts)]
    return run_child(program, path, json.dumps(records)) / 1024


def measure_store(size: int, path: Path, inserts: int, rng: random.Random) -> Row:
    opened = open_seconds(STORE_OPEN, path)
    with Store(path) as store:
        samples = time_inserts(
            inserts, lambda: Rating.from_record(record(utc_now(), rng)), store.ratings.add
        )
    row = latency_row(size, STORE_NAME, samples)
    row.open_s = opened
    row.rss_mb = kiosk_rss_mb(STORE_KIOSK, path, KIOSK_INSERTS, rng)
    return row


def measure_tinydb(size: int, path: Path, inserts: int, rng: random.Random) -> Row:
    opened = open_seconds(TINYDB_OPEN, path)
    with TinyDB(path) as db:
        table = db.table("ratings")
        samples = time_inserts(inserts, lambda: record(utc_now(), rng), table.insert)
    row = latency_row(size, TINYDB_NAME, samples)
    row.open_s = opened
    row.rss_mb = kiosk_rss_mb(TINYDB_KIOSK, path, REFERENCE_KIOSK_INSERTS, rng)
    return row


def reference_inserts(base: int, size: int) -> int:
    """TinyDB inserts to time at ``size``: ``base`` at 1k, shrinking with sqrt(size), >= 3."""
    return max(3, min(base, round(base * math.sqrt(1_000 / size))))


def tinydb_fsyncs(folder: Path) -> bool:
    """Whether TinyDB's JSONStorage fsyncs when it writes (checked, not assumed)."""
    with mock.patch("os.fsync", wraps=os.fsync) as fsync, TinyDB(folder / "probe.json") as db:
        db.table("probe").insert({"probe": True})
    return fsync.called


# -- reporting --------------------------------------------------------------------------------


def number(value: float | None, decimals: int | None = None) -> str:
    """A table cell: fewer decimals as values grow, unless ``decimals`` is fixed."""
    if value is None:
        return "skipped"
    if decimals is None:
        decimals = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:,.{decimals}f}"


def markdown(rows: list[Row], facts: dict[str, Any], notes: list[str]) -> str:
    lines = [
        "| stored ratings | implementation | inserts timed | p50 ms | p99 ms | max ms "
        "| open s | RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        inserts = "skipped" if row.inserts is None else str(row.inserts)
        lines.append(
            f"| {row.stored:,} | {row.implementation} | {inserts} | {number(row.p50_ms)} "
            f"| {number(row.p99_ms)} | {number(row.max_ms)} | {number(row.open_s, 3)} "
            f"| {number(row.rss_mb, 1)} |"
        )
    lines += ["", *(f"- {key}: {value}" for key, value in facts.items()), ""]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def notes(inserts: int, fsyncs: bool) -> list[str]:
    tinydb_write = (
        "calls os.fsync on the file (checked at run time), but rewrites it in place, so a "
        "crash mid-write can lose the whole file"
        if fsyncs
        else "does NOT fsync (checked at run time): its latencies are a best case"
    )
    return [
        f"{STORE_NAME}: each insert is `store.ratings.add` = one append + fsync of today's "
        f"partition under the write lock; {inserts} timed after 1 warm-up.",
        f"{TINYDB_NAME}: each insert reads and rewrites the whole JSON file; its write "
        f"{tinydb_write}. Fewer inserts timed at larger sizes, after 1 warm-up.",
        "p99 is nearest-rank: with fewer than 100 inserts it equals the max.",
        f"open s: median of {OPEN_RUNS} fresh interpreters opening as the kiosk does (owner, "
        "with its recovery check), imports not timed, page cache warm; "
        "TinyDB's includes reading the table (len), as it reads lazily.",
        "RSS MB: peak RSS (VmHWM/1024; ru_maxrss would include this benchmark's own peak, "
        f"as Linux keeps it across execve) of a fresh process; store: import servicecycle.core, "
        f"Store(path), {KIOSK_INSERTS} adds, query of today's ratings; TinyDB: TinyDB(path), "
        f"{REFERENCE_KIOSK_INSERTS} inserts.",
    ]


# -- the run ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=list(DEFAULT_SIZES),
        help="stored ratings to measure at, comma-separated (default: 1000,100000,1000000)",
    )
    which.add_argument("--quick", action="store_true", help="sizes 1000,10000 only (smoke test)")
    parser.add_argument(
        "--inserts", type=int, default=1_000, help="store inserts timed per size (default 1000)"
    )
    parser.add_argument(
        "--reference-inserts",
        type=int,
        default=200,
        help="TinyDB inserts timed at 1k; scaled by sqrt(1000/size), at least 3 (default 200)",
    )
    parser.add_argument(
        "--skip-reference-above",
        type=int,
        metavar="N",
        help="do not measure TinyDB at sizes above N ratings",
    )
    parser.add_argument("--dir", type=Path, help="where to create the temporary stores")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument("--seed", type=int, default=1, help="random seed for synthetic data")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = list(QUICK_SIZES) if args.quick else args.sizes
    rng = random.Random(args.seed)
    console = Console(stderr=True)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="servicecycle-bench-", dir=args.dir))
    rows: list[Row] = []
    try:
        facts = machine_facts(work, tinydb=tinydb.__version__)
        fsyncs = tinydb_fsyncs(work)
        for size in sizes:
            reference = args.skip_reference_above is None or size <= args.skip_reference_above
            store_dir, tinydb_file = work / f"store-{size}", work / f"tinydb-{size}.json"
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                prefill(size, store_dir, tinydb_file if reference else None, rng, progress)
            console.print(f"{size:,}: measuring {STORE_NAME}")
            rows.append(measure_store(size, store_dir, args.inserts, rng))
            if reference:
                count = reference_inserts(args.reference_inserts, size)
                console.print(f"{size:,}: measuring {TINYDB_NAME} ({count} inserts)")
                rows.append(measure_tinydb(size, tinydb_file, count, rng))
            else:
                rows.append(Row(stored=size, implementation=TINYDB_NAME))
            shutil.rmtree(store_dir)
            tinydb_file.unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    facts["duration"] = f"{time.monotonic() - started:.0f} s"
    run_notes = notes(args.inserts, fsyncs)
    print(markdown(rows, facts, run_notes))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"facts": facts, "notes": run_notes, "rows": [asdict(row) for row in rows]}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    console.print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
