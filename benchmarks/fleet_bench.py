"""Benchmark the fleet: tap -> alert at the hub, and hub ingest from 1,500 kiosks.

A real hub process (``servicecycle hub serve``) on loopback, on the data folder
engine and on PostgreSQL (a throw-away server started as in tests/pg.py, fsync on).

1. **Tap -> alert notified**: kiosks with their own data folders and the real
   shipper thread at its default interval (1 s); each sample is one bad tap,
   timed from the tap's durable return to the webhook POST arriving at a
   receiver in this process (a site rule, group_wait 0). p50/p95/p99/max.
2. **Ingest, 1,500 kiosks**: enrolled kiosks sending as kiosks do (the shipper's
   own HTTP call, ``wire.post``):
   - *sustained*: each kiosk sends a tap batch (1 rating) and heartbeats, at a
     total of ``--rate`` requests/s for ``--seconds``: request p50/p99, errors;
   - *reconnect*: all kiosks come back at once, each with an hour's backlog
     (``--backlog`` ratings), sent by ``--clients`` concurrent connections in
     batches of 500 (the shipper's): drain time, request p50/p99, 429/5xx count.
   Reference in the same run: the same batches written straight into the same
   engine with no HTTP (``Ingest.take`` in this process).

Results: a Markdown table on stdout and ``benchmarks/results/fleet.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from machine import machine_facts

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from servicecycle.core import Runtime  # noqa: E402
from servicecycle.core.fleet import KioskRegistry, Shipper, join  # noqa: E402
from servicecycle.core.fleet.ingest import Ingest  # noqa: E402
from servicecycle.core.fleet.shipper import BACKOFF_CAP, BACKOFF_FIRST  # noqa: E402
from servicecycle.core.fleet.wire import SHIP_PATH, Unreachable, post  # noqa: E402
from servicecycle.core.store.engines import open_store  # noqa: E402
from tests.fleet import free_port  # noqa: E402
from tests.pg import find_bin, fresh_database, remove_server, start_server  # noqa: E402

CLI = str(Path(sys.executable).with_name("servicecycle"))
VERBOSE = False
MOMENTS = [
    "check-in-wait",
    "front-desk-welcome",
    "room-housekeeping",
    "restaurant-bar",
    "bill-accuracy",
]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the hub -------------------------------------------------------------------------------


def write_config(path: Path, sites: list[str], hook: str | None, store: str | None) -> None:
    lines = ["[hub]", 'public_url = "https://feedback.example.com"', "rate_limit = 100000", ""]
    lines += ["[[hub.regions]]", 'id = "bench"']
    for site in sites:
        lines += ["", "[[hub.regions.sites]]", f'id = "{site}"', "opening_hours = {}"]
    lines += [
        "",
        "[[rules.add]]",
        'id = "bench.bad-moment"',
        'kind = "single"',
        'cycle = "hotel-guest"',
        "when = { score = { le = 2 } }",
        'key_by = ["site", "moment"]',
        'keep_firing_for = "10m"',
        'summary = "a bad {moment} at {site}"',
        'response = "look"',
    ]
    if store:
        lines += ["", "[store]", f'url = "{store}"']
    if hook:
        lines += [
            "",
            "[notify.receivers.hook]",
            'type = "webhook"',
            f'url = "{hook}"',
            "",
            "[[notify.routes]]",
            'receiver = "hook"',
            'group_wait = "0s"',
            'group_by = ["alertname", "site", "moment"]',
            'matchers = { alertname = "bench.bad-moment" }',
        ]
    path.write_text("\n".join(lines) + "\n")


class Hub:
    def __init__(self, config: Path, data: Path) -> None:
        self.config, self.data, self.port = config, data, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                CLI,
                "--config",
                str(self.config),
                "--data-dir",
                str(self.data),
                "hub",
                "serve",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.data.parent / "hub.log").open("ab"),
        )
        for _ in range(600):
            try:
                with urllib.request.urlopen(self.url + "/api/v1/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the hub did not start; see hub.log")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)


def enrol(data: Path, pairs: list[tuple[str, str]]) -> list[str]:
    """Codes for ``(site, kiosk)`` pairs, made as `hub enroll` makes them."""
    registry = KioskRegistry(data / "hub")
    try:
        return [registry.new_code(site, kiosk, 3600) for site, kiosk in pairs]
    finally:
        registry.close()


# -- 1. tap -> alert ------------------------------------------------------------------------


class Hook(BaseHTTPRequestHandler):
    arrived: ClassVar[dict[tuple[str, str], float]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        now = time.perf_counter()
        for alert in body.get("alerts", []):
            if alert.get("status") == "firing":
                labels = alert.get("labels", {})
                Hook.arrived.setdefault((labels.get("site"), labels.get("moment")), now)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def tap_to_alert(root: Path, store: str | None, sites: int, say) -> dict:
    Hook.arrived.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    names = [f"site-{i:02d}" for i in range(sites)]
    config = root / "alert-hub.toml"
    write_config(config, names, f"http://127.0.0.1:{server.server_address[1]}/", store)
    hub = Hub(config, root / "alert-hub")
    hub.data.mkdir()
    codes = enrol(hub.data, [(s, "lobby") for s in names])
    hub.start()
    kiosks = []
    try:
        for site, code in zip(names, codes, strict=True):
            folder = root / f"k-{site}"
            kiosk_config = root / f"k-{site}.toml"
            kiosk_config.write_text(f'[site]\nid = "{site}"\n[kiosk]\nid = "lobby"\n')
            runtime = Runtime.open(kiosk_config, data_dir=folder)
            join(folder, hub.url, code, site=site, kiosk="lobby")
            shipper = Shipper(runtime.site_store.changes, folder)  # default interval, batch
            shipper.start()
            kiosks.append((site, runtime, shipper))
        time.sleep(2)
        latencies = []
        samples = [(k, m) for m in MOMENTS for k in kiosks]
        random.Random(7).shuffle(samples)
        for n, ((site, runtime, _), moment) in enumerate(samples, 1):
            runtime.recorder.record(
                site=site,
                kiosk="lobby",
                cycle="hotel-guest",
                moment=moment,
                score=1,
                language="en",
            )
            tapped = time.perf_counter()
            deadline = tapped + 30
            while (site, moment) not in Hook.arrived and time.perf_counter() < deadline:
                time.sleep(0.005)
            arrived = Hook.arrived.get((site, moment))
            latencies.append((arrived - tapped) if arrived else float("inf"))
            if VERBOSE:
                say(f"    {site} {moment}: {latencies[-1]:.3f} s")
            if n % 10 == 0:
                say(f"  tap -> alert: {n}/{len(samples)} samples")
            time.sleep(random.uniform(0.1, 1.0))
    finally:
        for _, runtime, shipper in kiosks:
            shipper.stop()
            runtime.close()
        hub.stop()
        server.shutdown()
    return {
        "samples": len(latencies),
        "p50_s": round(pct(latencies, 50), 3),
        "p95_s": round(pct(latencies, 95), 3),
        "p99_s": round(pct(latencies, 99), 3),
        "max_s": round(max(latencies), 3),
        "missed": sum(1 for x in latencies if x == float("inf")),
    }


# -- 2. ingest ------------------------------------------------------------------------------


def rating_record(site: str, kiosk: str, at: datetime, rng: random.Random) -> dict:
    from servicecycle.core.rating import format_time, new_rating_id

    return {
        "id": new_rating_id(at),
        "at": format_time(at),
        "site": site,
        "kiosk": kiosk,
        "cycle": "hotel-guest",
        "stage": "check-in",
        "moment": "check-in-wait",
        "score": rng.randint(1, 5),
        "scale": 5,
        "language": "en",
        "reasons": [],
        "flags": [],
    }


def send(url: str, credential: str, changes: list[dict]) -> tuple[float, int, float]:
    """Round trip (s), status, and the hub's own time (s, from its Server-Timing header)."""
    started = time.perf_counter()
    try:
        reply = post(
            url, {"about": {"backlog": 0}, "changes": changes}, credential=credential, timeout=60
        )
        status, server = reply.status, (reply.server_ms or 0.0) / 1000
    except Unreachable:
        status, server = 0, 0.0
    return time.perf_counter() - started, status, server


