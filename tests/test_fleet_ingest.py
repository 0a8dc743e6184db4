"""The hub's ingest on both engines: exactly once per rating id, whatever comes and in any order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.core import RatingFilter, Runtime
from servicecycle.core.export import COLUMNS
from servicecycle.core.fleet.ingest import Ingest
from servicecycle.core.store.engines import open_store

from .pg import PgServer, pg_server, pg_url  # noqa: F401


@pytest.fixture(params=["folder", "postgresql"])
def store(request, tmp_path):
    if request.param == "folder":
        site = open_store(str(tmp_path / "hub"))
    else:
        site = open_store(request.getfixturevalue("pg_url"))
    yield site
    site.close()


@pytest.fixture(scope="module")
def catalogue():
    return Runtime.open().catalogue


def make(catalogue, n: int, *, kiosk: str = "lobby", reasons: bool = False) -> list:
    now = datetime.now(UTC)
    return [
        catalogue.new_rating(
            site="grand-kl",
            kiosk=kiosk,
            cycle="hotel-guest",
            moment="check-in-wait",
            score=1,
            language="en",
            at=now - timedelta(seconds=n - i),
            reasons=("lost-time",) if reasons else (),
        )
        for i in range(n)
    ]


def change(kind: str, rating) -> dict:
    return {"kind": kind, "rating": rating.to_record()}


def stored(store) -> list:
    return list(store.ratings.query(RatingFilter(include_suspect=True)))


def test_a_batch_sent_twice_out_of_order_and_amended_is_stored_once(store, catalogue):
    ingest = Ingest(store, catalogue)
    ratings = make(catalogue, 40)
    batch = [change("new", r) for r in ratings]
    first = ingest.take("grand-kl", "lobby", batch)
    assert (first.accepted, first.duplicates, first.refused) == (40, 0, [])
    shuffled = batch[:]
    random.Random(1).shuffle(shuffled)
    again = ingest.take("grand-kl", "lobby", shuffled)
    assert (again.accepted, again.duplicates) == (0, 40)
    # Reasons come later; an older copy without them, sent again, never takes them away.
    amended = ratings[0].with_reasons(("lost-time",))
    assert ingest.take("grand-kl", "lobby", [change("amend", amended)]).amended == 1
    assert ingest.take("grand-kl", "lobby", [change("new", ratings[0])]).amended == 0
    assert ingest.take("grand-kl", "lobby", [change("amend", amended)]).amended == 0
    held = stored(store)
    assert len(held) == 40 == len({r.id for r in held})
    assert store.ratings.get(ratings[0].id).reasons == ("lost-time",)
    # A fresh ingest (a restarted hub) knows what is stored.
    assert Ingest(store, catalogue).take("grand-kl", "lobby", batch).duplicates == 40


def test_an_amend_for_a_rating_never_seen_stores_it_with_its_reasons(store, catalogue):
    (rating,) = make(catalogue, 1, reasons=True)
    result = Ingest(store, catalogue).take("grand-kl", "lobby", [change("amend", rating)])
    assert result.accepted == 1
    assert store.ratings.get(rating.id).reasons == ("lost-time",)


def test_a_kiosks_fast_clock_is_kept_up_to_two_days(store, catalogue):
    (rating,) = make(catalogue, 1)
    ahead = rating.to_record() | {"at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    too_far = rating.to_record() | {
        "id": "f" * 32,
        "at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
    }
    result = Ingest(store, catalogue).take(
        "grand-kl", "lobby", [{"kind": "new", "rating": ahead}, {"kind": "new", "rating": too_far}]
    )
    assert result.accepted == 1
    assert [r["index"] for r in result.refused] == [1]
    assert "in the future" in result.refused[0]["error"]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = list(COLUMNS)  # a rating record's fields


@st.composite
def shipped(draw):
    """Changes shaped like the real thing with any field replaced by any JSON value."""
    base = {
        "id": "0" * 31 + draw(st.sampled_from("0123456789abcdef")),
        "at": datetime.now(UTC).isoformat(),
        "site": "grand-kl",
        "kiosk": "lobby",
        "cycle": "hotel-guest",
        "stage": "check-in",
        "moment": "check-in-wait",
        "score": 3,
        "scale": 5,
        "language": "en",
        "reasons": [],
        "flags": [],
    }
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            base[name] = draw(JSONISH)
        else:
            base.pop(name, None)
    kind = draw(st.sampled_from(["new", "amend", "other"]) | JSONISH)
    return draw(st.sampled_from([{"kind": kind, "rating": base}, base, draw(JSONISH)]))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.lists(shipped(), max_size=6))
def test_any_json_is_taken_or_refused_by_index_never_raised(tmp_path_factory, catalogue, changes):
    site = open_store(str(tmp_path_factory.mktemp("fuzz")))
    try:
        result = Ingest(site, catalogue).take("grand-kl", "lobby", changes)
        assert result.accepted + result.duplicates + result.amended + len(result.refused) <= len(
            changes
        )
        assert len(result.refused) + result.accepted + result.duplicates + result.amended >= 0
        for refusal in result.refused:
            assert 0 <= refusal["index"] < len(changes) and refusal["error"]
        assert len(stored(site)) == result.accepted
    finally:
        site.close()
