"""Benchmark the PostgreSQL engine: ingest by batch size, and a chain-scale report.

Starts its own throw-away PostgreSQL (the tests' fixture code, tests/pg.py) with
``fsync`` on, so commit times are honest, on loopback; or uses ``--url``.

1. **Ingest**: ratings per second at 1, 100 and 1,000 ratings per transaction
   through the engine (``ratings.add`` / ``add_many``: the rating, its id, five
   rollup tables and the change feed in one transaction), single-rating commit
   latency p50/p99; references in the same run: a bare ``INSERT`` of the same rows
   into a plain table (no rollups, no feed) at the same batch sizes, and the data
   folder (fsync per append) at the same batch sizes.
2. **Chain-scale report**: a chain year synthesised straight into the rollups
   (300 sites x 5 kiosks x 365 days x 5 moments x 5 scores, about 270 M ratings'
   worth) plus 10 M raw ratings (inserted by SQL, their rollups added as the engine
   adds them). Times ``build_report`` (figures and JSON included) over the year for
   the whole chain and for one site, from the rollups; reference in the same run:
   the same report computed by GROUP BY over the raw rows (``use_cache=False``).

Results: a Markdown table on stdout and ``benchmarks/results/pg.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from machine import machine_facts

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from servicecycle.core import Catalogue, PluginHost  # noqa: E402
from servicecycle.core.rating import Rating, new_rating_id  # noqa: E402
from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from  # noqa: E402
from servicecycle.core.store.engines import open_store  # noqa: E402
from servicecycle.core.store.folder import FolderStore  # noqa: E402
from tests.pg import find_bin, fresh_database, remove_server, start_server  # noqa: E402

SETTINGS = (
    "shared_buffers=512MB",
    "work_mem=64MB",
    "maintenance_work_mem=256MB",
    "max_wal_size=8GB",
    "checkpoint_timeout=30min",
)
SITES, KIOSKS, DAYS = 300, 5, 365
YEAR = date(2025, 1, 1)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def ratings(n: int, start: datetime, moments: list[str], sites: int = SITES) -> list[Rating]:
    """``n`` ratings a millisecond apart, dealt round the first ``sites`` sites' kiosks."""
    return [
        Rating(
            id=new_rating_id(start + timedelta(milliseconds=i)),
            at=start + timedelta(milliseconds=i),
            site=f"s{i % sites:03d}",
            kiosk=f"k{i % KIOSKS if sites > 1 else 0}",
            cycle="hotel-guest",
            stage="stay",
            moment=moments[i % len(moments)],
            score=1 + i % 5,
            scale=5,
            language="en",
            reasons=("lost-time",) if i % 7 == 0 else (),
        )
        for i in range(n)
    ]


def fields(r: Rating) -> tuple:
    return (r.id, r.at, r.site, r.kiosk, r.cycle, r.stage, r.moment, r.score, r.scale, r.language)


# -- ingest ---------------------------------------------------------------------------


def timed(
    what: str,
    plan: list[tuple[int, int]],
    start: datetime,
    moments: list[str],
    write,
    sites: int = SITES,
):
    """Time ``write(chunk)`` for each (batch size, transactions) of ``plan``: one row each."""
    rows = []
    for batch, times in plan:
        made = ratings(batch * times, start, moments, sites)
        start += timedelta(hours=2)
        took = []
        t0 = time.perf_counter()
        for i in range(times):
            t = time.perf_counter_ns()
            write(made[i * batch : (i + 1) * batch])
            took.append((time.perf_counter_ns() - t) / 1e6)
        wall = time.perf_counter() - t0
        rows.append(
            {
                "what": what,
                "batch": batch,
                "ratings": batch * times,
                "per_s": batch * times / wall,
                "p50_ms": statistics.median(took),
                "p99_ms": pct(took, 99),
            }
        )
    return rows


def store_writer(site):
    """One rating through ``add`` (the kiosk's path), more through ``add_many``."""
    return lambda chunk: (
        site.ratings.add(chunk[0]) if len(chunk) == 1 else site.ratings.add_many(chunk)
    )


