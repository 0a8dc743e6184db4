"""Reports built from a real store: figures equal a rating-by-rating recompute, filters, sections."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import timedelta

import pytest

from servicecycle.core import RatingFilter
from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from
from servicecycle.core.reports.figures import figures, tally_ratings

from .test_report_support import ISTANBUL, random_history, rating, store_with, utc

NOW = utc(2026, 11, 22, 12)


def _request(since, until, scope=None, **kwargs):
    return ReportRequest(period_from(since, until, ISTANBUL), scope or Scope(), **kwargs)


def _reference(store, catalogue, period, scope: Scope):
    """Per (cycle, moment): figures from Rating objects, the slow and obvious way."""
    ratings = [
        r
        for r in store.ratings.query(
            RatingFilter(since=period.since, until=period.until, site=scope.site, kiosk=scope.kiosk)
        )
        if (scope.language is None or r.language == scope.language)
        and (scope.cycles is None or r.cycle in scope.cycles)
    ]
    tallies = tally_ratings(ratings, catalogue, include_suspect=scope.include_suspect)
    found = {}
    for (cycle_id, moment_id), tally in tallies.items():
        cycle = catalogue.cycles[cycle_id]
        _, moment = cycle.find_moment(moment_id)
        found[(cycle_id, moment_id)] = figures(tally, cycle.scale, moment.target)
    return found


def _moments(report):
    return {
        (c.cycle, line.moment): line.figures
        for c in report.cycles
        for line in c.card
        if line.figures.count
    }


@pytest.fixture(scope="module")
def history(catalogue, tmp_path_factory):
    rng = random.Random(7)
    ratings = random_history(catalogue, rng, utc(2026, 8, 1), days=113, per_day=24)
    store = store_with(tmp_path_factory.mktemp("data"), ratings)
    yield store
    store.close()


@pytest.mark.parametrize(
    ("since", "until", "scope"),
    [
        ("2026-10-24", "2026-11-22", Scope()),
        ("2026-10-24", "2026-11-22", Scope(include_suspect=True)),
        ("2026-09-01", "2026-11-22", Scope(site="hotel-b", language="tr")),
        ("2026-11-01", "2026-11-15", Scope(kiosk="exit", cycles=frozenset({"hotel-guest"}))),
        ("2026-11-03T14:20", "2026-11-10T07:05:30+03:00", Scope()),  # edges inside days
    ],
)
def test_figures_equal_a_rating_by_rating_recompute(history, catalogue, since, until, scope):
    request = _request(since, until, scope)
    report = build_report(history, catalogue, request, now=NOW)
    expected = _reference(history, catalogue, request.period, scope)
    assert _moments(report) == expected
    assert expected  # the fixture has data in every case
    # the previous period too
    before = _reference(history, catalogue, request.period.previous(), scope)
    got = {(c.cycle, m.moment): m.comparison.previous for c in report.cycles for m in c.card}
    assert {k: v for k, v in got.items() if v.count} == before


def test_cached_warm_and_uncached_reports_are_identical(history, catalogue, monkeypatch):
    monkeypatch.setattr("servicecycle.core.reports.summary_cache.SETTLE_SECONDS", 0.0)
    request = _request("2026-09-01", "2026-11-22")
    cold = build_report(history, catalogue, request, now=NOW)
    warm = build_report(history, catalogue, request, now=NOW)
    bare = build_report(
        history, catalogue, _request("2026-09-01", "2026-11-22", use_cache=False), now=NOW
    )
    assert warm.sources.cached == warm.sources.partitions > 0 and warm.sources.scanned == 0
    assert bare.sources.cached == 0
    strip = lambda r: {k: v for k, v in r.to_json().items() if k != "sources"}  # noqa: E731
    assert strip(cold) == strip(warm) == strip(bare)


def test_local_days_and_period_edges(catalogue, tmp_path):
    # Istanbul is UTC+3: 20:59 UTC on 31 October is still October there, 21:00 is November.
    ratings = [
        rating(catalogue, utc(2026, 10, 31, 20, 59), 1),
        rating(catalogue, utc(2026, 10, 31, 21, 0), 5),
        rating(catalogue, utc(2026, 11, 30, 20, 59), 4),
        rating(catalogue, utc(2026, 11, 30, 21, 0), 2),
    ]
    with store_with(tmp_path / "data", ratings) as store:
        report = build_report(store, catalogue, _request("2026-11-01", "2026-11-30"), now=NOW)
    (hotel,) = report.cycles
    assert hotel.figures.count == 2 and hotel.figures.mean == 4.5
    assert hotel.comparison.previous.count == 1
    days = {p.start.isoformat(): p.figures.count for p in hotel.series}
    assert days["2026-11-01"] == 1 and days["2026-11-30"] == 1 and len(days) == 30


def test_empty_period_one_answer_and_all_suspect(catalogue, tmp_path):
    with store_with(tmp_path / "empty", []) as store:
        empty = build_report(store, catalogue, _request("2026-11-01", "2026-11-30"), now=NOW)
        assert empty.cycles == [] and empty.empty and empty.survey is None
        chosen = build_report(
            store,
            catalogue,
            _request("2026-11-01", "2026-11-30", Scope(cycles=frozenset({"hotel-guest"}))),
            now=NOW,
        )
        (hotel,) = chosen.cycles
        assert hotel.figures.count == 0 and hotel.widest_gaps == []
        assert len(hotel.stages) == 6 and all(s.figures.mean is None for s in hotel.stages)
    one = [rating(catalogue, utc(2026, 11, 5, 9), 3, moment="bill-accuracy")]
    with store_with(tmp_path / "one", one) as store:
        (hotel,) = build_report(store, catalogue, _request("2026-11-01", "2026-11-30")).cycles
    line = next(m for m in hotel.card if m.moment == "bill-accuracy")
    assert (line.figures.count, line.figures.mean, line.figures.mean_ci) == (1, 3.0, None)
    assert line.figures.too_few and hotel.widest_gaps == []  # too few answers: never ranked
    suspect = [rating(catalogue, utc(2026, 11, 5, 9), 1, suspect=True)] * 3
    with store_with(tmp_path / "suspect", suspect) as store:
        assert build_report(store, catalogue, _request("2026-11-01", "2026-11-30")).cycles == []
        counted = build_report(
            store, catalogue, _request("2026-11-01", "2026-11-30", Scope(include_suspect=True))
        )
    assert counted.cycles[0].figures.count == 3


def test_service_map_card_and_widest_gaps(catalogue, tmp_path):
    at = utc(2026, 11, 10, 9)
    ratings = (
        [rating(catalogue, at, 3, moment="check-out-wait", reasons=[]) for _ in range(40)]
        + [rating(catalogue, at, 5, moment="restaurant-bar") for _ in range(40)]
        + [rating(catalogue, at, 4, moment="bill-accuracy") for _ in range(35)]
        + [rating(catalogue, at, 1, moment="booking-offer", reasons=["rule-book"])] * 5
    )
    with store_with(tmp_path / "data", ratings) as store:
        (hotel,) = build_report(store, catalogue, _request("2026-11-01", "2026-11-30")).cycles
    assert [s.stage for s in hotel.stages] == [
        "reservation", "arrival-transfer", "check-in", "stay", "check-out", "departure-transfer",
    ]  # fmt: skip
    check_out = hotel.stages[4]
    assert [m.moment for m in check_out.moments] == ["bill-accuracy", "check-out-wait"]
    assert check_out.figures.mean == pytest.approx((35 * 4 + 40 * 3) / 75)
    assert check_out.figures.target == pytest.approx((35 * 4.6 + 40 * 4.4) / 75)
    stay = hotel.stages[3]
    assert [m.moment for m in stay.moments] == [
        "room-housekeeping",
        "restaurant-bar",
        "guest-requests",
    ]
    assert [m.critical for m in hotel.card][:7] == [True] * 6 + [False]  # critical first
    # widest gaps: enough answers and short of the promise, widest first; 5 answers are too few
    assert [m.moment for m in hotel.widest_gaps] == ["check-out-wait", "bill-accuracy"]
    assert hotel.figures.count == 120 and hotel.figures.reasons == (("rule-book", 5),)


def test_slices_by_site_kiosk_and_language(history, catalogue):
    report = build_report(history, catalogue, _request("2026-10-24", "2026-11-22"))
    hotel = next(c for c in report.cycles if c.cycle == "hotel-guest")
    assert {s.key for s in hotel.by_site} == {"hotel-a", "hotel-b"}
    assert {s.key for s in hotel.by_language} == {"en", "tr", "ru"}
    assert sum(s.figures.count for s in hotel.by_kiosk) == hotel.figures.count
    only_tr = build_report(
        history, catalogue, _request("2026-10-24", "2026-11-22", Scope(language="tr"))
    )
    tr = next(c for c in only_tr.cycles if c.cycle == "hotel-guest")
    slice_tr = next(s for s in hotel.by_language if s.key == "tr").figures
    assert slice_tr.reasons == ()  # slices show no reasons, so none are added up
    assert dataclasses.replace(tr.figures, reasons=()) == slice_tr


def test_survey_answers_where_present(catalogue, tmp_path):
    at = utc(2026, 11, 10, 9)
    with store_with(tmp_path / "data", [rating(catalogue, at, 4)]) as store:
        report = build_report(store, catalogue, _request("2026-11-01", "2026-11-30"))
        assert report.survey is None  # no answers table: no section
        answers = store.table("answers")
        for i, (stages, comment) in enumerate(
            [
                ([{"stage": "check-in", "score": 5}, {"stage": "check-out", "score": 2}], "slow"),
                ({"check-in": 4}, ""),  # the brief's shape
                ([{"stage": "check-in", "score": 3}], None),
            ]
        ):
            answers.insert(
                {
                    "id": f"a{i}",
                    "at": (at + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "site": "hotel-a",
                    "kiosk": "lobby-1",
                    "cycle": "hotel-guest",
                    "language": "en",
                    "scale": 5,
                    "stages": stages,
                    "comment": comment,
                }
            )
        answers.insert({"id": "bad", "at": "2026-11-10T12:00:00.000000Z", "cycle": "hotel-guest",
                        "language": "en", "stages": [{"stage": "check-in"}]})  # fmt: skip
        report = build_report(store, catalogue, _request("2026-11-01", "2026-11-30"))
        other = build_report(
            store, catalogue, _request("2026-11-01", "2026-11-30", Scope(language="tr"))
        )
    survey = report.survey
    assert (survey.answers, survey.comments, survey.skipped) == (3, 1, 1)
    (hotel,) = survey.cycles
    stages = {s.stage: s for s in hotel.stages}
    assert list(stages) == ["check-in", "check-out"]  # cycle order
    assert stages["check-in"].figures.count == 3 and stages["check-in"].figures.mean == 4.0
    assert stages["check-in"].target == pytest.approx((4.5 + 4.4 + 4.6) / 3)
    assert other.survey is None
    assert json.loads(json.dumps(report.to_json()))["survey"]["answers"] == 3
