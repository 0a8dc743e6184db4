"""Ratings: the one validation path every caller goes through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicecycle.core import Rating, RatingError

GOOD = {
    "site": "grand-kl",
    "kiosk": "lobby-1",
    "cycle": "hotel-guest",
    "moment": "check-out-wait",
    "score": 2,
    "language": "ms",
}


def test_new_rating_fills_in_stage_scale_id_and_utc_time(catalogue):
    rating = catalogue.new_rating(**GOOD, reasons=["lost-time", "lost-time"])
    assert rating.stage == "check-out"
    assert rating.scale == 5
    assert len(rating.id) == 32
    assert rating.at.tzinfo is UTC
    assert rating.reasons == ("lost-time",)
    other = catalogue.new_rating(**GOOD)
    assert other.id != rating.id


def test_local_time_is_stored_as_utc(catalogue):
    istanbul = timezone(timedelta(hours=3))
    rating = catalogue.new_rating(**GOOD, at=datetime(2026, 5, 1, 12, 0, tzinfo=istanbul))
    assert rating.at == datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    assert rating.to_record()["at"] == "2026-05-01T09:00:00.000000Z"


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [
        ({"score": 6}, "score", "from 1 to 5"),
        ({"score": 0}, "score", "from 1 to 5"),
        ({"score": True}, "score", "whole number"),
        ({"score": 5, "scale": 4}, "score", "from 1 to 4"),
        ({"scale": 10}, "scale", "4, 5"),
        ({"cycle": "spa"}, "cycle", "banking-branch, health-emergency, hotel-guest"),
        ({"moment": "nap"}, "moment", "check-out-wait"),
        ({"stage": "stay"}, "stage", "belongs to stage 'check-out'"),
        ({"language": "de"}, "language", "en, ms, ru, tr"),
        ({"reasons": ["bill-error"]}, "reasons", "lost-time"),
        ({"flags": ["urgent"]}, "flags", "suspect, test"),
        ({"site": "bad site!"}, "site", "letters, digits"),
        ({"kiosk": ""}, "kiosk", "letters, digits"),
        ({"at": datetime(2026, 1, 1)}, "at", "time zone"),
    ],
)
def test_bad_fields_name_field_value_and_allowed(catalogue, change, field, allowed):
    with pytest.raises(RatingError) as info:
        catalogue.new_rating(**{**GOOD, **change})
    assert info.value.field == field
    assert allowed in str(info.value)


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    site=names,
    kiosk=names,
    score=st.integers(1, 4),
    scale=st.sampled_from([4, 5]),
    at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    flags=st.lists(st.sampled_from(["suspect", "test"]), max_size=2),
)
def test_record_round_trip(site, kiosk, score, scale, at, flags):
    rating = Rating(
        id="a" * 32,
        at=at,
        site=site,
        kiosk=kiosk,
        cycle="hotel-guest",
        stage="check-out",
        moment="check-out-wait",
        score=score,
        scale=scale,
        language="tr",
        reasons=("lost-time",),
        flags=tuple(dict.fromkeys(flags)),
    )
    assert Rating.from_record(rating.to_record()) == rating


@settings(max_examples=300, deadline=None)
@given(
    score=st.one_of(st.integers(), st.floats(), st.text(max_size=3), st.none()),
    language=st.text(max_size=4),
    site=st.text(max_size=70),
)
def test_any_caller_input_is_a_rating_or_a_rating_error(catalogue, score, language, site):
    try:
        catalogue.new_rating(**{**GOOD, "score": score, "language": language, "site": site})
    except RatingError as exc:
        assert exc.field in {"score", "language", "site"}