def ingest(url: str, folder: Path, moments: list[str], singles: int) -> list[dict]:
    plan = [(1, singles), (100, 200), (1000, 40)]
    day = datetime.now(UTC) - timedelta(days=1)
    with open_store(url, zone="UTC") as site:
        rows = timed("servicecycle PostgreSQL engine", plan, day, moments, store_writer(site))
        # What a hub receives from one kiosk: a batch of one site's kiosk, so a
        # batch updates a few dozen rollup rows instead of one per rating.
        rows += timed(
            "servicecycle PostgreSQL engine, a batch from one kiosk",
            plan[1:],
            day + timedelta(hours=4),
            moments,
            store_writer(site),
            sites=1,
        )
    with psycopg.connect(url) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS plain;"
            " CREATE TABLE plain (id text PRIMARY KEY, at timestamptz, site text, kiosk text,"
            " cycle text, stage text, moment text, score smallint, scale smallint,"
            " language text, reasons text[], flags text[])"
        )
        conn.commit()

        def bare(chunk: list[Rating]) -> None:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO plain VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    [(*fields(r), list(r.reasons), list(r.flags)) for r in chunk],
                )
            conn.commit()

        rows += timed(
            "reference: bare INSERT, no rollups or feed",
            plan,
            day + timedelta(hours=8),
            moments,
            bare,
        )
    with FolderStore.open(folder) as site:
        rows += timed(
            "reference: the data folder (fsync per append)",
            plan,
            day + timedelta(hours=16),
            moments,
            store_writer(site),
        )
    return rows


# -- the chain --------------------------------------------------------------------------

KEY = "site, kiosk, cycle, moment, language, suspect, scale, score"


