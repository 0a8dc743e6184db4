"""One behaviour suite, two engines: everything here runs on the data folder and on PostgreSQL.

The PostgreSQL cases run against the real throw-away server of tests/pg.py; the same
assertions hold for both, and where a figure can be compared across engines (a
report, an export, a copy) it is compared exactly.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import servicecycle.plugins.banking as banking
import servicecycle.plugins.health as health
import servicecycle.plugins.hotel as hotel
from servicecycle.cli.main import cli
from servicecycle.core import AlertState, RatingFilter, Runtime
from servicecycle.core.answers import AlreadyAnswered, answers, record_answer
from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from
from servicecycle.core.reports.build import windows_for
from servicecycle.core.rules import Alerting
from servicecycle.core.rules.checks import run_rule_tests
from servicecycle.core.store.contract import SiteStore
from servicecycle.core.store.engines import open_store

from .pg import fresh_database, pg_server, pg_url  # noqa: F401
from .test_report_support import ISTANBUL, random_history, utc

ENGINES = ["folder", "postgresql"]
NOW = utc(2026, 11, 22, 12)


@pytest.fixture(params=ENGINES)
def target(request, tmp_path) -> str:
    """Where a store of each engine lives: a fresh folder, or a fresh database."""
    if request.param == "folder":
        return str(tmp_path / "store")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def site(target) -> SiteStore:
    opened = open_store(target, zone="Europe/Istanbul")
    yield opened
    opened.close()


def _store_args(target: str, tmp_path: Path) -> list[str]:
    if "://" in target:
        return ["--data-dir", str(tmp_path / "side"), "--store", target]
    return ["--data-dir", target]


# -- record and patch -----------------------------------------------------------------


def test_record_patch_get_and_query(site, catalogue):
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    a = catalogue.new_rating(
        site="s",
        kiosk="k",
        cycle="hotel-guest",
        moment="check-out-wait",
        score=2,
        at=at,
        language="en",
    )
    b = catalogue.new_rating(
        site="s",
        kiosk="k2",
        cycle="hotel-guest",
        moment="check-out-wait",
        score=5,
        at=at,
        language="en",
    )
    site.ratings.add(a)
    site.ratings.add_many([b])
    site.ratings.set_reasons(a, ["lost-time"])
    assert site.ratings.get(a.id).reasons == ("lost-time",)
    assert site.ratings.get(b.id) == b
    assert [r.id for r in site.ratings.query(RatingFilter(kiosk="k2"))] == [b.id]
    assert site.ratings.count() == 2
    feed = site.changes.changes()
    assert [(c.kind, c.rating.id) for c in feed] == [("new", a.id), ("new", b.id), ("amend", a.id)]
    assert site.changes.changes(feed[-1].cursor) == []


# -- reports ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history(catalogue):
    """Four months of ratings over sites, kiosks, languages and scales, some with reasons."""
    rng = random.Random(11)
    ratings = random_history(catalogue, rng, utc(2026, 7, 20), days=125, per_day=20)
    picked = {r.id: ("lost-time",) if r.score <= 2 else () for r in ratings if rng.random() < 0.3}
    return ratings, picked


def _fill(site: SiteStore, history) -> None:
    ratings, picked = history
    site.ratings.add_many(ratings)
    for rating in ratings:
        if rating.id in picked:
            site.ratings.set_reasons(rating, picked[rating.id])


@pytest.fixture(scope="module")
def both(history, tmp_path_factory, pg_server):  # noqa: F811
    with fresh_database(pg_server) as url:
        folder = open_store(str(tmp_path_factory.mktemp("data") / "store"))
        postgres = open_store(url, zone="Europe/Istanbul")
        for site in (folder, postgres):
            _fill(site, history)
        yield folder, postgres
        folder.close()
        postgres.close()


def report_json(site: SiteStore, catalogue, request: ReportRequest) -> dict:
    found = build_report(site, catalogue, request, now=NOW).to_json()
    found.pop("sources")
    return found


REQUESTS = [
    ("2026-10-24", "2026-11-22", Scope(), ISTANBUL, True),
    ("2026-08-01", "2026-11-22", Scope(include_suspect=True), ISTANBUL, True),
    ("2026-09-01", "2026-11-22", Scope(site="hotel-b", language="tr"), ISTANBUL, True),
    ("2026-11-01", "2026-11-15", Scope(kiosk="exit", cycles=frozenset({"hotel-guest"})), ISTANBUL, True),
    ("2026-11-03T14:20", "2026-11-10T07:05:30+03:00", Scope(), ISTANBUL, True),  # inside days
    ("2026-10-01", "2026-11-01", Scope(), ZoneInfo("Asia/Kolkata"), True),  # another zone
    ("2026-10-01", "2026-11-01", Scope(), ISTANBUL, False),  # recounted from the ratings
]  # fmt: skip


@pytest.mark.parametrize(("since", "until", "scope", "zone", "cache"), REQUESTS)
def test_the_same_data_gives_the_same_report_on_both_engines(
    both, catalogue, since, until, scope, zone, cache
):
    request = ReportRequest(period_from(since, until, zone), scope, use_cache=cache)
    folder, postgres = both
    expected = report_json(folder, catalogue, request)
    assert expected["cycles"]  # there is something to compare
    assert report_json(postgres, catalogue, request) == expected


def test_the_rollups_equal_a_recount_from_the_ratings(both, catalogue):
    _, postgres = both
    kept = ReportRequest(period_from("2026-08-01", "2026-11-22", ISTANBUL), Scope())
    recount = ReportRequest(kept.period, Scope(), use_cache=False)
    assert report_json(postgres, catalogue, kept) == report_json(postgres, catalogue, recount)


def test_stored_values_are_the_same(both):
    folder, postgres = both
    assert folder.tallies.values(ISTANBUL) == postgres.tallies.values(ISTANBUL)


# -- rules ------------------------------------------------------------------------


@pytest.mark.parametrize("plugin", [hotel, health, banking], ids=lambda m: m.__name__)
def test_every_plugin_rule_test_passes_through_the_store(site, catalogue, plugin):
    cursor = [site.changes.start()]

    def through_the_store(rating):
        site.ratings.add(rating)
        changes = site.changes.changes(cursor[0])
        if changes:
            cursor[0] = changes[-1].cursor
        return [c.rating for c in changes if c.kind == "new"]

    results = run_rule_tests(files(plugin) / "rules_test.toml", catalogue, feed=through_the_store)
    assert results and all(r.passed for r in results), [r.failures for r in results]
    assert site.ratings.count() > 0


def test_the_alert_lifecycle_survives_a_restart_without_notifying_again(target, host, tmp_path):
    def open_runtime() -> Runtime:
        url = target if "://" in target else None
        data_dir = tmp_path / "side" if url else Path(target)
        return Runtime.open(data_dir=data_dir, plugins=host, store_url=url)

    notified = []
    runtime = open_runtime()
    alerting = Alerting(runtime, notify=notified.append)
    now = datetime.now(UTC)
    alerting.start(now)
    runtime.recorder.record(
        site="demo-site",
        kiosk="kiosk-1",
        cycle="health-emergency",
        moment="emergency-wait",
        score=1,
        language="ms",
        at=now,
    )
    alerting.poll(now + timedelta(seconds=1))
    assert [a.rule for a in notified] == ["health.admission-furious"]
    runtime.close()

    runtime = open_runtime()
    again = Alerting(runtime, notify=notified.append)
    assert again.start(now + timedelta(seconds=5)) == []
    assert [a.rule for a in again.engine.alerts()] == ["health.admission-furious"]
    assert len(notified) == 1
    alert = again.engine.alerts()[0]
    assert again.acknowledge(alert.short_id, by="nurse Aida").acknowledged_by == "nurse Aida"
    resolved = again.poll(now + timedelta(minutes=16))
    assert [a.state for a, _ in resolved] == [AlertState.RESOLVED]
    assert [a.state for a in notified] == [AlertState.FIRING, AlertState.RESOLVED]
    runtime.close()


# -- survey answers -------------------------------------------------------------------


def test_one_answer_per_rating_under_concurrent_submissions(target, host, tmp_path):
    url = target if "://" in target else None
    data_dir = tmp_path / "side" if url else Path(target)
    runtimes = [Runtime.open(data_dir=data_dir, plugins=host, store_url=url) for _ in range(6)]
    now = datetime.now(UTC) - timedelta(minutes=1)
    rating = runtimes[0].recorder.record(
        site="demo-site",
        kiosk="k",
        cycle="hotel-guest",
        moment="check-out-wait",
        score=2,
        at=now,
        language="en",
    )
    stage = runtimes[0].catalogue.cycles["hotel-guest"].stages[0].id
    outcomes: list[str] = []
    start = threading.Barrier(len(runtimes))

    def submit(runtime: Runtime) -> None:
        start.wait()
        try:
            record_answer(runtime, rating, {stage: 4}, "fine")
            outcomes.append("stored")
        except AlreadyAnswered:
            outcomes.append("already")

    threads = [threading.Thread(target=submit, args=(r,)) for r in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already"] * 5 + ["stored"]
    site = runtimes[0].site_store
    assert [a.id for a in answers(site)] == [rating.id]
    survey = site.ratings.count(RatingFilter(kiosk="survey"))
    assert survey == 1  # the one answered stage, recorded once
    for runtime in runtimes:
        runtime.close()


# -- export and copy --------------------------------------------------------------------


def _cli(host, args: list[str]):
    result = CliRunner().invoke(cli, args, obj=host, catch_exceptions=False)
    return result


def test_export_is_the_same_on_both_engines(history, host, tmp_path, pg_url):  # noqa: F811
    folder = str(tmp_path / "folder")
    for target in (folder, pg_url):
        with _opened(target) as s:
            _fill(s, history)
    outputs = []
    for target in (folder, pg_url):
        result = _cli(host, [*_store_args(target, tmp_path), "export", "--format", "jsonl"])
        assert result.exit_code == 0, result.output
        outputs.append(sorted(result.output.splitlines()))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == len(history[0])


class _opened:
    def __init__(self, target: str) -> None:
        self.site = open_store(target, zone="Europe/Istanbul")

    def __enter__(self) -> SiteStore:
        return self.site

    def __exit__(self, *exc: object) -> None:
        self.site.close()


def test_a_copy_into_postgresql_and_back_reports_the_same_and_twice_changes_nothing(
    history,
    host,
    catalogue,
    tmp_path,
    pg_url,  # noqa: F811
):
    folder = str(tmp_path / "folder")
    with _opened(folder) as site:
        _fill(site, history)
        site.alerts.append({"id": "a1", "at": "2026-11-01T10:00:00.000000Z", "event": "start"})
        site.journal.append({"id": "j1", "at": "2026-11-01T10:00:01.000000Z", "outcome": "sent"})
        site.events.append({"id": "e1", "at": "2026-11-01T10:00:02.000000Z", "kind": "opened"})
        site.silences.append(
            {"id": "s1", "at": "2026-11-01T10:00:03.000000Z", "ends_at": "2026-11-09T00:00:00Z"}
        )
        rated = history[0][0]
        site.answers.claim({"id": rated.id, "at": "2026-11-01T10:00:04.000000Z", "stages": []})
    back = str(tmp_path / "back")
    first = _cli(host, ["store", "copy", folder, pg_url, "--json"])
    assert first.exit_code == 0, first.output
    again = _cli(host, ["store", "copy", folder, pg_url])
    assert again.exit_code == 0, again.output
    assert "Copied nothing new" in again.output
    # a silence ended early after the first copy is ended in the copy too
    with _opened(folder) as site:
        site.silences.patch("s1", {"ends_at": "2026-11-02T00:00:00Z"})
    third = _cli(host, ["store", "copy", folder, pg_url])
    assert "brought up to date" in third.output
    home = _cli(host, ["store", "copy", pg_url, back])
    assert home.exit_code == 0, home.output

    request = ReportRequest(period_from("2026-08-01", "2026-11-22", ISTANBUL), Scope())
    reports = []
    for target in (folder, pg_url, back):
        with _opened(target) as site:
            reports.append(report_json(site, catalogue, request))
            assert [r["id"] for r in site.silences.records()] == ["s1"]
            assert next(site.silences.records())["ends_at"] == "2026-11-02T00:00:00Z"
            for part in ("alerts", "journal", "events", "answers"):
                assert len(list(getattr(site, part).records())) == 1, (target, part)
            assert site.ratings.count() == len(history[0])
    assert reports[0] == reports[1] == reports[2]


def test_copy_refuses_the_same_store_and_names_a_bad_target(host, tmp_path):
    same = _cli(host, ["store", "copy", str(tmp_path), str(tmp_path)])
    assert same.exit_code == 2 and "the same store" in same.output
    bad = _cli(host, ["store", "copy", str(tmp_path / "a"), "postgresql://nobody@127.0.0.1:1/x"])
    assert bad.exit_code == 1
    assert "cannot reach PostgreSQL at 127.0.0.1:1" in bad.output
    assert "Traceback" not in bad.output


# -- tallies ----------------------------------------------------------------------------


def test_tallies_count_the_local_days_of_the_report_zone(site, catalogue):
    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=UTC)

    def new(when: datetime, score: int, **fields) -> object:
        values = {"site": "kl", "kiosk": "k1", "moment": "check-out-wait", **fields}
        return catalogue.new_rating(
            cycle="hotel-guest", score=score, at=when, language="en", **values
        )

    a = new(at(1, 9), 2)
    site.ratings.add_many([a, new(at(1, 12), 2), new(at(1, 22, 30), 5, kiosk="k2")])
    site.ratings.add(new(at(3, 9), 1, site="far"))
    site.ratings.set_reasons(a, ["lost-time"])
    for zone, split in ((ISTANBUL, "2026-11-02"), (ZoneInfo("America/New_York"), "2026-11-01")):
        windows = windows_for(period_from("2026-11-01", "2026-11-04", zone))
        rollups = site.tallies.rollup(zone, windows, Scope())
        # 22:30 UTC is the next local day in Istanbul (UTC+3), the same day in New York
        assert (
            rollups.daily[(split, "hotel-guest", "check-out-wait")].count
            == 1 + (split == "2026-11-01") * 2
        )
        assert rollups.current[("hotel-guest", "check-out-wait")].count == 4
        assert rollups.current[("hotel-guest", "check-out-wait")].reasons == {"lost-time": 1}
        assert rollups.by_site[("hotel-guest", "far", "check-out-wait")].count == 1
        assert rollups.by_kiosk[("hotel-guest", "k2", "check-out-wait")].count == 1
        far = site.tallies.rollup(zone, windows, Scope(site="far"))
        assert sum(t.count for t in far.current.values()) == 1
        nowhere = site.tallies.rollup(zone, windows, Scope(kiosk="nowhere"))
        assert nowhere.current == {}
