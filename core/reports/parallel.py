"""Scan the partitions a report has no summary for, on every core.

The first report over a long history (after an import, a migration, or after
``cache/`` was deleted) must scan every partition: about 2.6 s per million
ratings on one core, most of it C-level loops that hold the interpreter lock,
so threads do not help. Partitions are independent, so the scan is split
across processes: worker processes take partitions from the oldest end, this
process takes them from the newest end (a pending job it can still cancel is
one it does itself), and they meet in the middle whatever the sizes.

Workers are *forked*: they start in milliseconds with everything already
imported, which is what makes a one-second job worth splitting. Forking is
only safe in a process with a single thread, so it is used only then, and only
on Linux; anywhere else (the kiosk, with its worker threads; macOS; Windows)
the scan runs in this process, exactly as before. Anything a worker cannot
vouch for — a damaged partition, a crashed worker — is scanned again here, so
errors are raised by the same code, with the same messages, as a serial scan.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import ServiceCycleError
from .scan import Fields, Summary, summarise
from .summary_cache import Key, key_of

log = logging.getLogger(__name__)

#: Below this many bytes to scan, starting a worker costs more than it saves.
MIN_PARALLEL_BYTES = 16 * 1024 * 1024

#: Parsed line remainders, kept by a worker process between its partitions.
_worker_memo: dict[Any, Fields] = {}


@dataclass(frozen=True)
class Scanned:
    """One partition's summary, and the file's identity if it held still while read."""

    summary: Summary
    key: Key | None  # None: the file changed while it was read (do not cache)


def scan_file(path: Path, zone: ZoneInfo, memo: dict[Any, Fields]) -> Scanned:
    """Read one partition and summarise it, noting whether it changed under us."""
    with open(path, "rb") as handle:
        before = os.fstat(handle.fileno())
        data = handle.read()
        after = os.fstat(handle.fileno())
    summary = summarise(path, data, zone, (), memo)
    unchanged = key_of(before) == key_of(after) and len(data) == before.st_size
    return Scanned(summary, key_of(after) if unchanged else None)


def cpu_count() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether worker processes may be forked from this one right now."""
    if not sys.platform.startswith("linux"):
        return False
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return False
    return _threads() == 1


def _threads() -> int:
    """Every OS thread of this process, not only Python's (a BLAS pool counts too)."""
    try:
        for _ in range(10):
            count = len(os.listdir("/proc/self/task"))
            if count <= threading.active_count():
                return count
            # a thread just joined (a finished progress bar, a closed pool) may still be
            # exiting for a moment after ``join()`` returned: give it a few milliseconds
            time.sleep(0.002)
        return count
    except OSError:  # pragma: no cover - /proc not mounted
        return threading.active_count()


def workers_for(paths: Sequence[Path], jobs: int | None) -> int:
    """How many worker processes to start besides this one (0: scan here)."""
    wanted = cpu_count() if jobs is None else jobs
    if wanted <= 1 or len(paths) < 2 or not can_fork():
        return 0
    if jobs is None and _size(paths) < MIN_PARALLEL_BYTES:
        return 0
    return min(wanted - 1, len(paths) - 1)


def _size(paths: Sequence[Path]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):  # it vanished: the scan itself will say so
            total += path.stat().st_size
    return total


def scan_files(
    paths: Sequence[Path],
    zone: ZoneInfo,
    memo: dict[Any, Fields],
    *,
    jobs: int | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[Scanned]:
    """Summarise every partition in ``paths`` (results in the same order).

    ``jobs`` is how many processes may scan at once (None: one per core when
    the work is large enough; 1: only this one). ``on_done`` is called in this
    process once per finished partition, for a progress bar.
    """
    tick = on_done or (lambda: None)
    workers = workers_for(paths, jobs)
    if workers:
        try:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        except (OSError, ValueError) as exc:  # pragma: no cover - out of processes
            log.info("report: scanning in one process (%s)", exc)
        else:
            return _shared(pool, paths, zone, memo, tick)
    results = []
    for path in paths:
        results.append(scan_file(path, zone, memo))
        tick()
    return results


def _shared(
    pool: ProcessPoolExecutor,
    paths: Sequence[Path],
    zone: ZoneInfo,
    memo: dict[Any, Fields],
    tick: Callable[[], None],
) -> list[Scanned]:
    """Workers from the oldest end, this process from the newest; meet in the middle."""
    results: list[Scanned | None] = [None] * len(paths)
    try:
        futures: list[Future[Scanned | None]] = [pool.submit(_work, path, zone) for path in paths]
        mine = len(paths)
        while mine > 0 and futures[mine - 1].cancel():
            mine -= 1
            results[mine] = scan_file(paths[mine], zone, memo)
            tick()
        for index in range(mine):
            try:
                results[index] = futures[index].result()
            except BrokenProcessPool:  # a worker died (out of memory?): do it here
                results[index] = None
            if results[index] is None:
                results[index] = scan_file(paths[index], zone, memo)
            tick()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results  # type: ignore[return-value]


def _work(path: Path, zone: ZoneInfo) -> Scanned | None:
    """In a worker: scan one partition; None when this process should redo it."""
    try:
        return scan_file(path, zone, _worker_memo)
    except ServiceCycleError:
        return None  # damage: rescanned by the caller, which raises the store's own error
