"""Benchmark the manager's console: the report page of a year, and the alerts page.

1. **Report page on PostgreSQL**: a chain year synthesised into the rollups, as
   ``pg_bench.py`` does (300 sites x 5 kiosks x 365 days x 5 moments x 5 scores,
   about 280 M ratings' worth, the heat map's hours included) plus ``--raw`` stored
   ratings, behind a hub configuration of 10 regions x 30 sites. Times
   ``GET /report`` for the chain's year and for one site's year, signed in as an
   admin: the page's own ``Server-Timing`` (the report built from the store and
   rendered from the templates, figures, charts and all). Reference in the same
   run: ``build_report`` alone, no rendering.
2. **Alerts page with 1,000 firing alerts**, on the data folder and on PostgreSQL:
   1,000 alerts firing across 50 sites, after a year's history of 20,000 alerts
   that fired and resolved. Times ``GET /`` (the first page of the list, 100 alerts,
   firing first) and ``GET /?part=list`` (what the page polls every 5 s): unchanged
   book (the pass over it kept), and right after a new transition (a fresh pass).

The app runs in this process (Starlette's test client), so the figures are server
time, not network. Results: a Markdown table on stdout and
``benchmarks/results/console.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from machine import machine_facts

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pg_bench import SETTINGS, fill_chain  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from servicecycle.core import Catalogue, PluginHost, Role, Runtime, UserBook  # noqa: E402
from servicecycle.core.alert import Alert, AlertState  # noqa: E402
from servicecycle.core.fleet.hub import state_dir  # noqa: E402
from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from  # noqa: E402
from servicecycle.core.rules.book import _CURRENT, AlertBook  # noqa: E402
from servicecycle.core.store.engines import open_store  # noqa: E402
from tests.pg import find_bin, fresh_database, remove_server, start_server  # noqa: E402

PASSWORD = "benchmark password"
REGIONS, PER_REGION = 10, 30


def chain_config(path: Path, url: str | None, sites: list[str]) -> Path:
    """A hub's file: the sites in regions of 30, UTC (the rollups' zone)."""
    lines = ['[hub]\nchain = "grand"\n']
    if url:
        lines.append(f'[store]\nurl = "{url}"\n')
    for r in range(0, len(sites), PER_REGION):
        lines.append(f'[[hub.regions]]\nid = "r{r // PER_REGION:02d}"\n')
        for site in sites[r : r + PER_REGION]:
            lines.append(
                f'[[hub.regions.sites]]\nid = "{site}"\ntimezone = "UTC"\nopening_hours = {{}}\n'
            )
    path.write_text("\n".join(lines))
    return path


def signed_in(runtime: Runtime) -> TestClient:
    from servicecycle.console.app import create_console

    state = state_dir(runtime)
    with UserBook(state) as users:
        if users.get("root") is None:
            users.add("root", Role.ADMIN.value, PASSWORD)
    client = TestClient(create_console(runtime, state), base_url="https://console.test")
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/login",
        data={"csrf": csrf, "name": "root", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def server_ms(client: TestClient, path: str, runs: int) -> dict:
    """Median and max Server-Timing of ``runs`` GETs (after one warm-up)."""
    got = client.get(path)
    assert got.status_code == 200, (path, got.status_code, got.text[-400:])
    took = []
    for _ in range(runs):
        got = client.get(path)
        assert got.status_code == 200
        took.append(float(got.headers["server-timing"].split("dur=")[1]))
    return {"median_ms": statistics.median(took), "max_ms": max(took), "runs": runs,
            "bytes": len(got.content)}  # fmt: skip


def bench_reports(url: str, work: Path, raw: int, runs: int, say) -> dict:
    catalogue = Catalogue.from_plugins(PluginHost.discover())
    moments = [m.id for _, m in catalogue.cycles["hotel-guest"].moments()][:5]
    chain = fill_chain(url, moments, raw, say)
    sites = [f"s{n:03d}" for n in range(REGIONS * PER_REGION)]
    work.mkdir(parents=True, exist_ok=True)
    config = chain_config(work / "hub.toml", url, sites)
    runtime = Runtime.open(config, data_dir=work / "hub")
    try:
        client = signed_in(runtime)
        year = "period=custom&since=2025-01-01&until=2025-12-31"
        say("timing the report pages")
        pages = {
            "chain year": server_ms(client, f"/report?scope=chain&{year}", runs),
            "region year (30 sites)": server_ms(client, f"/report?scope=region:r00&{year}", runs),
            "one site year": server_ms(client, f"/report?scope=site:s007&{year}", runs),
        }
        say("reference: build_report alone")
        period = period_from("2025-01-01", "2025-12-31", ZoneInfo("UTC"))
        reference = {}
        for name, scope in (("chain year", Scope()), ("one site year", Scope(site="s007"))):
            took = []
            for _ in range(runs):
                t = time.perf_counter()
                build_report(runtime.site_store, catalogue, ReportRequest(period, scope))
                took.append((time.perf_counter() - t) * 1000)
            reference[name] = {"median_ms": statistics.median(took), "runs": runs}
    finally:
        runtime.close()
    return {"chain": chain, "pages": pages, "build_report_only": reference}


def fill_alerts(runtime: Runtime, firing: int, history: int, sites: list[str]) -> None:
    """``history`` alerts that fired and resolved over a year, then ``firing`` still firing."""
    start = datetime.now(UTC) - timedelta(days=365)
    for n in range(history + firing):
        site = sites[n % len(sites)]
        book = AlertBook(runtime.site_store, site)
        since = start + timedelta(minutes=n * (365 * 24 * 60 // (history + firing)))
        alert = Alert(
            rule=f"bad-moment-{n % 7}",
            key=(("moment", f"m{n % 11}"), ("kiosk", f"k{n}")),
            state=AlertState.PENDING,
            severity="warning",
            summary=f"check-in wait: 3 bad ratings in 15 min at {site}",
            since=since,
            response="front office manager",
        )
        book.record(alert, None)
        fired = replace(alert, state=AlertState.FIRING, since=since + timedelta(minutes=5))
        book.record(fired, AlertState.PENDING)
        if n < history:
            done = replace(alert, state=AlertState.RESOLVED, since=since + timedelta(minutes=50))
            book.record(done, AlertState.FIRING)


def bench_alerts(url: str | None, work: Path, firing: int, history: int, runs: int) -> dict:
    sites = [f"s{n:03d}" for n in range(50)]
    work.mkdir(parents=True, exist_ok=True)
    config = chain_config(work / "alerts.toml", url, sites)
    runtime = Runtime.open(config, data_dir=work / "alerts")
    try:
        fill_alerts(runtime, firing, history, sites)
        client = signed_in(runtime)
        unchanged = server_ms(client, "/", runs)
        poll = server_ms(client, "/?part=list", runs)
        fresh = []
        book = AlertBook(runtime.site_store, sites[0])
        for n in range(runs):  # a transition before each request: the book is read again
            book.record_fault(None, f"benchmark {n}")
            got = client.get("/?part=list")
            fresh.append(float(got.headers["server-timing"].split("dur=")[1]))
        shown = client.get("/").text.count('class="alert ')
        cold = []
        for _ in range(runs):  # as after a restart: nothing kept, the whole book read
            _CURRENT.clear()
            got = client.get("/?part=list")
            cold.append(float(got.headers["server-timing"].split("dur=")[1]))
        return {
            "alerts firing": firing,
            "history": history,
            "shown on the first page": shown,
            "page, book unchanged": unchanged,
            "poll, book unchanged": poll,
            "poll, right after a change": {
                "median_ms": statistics.median(fresh),
                "max_ms": max(fresh),
                "runs": runs,
            },
            "first view after a start (whole book read)": {
                "median_ms": statistics.median(cold),
                "max_ms": max(cold),
                "runs": runs,
            },
        }
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=int, default=100_000, help="raw ratings (100k)")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per page")
    parser.add_argument("--firing", type=int, default=1000)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/console.json")
    args = parser.parse_args()
    say = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr)  # noqa: E731
    work = Path(tempfile.mkdtemp(prefix="sc-consolebench-"))
    bin_dir = find_bin()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed: run .ci/install-postgresql")
    say("starting a throw-away PostgreSQL (fsync on)")
    server = start_server(bin_dir, durable=True, settings=SETTINGS)
    try:
        with fresh_database(server) as alerts_url:
            say("alerts page: data folder")
            alerts = {"data folder": bench_alerts(None, work / "folder", args.firing,
                                                  args.history, args.runs)}  # fmt: skip
            say("alerts page: PostgreSQL")
            with open_store(alerts_url, zone="UTC"):
                pass
            alerts["PostgreSQL"] = bench_alerts(
                alerts_url, work / "pg", args.firing, args.history, args.runs
            )
        with fresh_database(server) as url:
            reports = bench_reports(url, work / "reports", args.raw, args.runs, say)
    finally:
        remove_server(server)
        shutil.rmtree(work, ignore_errors=True)
    facts = machine_facts(Path(tempfile.gettempdir()), postgresql=str(bin_dir))
    result = {"reports": reports, "alerts": alerts, "machine": facts}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str))
    chain = reports["chain"]
    print(f"Chain year: {chain['ratings_counted']:,} ratings in the rollups; rows {chain['rows']}")
    print()
    print("| report page (PostgreSQL), server time | median ms | max ms | runs | page KB |")
    print("|---|---:|---:|---:|---:|")
    for name, row in reports["pages"].items():
        print(f"| {name} | {row['median_ms']:.0f} | {row['max_ms']:.0f} | {row['runs']} |"
              f" {row['bytes'] / 1024:.0f} |")  # fmt: skip
    for name, row in reports["build_report_only"].items():
        print(
            f"| reference: build_report only, {name} | {row['median_ms']:.0f} | | {row['runs']} | |"
        )
    print()
    print("| alerts page, 1,000 firing, server time | data folder median / max ms |"
          " PostgreSQL median / max ms |")  # fmt: skip
    print("|---|---:|---:|")
    for name in (
        "page, book unchanged",
        "poll, book unchanged",
        "poll, right after a change",
        "first view after a start (whole book read)",
    ):
        cells = [f"{alerts[e][name]['median_ms']:.1f} / {alerts[e][name]['max_ms']:.1f}"
                 for e in ("data folder", "PostgreSQL")]  # fmt: skip
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print()
    print(f"machine: {json.dumps(facts)}")
    print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
