"""The summary cache: never stale (appends, patches, compaction, replacement), crash-safe."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from, summary_cache
from servicecycle.core.reports.summary_cache import SummaryCache
from servicecycle.core.store import maintenance, segment

from .test_report_support import ISTANBUL, rating, store_with, utc

START = utc(2026, 9, 1, 9)


@pytest.fixture(autouse=True)
def _settle_at_once(monkeypatch):
    """Partitions written a moment ago count as settled (the tests do not wait 2 s)."""
    monkeypatch.setattr(summary_cache, "SETTLE_SECONDS", 0.0)


def _report(store, catalogue, use_cache=True):
    request = ReportRequest(
        period_from("2026-09-01", "2026-10-31", ISTANBUL), Scope(), use_cache=use_cache
    )
    return build_report(store, catalogue, request)


def _json(report):
    return {k: v for k, v in report.to_json().items() if k not in ("sources", "generated")}


@pytest.fixture
def store(catalogue, tmp_path):
    ratings = [
        rating(catalogue, START + timedelta(days=d, hours=h), 1 + (d + h) % 5)
        for d in range(20)
        for h in range(3)
    ]
    with store_with(tmp_path / "data", ratings) as opened:
        yield opened


def _cache_files(store):
    return sorted(p.name for p in (store.data_dir / "cache").rglob("*.json"))


def _check(store, catalogue):
    """The cached report equals a full recompute; returns the cached one."""
    cached = _report(store, catalogue)
    assert _json(cached) == _json(_report(store, catalogue, use_cache=False))
    return cached


def test_summaries_are_written_and_reused(store, catalogue):
    first = _check(store, catalogue)
    assert first.sources.scanned == 20 and len(_cache_files(store)) == 20
    again = _report(store, catalogue)
    assert (again.sources.cached, again.sources.scanned) == (20, 0)
    folder = store.data_dir / "cache" / "reports" / "Europe~Istanbul" / "ratings"
    assert (folder / "2026-09-01.json").is_file()


def test_an_append_or_a_patch_invalidates_one_partition(store, catalogue):
    _report(store, catalogue)
    late = rating(catalogue, START + timedelta(days=3, hours=5), 1)
    store.ratings.add(late)  # a late rating filed into an old day
    report = _check(store, catalogue)
    assert report.sources.scanned == 1 and report.cycles[0].figures.count == 61
    store.ratings.set_reasons(late, ["lost-time"])  # reasons added afterwards
    report = _check(store, catalogue)
    assert report.sources.scanned == 1
    assert report.cycles[0].figures.reasons == (("lost-time", 1),)


def test_compaction_and_a_same_size_replacement(store, catalogue):
    _report(store, catalogue)
    maintenance.compact(store)  # September's days become one month file
    report = _check(store, catalogue)
    assert report.sources.partitions == 1 and _cache_files(store) == ["2026-09.json"]
    path = store.tables_dir / "ratings" / "2026-09.log"
    data = path.read_bytes()
    # the same bytes but one score changed, same size: replaced by rename, as repair does
    old = data.splitlines(keepends=True)[0]
    kind, payload = segment.decode(old.rstrip(b"\n"))
    payload["score"] = 5 if payload["score"] != 5 else 4
    new = segment.encode(kind, payload)
    assert len(new) == len(old)
    tmp = path.with_name(".replacement")
    tmp.write_bytes(new + data[len(old) :])
    stat = path.stat()
    os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even the same mtime
    os.replace(tmp, path)
    assert _check(store, catalogue).sources.scanned == 1


def test_damaged_or_foreign_cache_files_are_recomputed(store, catalogue):
    expected = _json(_report(store, catalogue))
    folder = store.data_dir / "cache" / "reports" / "Europe~Istanbul" / "ratings"
    (folder / "2026-09-01.json").write_bytes(b"")  # a power cut before the data reached disk
    text = (folder / "2026-09-02.json").read_bytes()
    (folder / "2026-09-02.json").write_bytes(text.replace(b'"records":3', b'"records":4'))
    (folder / "2026-09-03.json").write_bytes(text)  # another partition's summary
    (folder / ".2026-09-04.json.123.tmp").write_bytes(b"half")  # a write a crash cut short
    report = _report(store, catalogue)
    assert _json(report) == expected
    assert report.sources.scanned == 3
    assert summary_cache.SummaryCache(store.data_dir, ISTANBUL).get("2026-09-01", (1, 2, 3)) is None


def test_a_read_only_data_folder_still_reports(store, catalogue, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("pathlib.Path.write_bytes", refuse)
    report = _report(store, catalogue)
    assert report.cycles[0].figures.count == 60 and _cache_files(store) == []


def test_a_partition_being_written_is_not_cached(store, catalogue, monkeypatch):
    monkeypatch.setattr(summary_cache, "SETTLE_SECONDS", 3600.0)
    _report(store, catalogue)
    assert _cache_files(store) == []


def test_stale_summaries_of_vanished_partitions_are_pruned(store, catalogue, tmp_path):
    _report(store, catalogue)
    cache = SummaryCache(store.data_dir, ISTANBUL)
    (cache.folder / "1999-01-01.json").write_text("{}")
    _report(store, catalogue)
    assert "1999-01-01.json" not in _cache_files(store)
