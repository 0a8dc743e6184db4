"""Benchmark the kiosk with a year of history (1M ratings) in its data folder.

The kiosk promises that a customer's tap feels instant and that the terminal
comes up fast after a reboot, however much history the site has. Measured:

* tap latency, in-process with Textual's Pilot (headless) on the real app, with
  the alerting worker running: from a face key to the next screen's first
  frame. Alternating "1" and "5" (both ask a follow-up question), the skip key
  is pressed as soon as the follow-up screen's first frame is out, so
  "press → thank you" is the two transitions back to back with no customer
  think time. A "3" (no follow-up) gives the direct press → thank-you figure.
  A frame counts as shown when Textual hands the screen's compositor update to
  the display; it is also encoded to terminal bytes as a real terminal would
  receive (headless Textual would skip that work). Between customers the kiosk
  resets to the attract screen as it does after the thank-you timeout;
* cold start: fresh interpreter on a pseudo-terminal, from exec of
  ``python -m servicecycle.cli.kiosk ... kiosk`` (the `servicecycle kiosk`
  command) to the attract screen's question appearing on the terminal; median
  of 5 runs, page cache warm;
* peak memory (VmHWM) of that kiosk process after startup, 5 taps and the staff
  menu (which loads today's figures) — the whole kiosk, store and alerting included.

Targets: p95 press → thank you < 50 ms, cold start < 1.5 s, RSS < 150 MB.
Results go to stdout (Markdown) and to ``benchmarks/results/kiosk.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import pty
import random
import select
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import textual
from machine import machine_facts
from textual import events

from servicecycle.core import KioskSession, PluginHost, Runtime, Store
from servicecycle.core.rating import format_time, new_rating_id, utc_now
from servicecycle.kiosk import KioskApp
from servicecycle.kiosk.screens import AttractScreen, ReasonsScreen, ThanksScreen

RESULTS = Path(__file__).resolve().parent / "results" / "kiosk.json"
HISTORY = timedelta(days=365)
CHUNK = 50_000
CYCLE = "hotel-guest"
CONFIG = """\
[site]
id = "bench-hotel"
name = "Benchmark Hotel"
timezone = "Asia/Kuala_Lumpur"