def fill_chain(url: str, moments: list[str], raw: int, say) -> dict:
    """Rollups of a synthetic chain year, then ``raw`` ratings and their rollups."""
    with open_store(url, zone="UTC"):
        pass  # migrated
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        say("synthesising the rollups of 300 sites x 5 kiosks x 365 days")
        conn.execute(
            f"""INSERT INTO tally_days (day, {KEY}, n)
            SELECT %s::date + d, 's' || lpad(s::text, 3, '0'), 'k' || k, 'hotel-guest', m,
                   'en', false, 5, sc, 1 + (random() * 38)::int
            FROM generate_series(0, %s - 1) d, generate_series(0, %s - 1) s,
                 generate_series(0, %s - 1) k, unnest(%s::text[]) m, generate_series(1, 5) sc""",
            (YEAR, DAYS, SITES, KIOSKS, moments),
        )
        conn.execute(
            """INSERT INTO reason_days (day, site, kiosk, cycle, moment, language, suspect,
                   reason, n)
            SELECT day, site, kiosk, cycle, moment, language, suspect, 'lost-time', n / 2 + 1
            FROM tally_days WHERE score = 1"""
        )
        say(f"inserting {raw:,} raw ratings")
        months = [date(2025, m, 1) for m in range(1, 13)]
        for m in months:
            end = date(2026, 1, 1) if m.month == 12 else date(2025, m.month + 1, 1)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS ratings_{m:%Y_%m} PARTITION OF ratings"
                f" FOR VALUES FROM ('{m}') TO ('{end}')"
            )
        step = 1_000_000
        for first in range(0, raw, step):
            conn.execute(
                """WITH g AS (
                    SELECT g, md5(g::text) AS id,
                           timestamptz '2025-01-01 06:00Z'
                             + (g::float8 / %(raw)s * 364) * interval '1 day' AS at
                    FROM generate_series(%(first)s, %(last)s) g
                ), ids AS (INSERT INTO rating_ids SELECT id, at FROM g)
                INSERT INTO ratings (id, at, site, kiosk, cycle, stage, moment, score, scale,
                                     language, reasons, flags)
                SELECT id, at, 's' || lpad((g %% 300)::text, 3, '0'), 'k' || (g / 300 %% 5),
                       'hotel-guest', 'stay', (%(moments)s::text[])[1 + g %% 5], 1 + g / 7 %% 5,
                       5, 'en', CASE WHEN g %% 9 = 0 THEN '{lost-time}'::text[] ELSE '{}' END,
                       '{}'
                FROM g""",
                {
                    "raw": raw,
                    "first": first,
                    "last": min(raw, first + step) - 1,
                    "moments": moments,
                },
            )
        say("adding the raw ratings' rollups, as the engine does")
        local = (
            "SELECT *, (at AT TIME ZONE 'UTC')::date AS day, 'suspect' = ANY (flags) AS suspect"
            " FROM ratings"
        )
        conn.execute(
            f"""INSERT INTO tally_days (day, {KEY}, n)
            SELECT day, {KEY}, count(*) FROM ({local}) r GROUP BY day, {KEY}
            ON CONFLICT (site, day, kiosk, cycle, moment, language, suspect, scale, score)
            DO UPDATE SET n = tally_days.n + excluded.n"""
        )
        conn.execute(
            """INSERT INTO reason_days (day, site, kiosk, cycle, moment, language, suspect,
                   reason, n)
            SELECT day, site, kiosk, cycle, moment, language, suspect, reason, count(*)
            FROM (SELECT *, (at AT TIME ZONE 'UTC')::date AS day, false AS suspect
                  FROM ratings) r, unnest(reasons) reason
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
            ON CONFLICT (site, day, kiosk, cycle, moment, language, suspect, reason)
            DO UPDATE SET n = reason_days.n + excluded.n"""
        )
        say("rolling days up into months and the chain's days")
        conn.execute(
            f"""INSERT INTO tally_months (month, {KEY}, n)
            SELECT date_trunc('month', day)::date, {KEY}, sum(n) FROM tally_days
            GROUP BY 1, {KEY}"""
        )
        conn.execute(
            """INSERT INTO tally_chain_days (day, cycle, moment, language, suspect, scale,
                   score, n)
            SELECT day, cycle, moment, language, suspect, scale, score, sum(n) FROM tally_days
            GROUP BY 1, 2, 3, 4, 5, 6, 7"""
        )
        conn.execute(
            """INSERT INTO reason_months (month, site, kiosk, cycle, moment, language,
                   suspect, reason, n)
            SELECT date_trunc('month', day)::date, site, kiosk, cycle, moment, language,
                   suspect, reason, sum(n)
            FROM reason_days GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"""
        )
        say("the heat map's hours: each site-day spread over its opening hours 07-22")
        conn.execute(
            """INSERT INTO tally_hours (day, hour, site, cycle, language, suspect, scale,
                   score, n)
            SELECT day, h, site, cycle, language, suspect, scale, score,
                   greatest(1, (sum(n) / 16)::bigint)
            FROM tally_days, generate_series(7, 22) h
            GROUP BY day, h, site, cycle, language, suspect, scale, score"""
        )
        conn.execute(
            """INSERT INTO tally_chain_hours (day, hour, cycle, language, suspect, scale,
                   score, n)
            SELECT day, hour, cycle, language, suspect, scale, score, sum(n) FROM tally_hours
            GROUP BY 1, 2, 3, 4, 5, 6, 7"""
        )
        say("VACUUM ANALYZE")
        conn.execute("VACUUM ANALYZE")
        counted = conn.execute("SELECT sum(n) FROM tally_days").fetchone()[0]
        rows = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "tally_days",
                "tally_months",
                "tally_chain_days",
                "reason_days",
                "tally_hours",
                "tally_chain_hours",
            )
        }
        return {
            "ratings_counted": int(counted),
            "raw_ratings": raw,
            "rows": rows,
            "fill_s": time.perf_counter() - t0,
        }


