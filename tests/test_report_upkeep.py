"""Closed days are summarised in the background, so reports over the history start warm."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from servicecycle.cli.main import State
from servicecycle.cli.store import store as store_cli
from servicecycle.core import AlertingWorker, PluginHost, Runtime, Store
from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from, upkeep
from servicecycle.core.reports.summary_cache import SummaryCache

from .test_report_support import ISTANBUL, rating, store_with
from .test_session import Clock

_NOW = datetime.now(UTC).replace(second=0, microsecond=0)
TODAY = min(_NOW.replace(hour=10, minute=0), _NOW - timedelta(minutes=5))  # never ahead
DAYS = 6


@pytest.fixture
def store(catalogue, tmp_path):
    """Five closed days and today, every file old enough to have settled."""
    ratings = [
        rating(catalogue, TODAY - timedelta(days=d, minutes=m), 1 + (d + m) % 5)
        for d in range(DAYS)
        for m in range(0, 60, 10)
    ]
    with store_with(tmp_path / "data", ratings) as opened:
        old = datetime.now(UTC).timestamp() - 3600
        for path in (opened.tables_dir / "ratings").glob("*.log"):
            os.utime(path, (old, old))
        yield opened


def _cached(store):
    folder = SummaryCache(store.data_dir, ISTANBUL).folder
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def _closed_days():
    return sorted((TODAY - timedelta(days=d)).strftime("%Y-%m-%d") for d in range(1, DAYS))


def _report(store, catalogue):
    first = (TODAY - timedelta(days=DAYS)).astimezone(ISTANBUL).date().isoformat()
    last = TODAY.astimezone(ISTANBUL).date().isoformat()
    request = ReportRequest(period_from(first, last, ISTANBUL), Scope())
    return build_report(store, catalogue, request)


def test_one_closed_day_per_step_newest_first_then_rest(store, catalogue):
    clock = Clock()
    keeper = upkeep.Upkeep(store, ISTANBUL, clock=clock)
    done = [keeper.step() for _ in range(DAYS - 1)]
    assert done == sorted(_closed_days(), reverse=True)
    assert _cached(store) == _closed_days()  # today's file stays open: never summarised here
    assert keeper.step() is None  # nothing missing: rests
    assert keeper.resting_until == clock.now + upkeep.REST_SECONDS
    report = _report(store, catalogue)
    assert report.sources.cached == DAYS - 1 and report.sources.scanned == 1


def test_a_changed_day_is_summarised_again_after_the_rest(store, catalogue):
    clock = Clock()
    keeper = upkeep.Upkeep(store, ISTANBUL, clock=clock)
    while keeper.step() is not None:
        pass
    yesterday = _closed_days()[-1]
    late = rating(catalogue, TODAY - timedelta(days=1, hours=2), 1)  # a late, delayed upload
    store.ratings.add_many([late])
    path = store.tables_dir / "ratings" / f"{yesterday}.log"
    old = datetime.now(UTC).timestamp() - 60
    os.utime(path, (old, old))
    assert keeper.step() is None  # still resting
    clock.now += upkeep.REST_SECONDS
    assert keeper.step() == yesterday
    assert _report(store, catalogue).sources.scanned == 1  # only today's file


def test_large_files_and_a_read_only_cache_are_left_alone(store):
    keeper = upkeep.Upkeep(store, ISTANBUL, clock=Clock(), max_bytes=10)
    assert keeper.step() is None and _cached(store) == []
    keeper = upkeep.Upkeep(store, ISTANBUL, clock=Clock())
    keeper.cache.writable = False
    assert keeper.step() is None and _cached(store) == []


def test_each_step_checks_only_a_few_cached_summaries(store, monkeypatch):
    upkeep.summarise_missing(store, ISTANBUL)
    monkeypatch.setattr(upkeep, "CHECKS_PER_STEP", 2)
    keeper = upkeep.Upkeep(store, ISTANBUL, clock=Clock())
    reads = []
    real_get = keeper.cache.get
    monkeypatch.setattr(keeper.cache, "get", lambda *a: reads.append(a) or real_get(*a))
    assert keeper.step() is None and len(reads) == 2 and keeper.resting_until == 0
    while keeper.resting_until == 0:
        keeper.step()
    assert len(reads) == DAYS - 1  # each checked once, then remembered


def test_the_kiosk_worker_keeps_summaries(store, tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[site]\nid = "hotel-a"\ntimezone = "Europe/Istanbul"\n')
    store.close()
    runtime = Runtime.open(config, data_dir=store.data_dir, plugins=PluginHost.discover())
    worker = AlertingWorker(runtime, interval=0.01)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while len(_cached(runtime.store)) < DAYS - 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        runtime.close()
    assert _cached(runtime.store) == _closed_days()


def test_store_compact_summarises_what_it_merged(catalogue, tmp_path):
    month_ago = TODAY.replace(day=1) - timedelta(days=20)
    ratings = [rating(catalogue, month_ago + timedelta(days=d), 3) for d in range(5)]
    store_with(tmp_path / "data", ratings).close()
    config = tmp_path / "site.toml"
    config.write_text('[site]\nid = "hotel-a"\ntimezone = "Europe/Istanbul"\n')
    state = State(config, tmp_path / "data", PluginHost.discover(only={"hotel"}))
    try:
        result = CliRunner().invoke(store_cli, ["compact"], obj=state, catch_exceptions=False)
    finally:
        state.close()
    assert result.exit_code == 0, result.output
    assert "1 month(s) merged" in result.output
    assert "Report summaries written for 1 file(s)." in result.output
    with Store(tmp_path / "data") as opened:
        assert _cached(opened) == [month_ago.strftime("%Y-%m")]
