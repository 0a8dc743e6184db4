"""The rating store, on real TinyDB files in a temporary data folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servicecycle.core import RatingFilter, Store, StoreError

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def fill(runtime):
    rec = runtime.recorder
    made = []
    for i, (site, moment, score) in enumerate(
        [
            ("kl", "check-out-wait", 1),
            ("kl", "bill-accuracy", 5),
            ("ist", "check-out-wait", 2),
            ("ist", "check-out-wait", 4),
        ]
    ):
        made.append(
            rec.record(
                site=site,
                kiosk="k1",
                cycle="hotel-guest",
                moment=moment,
                score=score,
                language="en",
                at=T0 + timedelta(hours=i),
                flags=["suspect"] if i == 3 else [],
            )
        )
    return made


def test_record_then_query_by_time_site_moment(runtime):
    made = fill(runtime)
    ratings = runtime.store.ratings
    assert list(ratings.query()) == made
    assert ratings.count(RatingFilter(site="kl")) == 2
    assert ratings.count(RatingFilter(moment="check-out-wait")) == 3
    window = RatingFilter(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert [r.id for r in ratings.query(window)] == [made[1].id, made[2].id]
    assert ratings.count(RatingFilter(include_suspect=False)) == 3
    assert ratings.get(made[0].id) == made[0]
    assert ratings.get("nope") is None


def test_ratings_survive_reopening(runtime, tmp_path):
    made = fill(runtime)
    runtime.close()
    with Store(runtime.data_dir) as store:
        assert list(store.ratings.query()) == made


def test_reasons_are_added_to_the_same_rating(runtime):
    rating = fill(runtime)[0]
    updated = runtime.recorder.add_reasons(rating, ["lost-time", "wrong-pace"])
    assert updated.id == rating.id
    assert runtime.store.ratings.get(rating.id).reasons == ("lost-time", "wrong-pace")
    assert runtime.store.ratings.count() == 4


def test_corrupt_file_is_named_and_left_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    bad = data / "ratings.json"
    bad.write_text('{"ratings": {"1": {"id": ')
    with pytest.raises(StoreError) as info:
        Store(data)
    assert str(bad) in str(info.value)
    assert "line 1" in str(info.value)
    assert bad.read_text() == '{"ratings": {"1": {"id": '


def test_unwritable_data_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create data folder"):
        Store(blocker / "data")