def time_report(site, catalogue: Catalogue, scope: Scope, cache: bool, runs: int) -> dict:
    request = ReportRequest(
        period_from("2025-01-01", "2025-12-31", ZoneInfo("UTC")), scope, use_cache=cache
    )
    took, counted = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        report = build_report(site, catalogue, request, now=datetime(2026, 1, 1, tzinfo=UTC))
        json.dumps(report.to_json())
        took.append(time.perf_counter() - t)
        counted = sum(c.figures.count for c in report.cycles)
    return {"seconds": statistics.median(took), "runs": runs, "ratings_in_report": counted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an existing database to use (else a throw-away server)")
    parser.add_argument("--raw", type=int, default=10_000_000, help="raw ratings (10M)")
    parser.add_argument("--singles", type=int, default=2000, help="single-rating commits")
    parser.add_argument("--quick", action="store_true", help="100k raw, 200 singles")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/pg.json")
    args = parser.parse_args()
    if args.quick:
        args.raw, args.singles = 100_000, 200
    say = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr)  # noqa: E731
    catalogue = Catalogue.from_plugins(PluginHost.discover())
    cycle = catalogue.cycles["hotel-guest"]
    moments = [m.id for _, m in cycle.moments()][:5]
    work = Path(tempfile.mkdtemp(prefix="sc-pgbench-"))
    server = None
    try:
        if args.url:
            urls = [args.url, args.url]
            contexts = []
        else:
            bin_dir = find_bin()
            if bin_dir is None:
                sys.exit("PostgreSQL is not installed: run .ci/install-postgresql")
            say("starting a throw-away PostgreSQL (fsync on)")
            server = start_server(bin_dir, durable=True, settings=SETTINGS)
            contexts = [fresh_database(server), fresh_database(server)]
            urls = [c.__enter__() for c in contexts]
        say("ingest")
        ingested = ingest(urls[0], work / "folder", moments, args.singles)
        if urls[0] == urls[1]:  # --url: one database, so the chain starts from empty
            with psycopg.connect(urls[0], autocommit=True) as conn:
                conn.execute(
                    "DROP TABLE IF EXISTS plain; TRUNCATE ratings, rating_ids, changes,"
                    " tally_days, tally_months, tally_chain_days, reason_days, reason_months,"
                    " tally_hours, tally_chain_hours"
                )
        chain = fill_chain(urls[1], moments, args.raw, say)
        say("timing reports")
        with open_store(urls[1], zone="UTC") as site:
            one = Scope(site="s007")
            reports = {
                "chain, rollups": time_report(site, catalogue, Scope(), True, 3),
                "one site, rollups": time_report(site, catalogue, one, True, 5),
                "chain, reference GROUP BY over the raw rows": time_report(
                    site, catalogue, Scope(), False, 1
                ),
                "one site, reference GROUP BY over the raw rows": time_report(
                    site, catalogue, one, False, 3
                ),
            }
        for context in reversed(contexts):
            context.__exit__(None, None, None)
    finally:
        if server is not None:
            remove_server(server)
        shutil.rmtree(work, ignore_errors=True)
    facts = machine_facts(Path(tempfile.gettempdir()), postgresql=str(find_bin()))
    result = {"ingest": ingested, "chain": chain, "reports": reports, "machine": facts}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str))
    print("| ingest | ratings per transaction | ratings | ratings/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in ingested:
        print(
            f"| {row['what']} | {row['batch']:,} | {row['ratings']:,} | {row['per_s']:,.0f} |"
            f" {row['p50_ms']:.2f} | {row['p99_ms']:.2f} |"
        )
    print()
    print(
        f"Chain year: {chain['ratings_counted']:,} ratings counted in the rollups, "
        f"{chain['raw_ratings']:,} of them as raw rows; rollup rows: {chain['rows']}; "
        f"filled in {chain['fill_s']:.0f} s."
    )
    print()
    print("| year report (build_report + JSON) | seconds (median) | runs | ratings in report |")
    print("|---|---:|---:|---:|")
    for name, row in reports.items():
        print(f"| {name} | {row['seconds']:.3f} | {row['runs']} | {row['ratings_in_report']:,} |")
    print()
    print(f"machine: {json.dumps(facts)}")
    print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