def ingest(
    root: Path,
    store: str | None,
    kiosks: int,
    backlog: int,
    rate: float,
    seconds: float,
    clients: int,
    say,
) -> dict:
    sites = [f"hotel-{i:03d}" for i in range(max(1, kiosks // 5))]
    pairs = [(sites[i % len(sites)], f"kiosk-{i // len(sites)}") for i in range(kiosks)]
    config = root / "ingest-hub.toml"
    write_config(config, sites, None, store)
    hub = Hub(config, root / "ingest-hub")
    hub.data.mkdir()
    codes = enrol(hub.data, pairs)
    registry = KioskRegistry(hub.data / "hub")
    credentials = [registry.join(code)[0] for code in codes]
    registry.close()
    hub.start()
    url = hub.url + SHIP_PATH
    rng = random.Random(3)
    result: dict = {"kiosks": kiosks, "sites": len(sites)}
    try:
        # Sustained: tap batches and heartbeats at `rate` requests/s.
        say(f"  sustained: {rate:g} requests/s from {kiosks} kiosks for {seconds:g} s")
        latencies, statuses, servers = [], [], []
        lock = threading.Lock()
        stop_at = time.perf_counter() + seconds

        def sustained(worker: int) -> None:
            n = worker
            interval = clients / rate
            next_at = time.perf_counter()
            while time.perf_counter() < stop_at:
                i = n % kiosks
                site, kiosk = pairs[i]
                tap = rng.random() < 0.25  # a quarter of requests carry a tap
                changes = (
                    [{"kind": "new", "rating": rating_record(site, kiosk, datetime.now(UTC), rng)}]
                    if tap
                    else []
                )
                took, status, server = send(url, credentials[i], changes)
                with lock:
                    latencies.append(took)
                    statuses.append(status)
                    servers.append(server)
                n += clients
                next_at += interval
                time.sleep(max(0.0, next_at - time.perf_counter()))

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(sustained, range(clients)))
        result["sustained"] = {
            "requests": len(latencies),
            "per_s": round(len(latencies) / seconds, 1),
            "p50_ms": round(pct(latencies, 50) * 1000, 1),
            "p99_ms": round(pct(latencies, 99) * 1000, 1),
            "hub_p50_ms": round(pct(servers, 50) * 1000, 1),
            "hub_p99_ms": round(pct(servers, 99) * 1000, 1),
            "errors": sum(1 for s in statuses if s != 200),
        }
        # Reconnect: every kiosk at once, each with an hour's backlog.
        say(f"  reconnect: {kiosks} kiosks x {backlog} ratings, {clients} connections")
        start = datetime.now(UTC) - timedelta(hours=1)
        batches = []
        for i, (site, kiosk) in enumerate(pairs):
            records = [
                {
                    "kind": "new",
                    "rating": rating_record(
                        site, kiosk, start + timedelta(seconds=3600 * j / backlog), rng
                    ),
                }
                for j in range(backlog)
            ]
            for k in range(0, len(records), 500):
                batches.append((credentials[i], records[k : k + 500]))
        result["reconnect"] = reconnect(url, batches, clients, jitter=0.0, say=say)
        say(f"  reconnect with the shipper's jitter: first tries spread over {BACKOFF_CAP:g} s")
        result["reconnect_jittered"] = reconnect(
            url, batches, max(64, clients), jitter=BACKOFF_CAP, say=say, fresh=True
        )
    finally:
        hub.stop()
    # Reference: the same kind of batches straight into the engine, no HTTP.
    target = store or str(root / "reference")
    site_store = open_store(target)
    try:
        reference = Ingest(site_store, Runtime.open().catalogue)
        sample = batches[: max(1, len(batches) // 5)]
        fresh = []
        for _credential, changes in sample:
            fresh.append(
                (
                    [{"kind": "new", "rating": {**c["rating"], "id": _new_id(c)}} for c in changes],
                    changes[0]["rating"],
                )
            )
        began = time.perf_counter()
        count = 0
        for changes, first in fresh:
            reference.take(first["site"], first["kiosk"], changes)
            count += len(changes)
        took = time.perf_counter() - began
        result["reference_direct"] = {"ratings": count, "ratings_per_s": round(count / took)}
    finally:
        site_store.close()
    return result


def reconnect(
    url: str,
    batches: list[tuple[str, list[dict]]],
    clients: int,
    *,
    jitter: float,
    say,
    fresh: bool = False,
) -> dict:
    """Every kiosk ships its backlog; its first try after ``uniform(0, jitter)`` seconds
    (what the shipper's full-jitter backoff gives after a long cut), retrying as it does."""
    rng = random.Random(11)
    if fresh:  # new ids: a second drain of the same records would only count duplicates
        batches = [
            (
                credential,
                [{"kind": "new", "rating": {**c["rating"], "id": _new_id(c)}} for c in changes],
            )
            for credential, changes in batches
        ]
    starts = [rng.uniform(0, jitter) for _ in batches]
    latencies: list[float] = []
    statuses: list[int] = []
    servers: list[float] = []
    lock = threading.Lock()
    began = time.perf_counter()

    def drain(item: tuple[float, tuple[str, list[dict]]]) -> None:
        start, (credential, changes) = item
        time.sleep(max(0.0, began + start - time.perf_counter()))
        delay = BACKOFF_FIRST
        while True:
            took, status, server = send(url, credential, changes)
            with lock:
                latencies.append(took)
                statuses.append(status)
                servers.append(server)
            if status == 200:
                return
            time.sleep(rng.uniform(BACKOFF_FIRST, delay))
            delay = min(BACKOFF_CAP, delay * 2)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(drain, sorted(zip(starts, batches, strict=True), key=lambda x: x[0])))
    drained = time.perf_counter() - began
    ratings = sum(len(c) for _, c in batches)
    _ = say
    return {
        "ratings": ratings,
        "connections": clients,
        "first_tries_over_s": jitter,
        "requests": len(latencies),
        "drain_s": round(drained, 1),
        "ratings_per_s": round(ratings / drained),
        "p50_ms": round(pct(latencies, 50) * 1000, 1),
        "p99_ms": round(pct(latencies, 99) * 1000, 1),
        "hub_p50_ms": round(pct(servers, 50) * 1000, 1),
        "hub_p99_ms": round(pct(servers, 99) * 1000, 1),
        "refused_or_failed": sum(1 for s in statuses if s != 200),
    }


def _new_id(change: dict) -> str:
    from servicecycle.core.rating import new_rating_id, parse_time

    return new_rating_id(parse_time(change["rating"]["at"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default="folder,postgresql")
    parser.add_argument("--alert-sites", type=int, default=20)
    parser.add_argument("--kiosks", type=int, default=1500)
    parser.add_argument("--backlog", type=int, default=60, help="ratings per kiosk after an hour")
    parser.add_argument("--rate", type=float, default=100.0, help="sustained requests/s")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="a smoke test: small numbers")
    parser.add_argument("--verbose", action="store_true", help="print every tap -> alert sample")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "fleet.json")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    if args.quick:
        args.kiosks, args.backlog, args.seconds = 100, 20, 5
        args.alert_sites = min(args.alert_sites, 4)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    results: dict = {
        "machine": machine_facts(Path(tempfile.gettempdir())),
        "args": vars(args) | {"json": str(args.json)},
    }
    for engine in args.engines.split(","):
        root = Path(tempfile.mkdtemp(prefix=f"fleet-{engine}-"))
        server = None
        try:
            if engine == "postgresql":
                bin_dir = find_bin()
                if bin_dir is None:
                    say("PostgreSQL is not installed: skipped")
                    continue
                server = start_server(bin_dir, durable=True)
            say(f"{engine}: tap -> alert")
            with fresh_database(server) if server else _nothing() as url:
                alert = tap_to_alert(root, url, args.alert_sites, say)
            say(f"{engine}: ingest")
            with fresh_database(server) if server else _nothing() as url:
                taken = ingest(
                    root, url, args.kiosks, args.backlog, args.rate, args.seconds, args.clients, say
                )
            results[engine] = {"tap_to_alert": alert, "ingest": taken}
        finally:
            if server is not None:
                remove_server(server)
            shutil.rmtree(root, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print_table(results)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def print_table(results: dict) -> None:
    print(
        "| engine | tap→alert p50 / p99 / max | sustained req/s, round trip p50 / p99 "
        "(hub's own p99), errors | reconnect: ratings, drain, round trip p50 / p99 "
        "(hub's own p99), refused | direct ingest (no HTTP) |"
    )
    print("|---|---|---|---|---|")
    for engine in ("folder", "postgresql"):
        if engine not in results:
            continue
        a = results[engine]["tap_to_alert"]
        s = results[engine]["ingest"]["sustained"]
        d = results[engine]["ingest"]["reference_direct"]
        for name in ("reconnect_jittered", "reconnect"):
            r = results[engine]["ingest"][name]
            how = (
                f"first tries over {r['first_tries_over_s']:g} s"
                if r["first_tries_over_s"]
                else f"all at once, {r['connections']} connections"
            )
            print(
                f"| {engine} | {a['p50_s']} / {a['p99_s']} / {a['max_s']} s ({a['samples']} taps, "
                f"{a['missed']} missed) | {s['per_s']}/s, {s['p50_ms']} / {s['p99_ms']} ms "
                f"({s['hub_p99_ms']} ms), {s['errors']} | {how}: {r['ratings']:,} in "
                f"{r['drain_s']} s ({r['ratings_per_s']:,}/s), {r['p50_ms']} / {r['p99_ms']} ms "
                f"({r['hub_p99_ms']} ms), "
                f"{r['refused_or_failed']} | {d['ratings_per_s']:,}/s |"
            )
    print()
    print("machine:", json.dumps(results["machine"]))
    print("command:", " ".join(sys.argv))
    _ = statistics


if __name__ == "__main__":
    main()
