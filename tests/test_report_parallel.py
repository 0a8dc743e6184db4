"""Scanning on every core gives exactly what one process gives, and falls back safely."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from servicecycle.core import StoreCorruption
from servicecycle.core.reports import parallel

from .test_report_support import ISTANBUL, rating, store_with, utc

START = utc(2026, 8, 1, 6)


@pytest.fixture
def store(catalogue, tmp_path):
    ratings = [
        rating(
            catalogue,
            START + timedelta(days=d, hours=h),
            1 + (d * 7 + h) % 5,
            language=("en", "tr")[h % 2],
            reasons=["lost-time"] if (d + h) % 4 == 0 and (d * 7 + h) % 5 < 4 else (),
        )
        for d in range(24)
        for h in range(0, 24, 3)
    ]
    with store_with(tmp_path / "data", ratings) as opened:
        yield opened


def _paths(store):
    return sorted((store.tables_dir / "ratings").glob("*.log"))


def _as_json(scanned):
    """Summaries compared as data (cells in any order), with whether each may be cached."""
    found = []
    for s in scanned:
        data = s.summary.to_json()
        data["cells"] = sorted(map(json.dumps, data["cells"]))
        found.append([data, s.key is not None])
    return found


#: Run in a fresh interpreter (one thread, as the CLI is): scan with two processes,
#: and record which process scanned each partition.
_CHILD = """
import json, os, sys
from pathlib import Path
from zoneinfo import ZoneInfo
from servicecycle.core.reports import parallel

pids = Path(sys.argv[1])
real = parallel.scan_file

def recording(path, zone, memo):
    with open(pids, "a") as out:
        out.write(f"{os.getpid()}\\n")
    return real(path, zone, memo)

parallel.scan_file = recording
paths = sorted(Path(sys.argv[2]).glob("*.log"))
workers = parallel.workers_for(paths, 2)
done = []
found = parallel.scan_files(
    paths, ZoneInfo("Europe/Istanbul"), {}, jobs=2, on_done=lambda: done.append(1)
)
print(json.dumps({
    "workers": workers,
    "ticks": len(done),
    "summaries": [[s.summary.to_json(), s.key is not None] for s in found],
}))
"""


def test_two_processes_give_the_same_summaries_as_one(store, tmp_path):
    paths = _paths(store)
    alone = parallel.scan_files(paths, ISTANBUL, {}, jobs=1)
    pids = tmp_path / "pids.txt"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(pids), str(paths[0].parent)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(child.stdout)
    assert result["workers"] == 1
    assert result["ticks"] == len(paths)
    for item in result["summaries"]:
        item[0]["cells"] = sorted(map(json.dumps, item[0]["cells"]))
    assert result["summaries"] == _as_json(alone)
    # the work really was shared: partitions were scanned by two processes
    assert len(set(pids.read_text().split())) == 2


def test_no_worker_is_forked_beside_another_thread(store):
    paths = _paths(store)
    assert parallel.workers_for(paths, 1) == 0
    assert parallel.workers_for(paths[:1], 4) == 0  # one partition: nothing to share
    assert parallel.workers_for(paths, None) == 0  # too little to read to be worth it
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not parallel.can_fork()
        assert parallel.workers_for(paths, 4) == 0
        # ... and the scan still runs, in this process
        assert len(parallel.scan_files(paths, ISTANBUL, {}, jobs=4)) == len(paths)
    finally:
        stop.set()
        other.join()


def test_damage_met_by_a_worker_is_raised_here_with_the_stores_message(store, tmp_path):
    paths = _paths(store)
    victim = paths[len(paths) // 3]  # scanned by the worker: it takes the oldest first
    data = victim.read_bytes()
    victim.write_bytes(data.replace(b'"score":', b'"score" :', 1))  # checksum now wrong
    script = (
        "import sys; from pathlib import Path; from zoneinfo import ZoneInfo\n"
        "from servicecycle.core.reports import parallel\n"
        "paths = sorted(Path(sys.argv[1]).glob('*.log'))\n"
        "parallel.scan_files(paths, ZoneInfo('UTC'), {}, jobs=2)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(victim.parent)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 1
    assert "StoreCorruption" in child.stderr and victim.name in child.stderr
    assert "checksum mismatch" in child.stderr
    with pytest.raises(StoreCorruption, match="checksum mismatch"):
        parallel.scan_files(paths, ISTANBUL, {}, jobs=1)


def test_a_file_that_grows_while_read_is_not_offered_for_caching(store, monkeypatch):
    path = _paths(store)[0]
    assert parallel.scan_file(path, ISTANBUL, {}).key is not None
    first_line = path.read_bytes().splitlines(keepends=True)[0]
    real_open = open

    class GrowsWhileRead:
        """The file handle, with a kiosk appending a rating right after our read."""

        def __init__(self, *args, **kwargs):
            self.handle = real_open(*args, **kwargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def fileno(self):
            return self.handle.fileno()

        def read(self):
            data = self.handle.read()
            with real_open(path, "ab") as out:
                out.write(first_line)
            return data

    monkeypatch.setattr(parallel, "open", GrowsWhileRead, raising=False)
    assert parallel.scan_file(path, ISTANBUL, {}).key is None