[kiosk]
id = "lobby-1"
cycle = "hotel-guest"
moment = "check-in-wait"
"""
COLD_RUNS = 5
#: Seconds the kiosk idles on the attract screen between two customers (seconds in life).
IDLE = 0.25


@dataclass
class Latency:
    what: str
    samples: int
    p50_ms: float
    p95_ms: float
    max_ms: float


# -- a year of history -------------------------------------------------------------------------


def prefill(data_dir: Path, size: int, rng: random.Random, host: PluginHost) -> float:
    """Fill a new store with ``size`` ratings spread over the year before now; seconds taken."""
    runtime = Runtime.open(write_config(data_dir.parent), data_dir=data_dir, plugins=host)
    moments = [(stage.id, moment.id) for stage, moment in runtime.catalogue.cycles[CYCLE].moments()]
    runtime.close()
    started = time.perf_counter()
    end = utc_now()
    start, step = end - HISTORY, HISTORY / size
    with Store(data_dir) as store:
        table = store.table("ratings")
        for first in range(0, size, CHUNK):
            chunk = []
            for i in range(first, min(first + CHUNK, size)):
                at = start + step * (i + rng.random())
                stage, moment = rng.choice(moments)
                score = rng.choices((1, 2, 3, 4, 5), (5, 8, 17, 35, 35))[0]
                chunk.append(
                    {
                        "id": new_rating_id(at),
                        "at": format_time(at),
                        "site": "bench-hotel",
                        "kiosk": "lobby-1",
                        "cycle": CYCLE,
                        "stage": stage,
                        "moment": moment,
                        "score": score,
                        "scale": 5,
                        "language": "en",
                        "reasons": ["lost-time"] if score <= 2 else [],
                        "flags": [],
                    }
                )
            table.insert_multiple(chunk)
            print(f"  pre-filled {min(first + CHUNK, size):,} / {size:,}", file=sys.stderr)
    return time.perf_counter() - started


def write_config(folder: Path) -> Path:
    path = folder / "site.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


# -- tap latency, in process -------------------------------------------------------------------


class SteppingClock:
    """Each customer comes a minute after the last, so no press counts as a repeat."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Frames:
    """Notes when a screen's frame is handed to the display (and encodes it, as a real
    terminal would be sent it); a waiter is woken by that frame, not by polling."""

    def __init__(self, app: KioskApp) -> None:
        self._waiting: tuple[type, asyncio.Future[float]] | None = None
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or not hasattr(renderable, "render_segments"):
                return
            renderable.render_segments(app.console)
            at = time.perf_counter()
            if self._waiting is not None and isinstance(screen, self._waiting[0]):
                future = self._waiting[1]
                self._waiting = None
                if not future.done():
                    future.set_result(at)

        app._display = display  # type: ignore[method-assign]

    def expect(self, kind: type) -> asyncio.Future[float]:
        """A future set to the time of the next frame of a ``kind`` screen."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting = (kind, future)
        return future


async def measure_taps(data_dir: Path, taps: int, host: PluginHost) -> list[Latency]:
    runtime = Runtime.open(write_config(data_dir.parent), data_dir=data_dir, plugins=host)
    clock = SteppingClock()
    session = KioskSession(runtime, clock=clock)
    app = KioskApp(session)
    results: dict[str, list[float]] = {"tap": [], "skip": [], "total": [], "direct": []}
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            while not (app.store_opened and app.alerting is not None):
                await pilot.pause(0.05)
            frames = Frames(app)
            await pilot.pause(1.5)  # let the alerting worker's first evaluation finish
            await asyncio.sleep(IDLE)

            async def press(key: str, kind: type) -> tuple[float, float]:
                frame = frames.expect(kind)
                started = time.perf_counter()
                app.post_message(events.Key(key, key))
                return started, await asyncio.wait_for(frame, timeout=10)

            for i in range(taps + taps // 4):
                clock.now += 60
                direct = i >= taps
                key = "3" if direct else ("1" if i % 2 == 0 else "5")
                if direct:
                    t0, t1 = await press(key, ThanksScreen)
                    results["direct"].append(t1 - t0)
                else:
                    t0, t1 = await press(key, ReasonsScreen)
                    t2, t3 = await press("0", ThanksScreen)
                    results["tap"].append(t1 - t0)
                    results["skip"].append(t3 - t2)
                    results["total"].append(t3 - t0)
                await app.reset()  # as the thank-you timeout does
                while not isinstance(app.screen, AttractScreen):
                    await asyncio.sleep(0.01)
                await pilot.pause()
                await asyncio.sleep(IDLE)  # the kiosk idles between customers (and collects)
    finally:
        runtime.close()
    names = {
        "total": 'press "1"/"5" → thank-you shown (skip pressed at once)',
        "tap": 'press "1"/"5" → reason screen shown (the durable tap)',
        "skip": "press skip → thank-you shown (QR code included)",
        "direct": 'press "3" → thank-you shown (no follow-up)',
    }
    return [latency(names[key], results[key]) for key in ("total", "tap", "skip", "direct")]


def latency(what: str, samples: list[float]) -> Latency:
    ordered = sorted(samples)
    rank = max(0, math.ceil(0.95 * len(ordered)) - 1)
    return Latency(
        what,
        len(ordered),
        statistics.median(ordered) * 1000,
        ordered[rank] * 1000,
        ordered[-1] * 1000,
    )


# -- a real kiosk process on a terminal -------------------------------------------------------


def kiosk_argv(folder: Path, data_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "servicecycle.cli.kiosk",
        "--config",
        str(folder / "site.toml"),
        "--data-dir",
        str(data_dir),
        "kiosk",
        "--log-file",
        str(folder / "kiosk.log"),
    ]


class Terminal:
    def __init__(self, argv: list[str]) -> None:
        env = {**os.environ, "TERM": "xterm-256color"}
        self.started = time.perf_counter()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            import fcntl
            import termios

            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            os.execvpe(argv[0], argv, env)
        self.output = b""

    def wait_for(self, marker: bytes, timeout: float = 30) -> float:
        deadline = time.perf_counter() + timeout
        while marker not in self.output:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{marker!r} not seen; got {self.output[-300:]!r}")
            self.read(0.005)
        return time.perf_counter()

    def read(self, seconds: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], seconds)
        if ready:
            with contextlib.suppress(OSError):  # the kiosk has exited
                self.output += os.read(self.fd, 1 << 16)

    def send(self, data: bytes, settle: float) -> None:
        os.write(self.fd, data)
        end = time.perf_counter() + settle
        while time.perf_counter() < end:
            self.read(0.02)

    def peak_rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as status:
            line = next(x for x in status if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.perf_counter() + 15
        while time.perf_counter() < deadline:
            self.read(0.02)
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def question(host: PluginHost, data_dir: Path) -> bytes:
    runtime = Runtime.open(write_config(data_dir.parent), data_dir=data_dir, plugins=host)
    try:
        return runtime.kiosk_moment()[2].question["en"].encode()
    finally:
        runtime.close()


def cold_starts(folder: Path, data_dir: Path, marker: bytes) -> list[float]:
    times = []
    for _ in range(COLD_RUNS):
        term = Terminal(kiosk_argv(folder, data_dir))
        try:
            times.append(term.wait_for(marker) - term.started)
        finally:
            term.stop()
    return times


def kiosk_rss(folder: Path, data_dir: Path, marker: bytes) -> float:
    term = Terminal(kiosk_argv(folder, data_dir))
    try:
        term.wait_for(marker)
        for _ in range(5):
            term.send(b"3", settle=0.3)
        term.send(b"\x0b\x0b\x0b", settle=0.5)  # the staff chord
        term.send(b"0000\r", settle=0.3)
        term.wait_for(b"Staff menu")
        term.send(b"", settle=1.5)  # today's figures and alerts load
        return term.peak_rss_mb()
    finally:
        term.stop()


# -- reporting ---------------------------------------------------------------------------------


def facts(folder: Path, args: argparse.Namespace, stored: int, fill_s: float) -> dict[str, Any]:
    return {
        **machine_facts(folder, textual=textual.__version__),
        "stored ratings": f"{stored:,} over the past year (pre-fill took {fill_s:.0f} s)",
        "taps timed": f"{args.taps} follow-up taps + {args.taps // 4} direct",
    }


def markdown(rows: list[Latency], cold: list[float], rss: float, info: dict[str, Any]) -> str:
    lines = [
        "| measurement | samples | p50 | p95 | max | target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        target = "p95 < 50 ms" if "thank-you shown (skip" in row.what else ""
        lines.append(
            f"| {row.what} | {row.samples} | {row.p50_ms:.1f} ms | {row.p95_ms:.1f} ms "
            f"| {row.max_ms:.1f} ms | {target} |"
        )
    lines.append(
        f"| cold start → attract screen on the terminal | {len(cold)} "
        f"| {statistics.median(cold):.2f} s | | {max(cold):.2f} s | median < 1.5 s |"
    )
    lines.append(f"| kiosk peak RSS (VmHWM) | 1 | {rss:.1f} MB | | | < 150 MB |")
    lines += ["", *(f"- {key}: {value}" for key, value in info.items())]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000, help="stored history (1M)")
    parser.add_argument("--taps", type=int, default=200, help="follow-up taps timed (200)")
    parser.add_argument("--dir", type=Path, help="where to make the temporary data folder")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="servicecycle-kiosk-bench-", dir=args.dir))
    data_dir = folder / "data"
    host = PluginHost.discover()
    try:
        print(f"pre-filling {args.ratings:,} ratings in {data_dir}", file=sys.stderr)
        fill_s = prefill(data_dir, args.ratings, random.Random(args.seed), host)
        marker = question(host, data_dir)
        print("cold starts", file=sys.stderr)
        cold = cold_starts(folder, data_dir, marker)
        print("peak memory", file=sys.stderr)
        rss = kiosk_rss(folder, data_dir, marker)
        print(f"timing {args.taps} taps", file=sys.stderr)
        gc.collect()
        rows = asyncio.run(measure_taps(data_dir, args.taps, host))
        info = facts(folder, args, args.ratings, fill_s)
        # the alerting worker summarises closed days for reports beside the taps
        summaries = len(list((data_dir / "cache").rglob("*.json")))
        info["closed days summarised in the background during the run"] = (
            f"{summaries} of 365 (one a second, while the taps were timed)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(markdown(rows, cold, rss, info))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "facts": info,
                "latency": [asdict(row) for row in rows],
                "cold_start_s": cold,
                "cold_start_median_s": statistics.median(cold),
                "peak_rss_mb": rss,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nresults written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
