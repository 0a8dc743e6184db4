"""The data folder behind the store contract, on real folders: shape and behaviour.

The change feed is tested the way a consumer lives: a cursor saved, the
process gone, a new store object resuming from the saved text, with
compaction and repair rewriting partitions in between.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicecycle.core import RatingFilter, StoreError
from servicecycle.core.store import contract, maintenance
from servicecycle.core.store.folder import (
    FolderEngine,
    FolderStore,
    cursor_encoder,
    decode_cursor,
    encode_cursor,
    folder_path,
)

from .test_store import T0, partition_files, rating

#: A month long closed on any machine running these tests, so compaction merges it.
OLD = datetime(2025, 3, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def site(tmp_path):
    with FolderStore.open(tmp_path / "data") as store:
        yield store


def test_the_folder_store_is_a_site_store_and_each_part_its_protocol(site):
    assert isinstance(site, contract.SiteStore)
    assert site.engine == "folder"
    for part, protocol in [
        (site.ratings, contract.RatingStore),
        (site.changes, contract.ChangeFeed),
        (site.tallies, contract.Tallies),
        (site.alerts, contract.AlertStore),
        (site.answers, contract.AnswerStore),
        (site.journal, contract.JournalStore),
        (site.silences, contract.SilenceStore),
    ]:
        assert isinstance(part, protocol), (part, protocol)
    assert isinstance(FolderEngine(), contract.StoreEngine)


def test_something_else_is_not_a_site_store(site):
    assert not isinstance(site.ratings, contract.ChangeFeed)
    assert not isinstance(object(), contract.SiteStore)


def test_ratings_add_patch_get_and_query(site):
    first, second = rating(T0, score=2), rating(T0 + timedelta(hours=1), score=5, site="other")
    site.ratings.add(first)
    assert site.ratings.add_many([second]) == 1
    site.ratings.set_reasons(first, ["lost-time"])
    assert site.ratings.get(first.id).reasons == ("lost-time",)
    assert [r.id for r in site.ratings.query(RatingFilter(site="kl"))] == [first.id]
    assert site.ratings.count(RatingFilter(since=T0 + timedelta(minutes=30))) == 1


def test_adding_a_rating_twice_stores_it_twice_in_the_folder(site):
    """The contract leaves idempotence to readers: the folder appends, PostgreSQL ignores."""
    one = rating(T0)
    site.ratings.add(one)
    site.ratings.add(one)
    assert site.ratings.count() == 2
    ids = [c.rating.id for c in site.changes.changes()]
    assert ids == [one.id, one.id]  # consumers are idempotent on the id


def test_the_change_feed_orders_new_before_amend_and_resumes_from_text(tmp_path):
    folder = tmp_path / "data"
    with FolderStore.open(folder) as store:
        first = rating(T0, score=1)
        store.ratings.add(first)
        store.ratings.set_reasons(first, ["lost-time"])
        store.ratings.add(rating(T0 + timedelta(minutes=1), score=4))
        page = store.changes.changes(limit=2)
        assert [(c.kind, c.rating.id) for c in page] == [("new", first.id), ("amend", first.id)]
        assert page[1].rating.reasons == ("lost-time",)
        saved = page[-1].cursor
    assert isinstance(saved, str) and saved.isascii() and saved.isprintable()
    with FolderStore.open(folder) as store:  # a new process, in effect: nothing in memory
        store.ratings.add(rating(T0 + timedelta(days=1), score=2))
        rest = store.changes.changes(after=saved)
        assert [(c.kind, c.rating.score) for c in rest] == [("new", 4), ("new", 2)]
        assert store.changes.changes(after=rest[-1].cursor) == []
        # The same cursor gives the same changes: the feed keeps no state between calls.
        assert store.changes.changes(after=saved) == rest


def test_an_amend_after_a_resumed_cursor_carries_the_whole_rating(tmp_path):
    folder = tmp_path / "data"
    with FolderStore.open(folder) as store:
        first = rating(T0, score=2)
        store.ratings.add(first)
        saved = store.changes.changes()[-1].cursor
    with FolderStore.open(folder) as store:
        store.ratings.set_reasons(first, ["rudeness"])
        [change] = store.changes.changes(after=saved)
    assert change.kind == "amend"
    assert (change.rating.id, change.rating.score, change.rating.reasons) == (
        first.id,
        2,
        ("rudeness",),
    )


def test_start_skips_ratings_before_since(site):
    site.ratings.add(rating(T0 - timedelta(days=2), score=1))
    site.ratings.add(rating(T0 - timedelta(minutes=1), score=2))
    site.ratings.add(rating(T0, score=3))
    changes = site.changes.changes(after=site.changes.start(T0))
    assert [c.rating.score for c in changes] == [3]


def test_a_resumed_feed_loses_nothing_across_a_month_merge(tmp_path):
    """Compaction rewrites March into one file: the feed delivers it again, at least once."""
    folder = tmp_path / "data"
    with FolderStore.open(folder) as store:
        early = [rating(OLD + timedelta(days=d), score=d + 1) for d in range(2)]
        store.ratings.add_many(early)
        store.ratings.set_reasons(early[0], ["lost-time"])
        saved = store.changes.changes()[-1].cursor
        store.ratings.add(rating(OLD + timedelta(days=1, hours=1), score=5))  # after the cursor
        assert maintenance.compact(store.store).merged_months == 1
    assert [p.name for p in partition_files(folder)] == ["2025-03.log"]
    with FolderStore.open(folder) as store:
        again = store.changes.changes(after=saved)
        delivered = {c.rating.id: c.rating for c in again}
        assert set(delivered) == {*(r.id for r in early), again[-1].rating.id}
        assert delivered[early[0].id].reasons == ("lost-time",)  # folded in by compaction
        assert {c.kind for c in again} == {"new"}
        assert store.changes.changes(after=again[-1].cursor) == []
        store.ratings.add(rating(OLD + timedelta(hours=5), score=3))  # into the month file now
        [late] = store.changes.changes(after=again[-1].cursor)
        assert late.rating.score == 3


def test_a_repaired_partition_is_read_again_and_the_damage_reported_once(tmp_path, caplog):
    folder = tmp_path / "data"
    with FolderStore.open(folder) as store:
        for minute in range(3):
            store.ratings.add(rating(T0 + timedelta(minutes=minute), score=minute + 1))
        [path] = partition_files(folder)
        lines = path.read_bytes().split(b"\n")
        lines[1] = lines[1].replace(b'"score":2', b'"score":5')
        path.write_bytes(b"\n".join(lines))
        with caplog.at_level(logging.ERROR):
            assert [c.rating.score for c in store.changes.changes()] == [1, 3]
            assert [c.rating.score for c in store.changes.changes()] == [1, 3]
        assert caplog.text.count("checksum mismatch") == 1
        saved = store.changes.changes()[-1].cursor
        maintenance.repair(store.store)  # a new file by rename: another inode
        assert [c.rating.score for c in store.changes.changes(after=saved)] == [1, 3]


def test_an_unfinished_last_line_is_left_for_later(site):
    site.ratings.add(rating(T0, score=1))
    [path] = partition_files(site.data_dir)
    with open(path, "ab") as handle:
        handle.write(b"0badc0de D {")
    [change] = site.changes.changes()
    assert site.changes.changes(after=change.cursor) == []


def test_limit_pages_through_the_feed_without_gaps_or_repeats(site):
    made = [rating(T0 + timedelta(hours=h), score=1 + h % 5) for h in range(60)]
    site.ratings.add_many(made)
    seen, cursor = [], None
    while page := site.changes.changes(after=cursor, limit=7):
        assert len(page) <= 7
        seen += [c.rating.id for c in page]
        cursor = page[-1].cursor
    assert seen == [r.id for r in made]


@pytest.mark.parametrize("cursor", ["", "not base64!", "e30", encode_cursor("", {}).upper(), "W10"])
def test_a_foreign_cursor_is_refused_in_one_line(site, cursor):
    with pytest.raises(StoreError, match="not a change-feed cursor"):
        site.changes.changes(after=cursor)


@given(
    st.dictionaries(
        st.from_regex(r"\A20[0-9]{2}-[01][0-9](-[0-3][0-9])?\.log\Z"),
        st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 2**40),
    st.integers(0, 2**40),
    st.sampled_from(["", "2026-11-01T00:00:00.000000Z"]),
)
def test_the_quick_cursor_is_the_same_text_as_the_plain_one(positions, inode, offset, since):
    name = sorted(positions)[len(positions) // 2]
    encode = cursor_encoder(since, positions, name)
    assert encode(inode, offset) == encode_cursor(since, {**positions, name: (inode, offset)})


def test_a_cursor_round_trips():
    positions = {"2026-11-01.log": (12, 345), "2026-10.log": (9, 0)}
    assert decode_cursor(encode_cursor("2026-11-01T00:00:00.000000Z", positions)) == (
        "2026-11-01T00:00:00.000000Z",
        positions,
    )


def test_a_limit_below_one_is_refused(site):
    with pytest.raises(StoreError, match="at least one"):
        site.changes.changes(limit=0)


# -- the record stores -------------------------------------------------------------------


def _record(at: datetime, **fields):
    return {"id": f"r{at.timestamp():.0f}", "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **fields}


@pytest.mark.parametrize("part", ["alerts", "journal", "silences"])
def test_record_stores_append_and_read_back_by_time(site, part):
    store = getattr(site, part)
    store.append(_record(T0, what=1))
    store.append(_record(T0 + timedelta(days=1), what=2))
    assert [r["what"] for r in store.records()] == [1, 2]
    assert [r["what"] for r in store.records(since=T0 + timedelta(hours=1))] == [2]


def test_a_silence_is_patched_by_id(tmp_path):
    folder = tmp_path / "data"
    with FolderStore.open(folder) as store:
        store.silences.append(_record(T0, ends_at="later"))
        assert store.silences.patch(_record(T0)["id"], {"ends_at": "now"})
        assert not store.silences.patch("nothing", {"ends_at": "now"})
    with FolderStore.open(folder) as store:
        assert [r["ends_at"] for r in store.silences.records()] == ["now"]


def test_one_answer_per_rating_even_when_claimed_at_once(site):
    answered = rating(T0)
    claims = [
        {"id": answered.id, "at": _record(T0 + timedelta(minutes=i))["at"], "n": i}
        for i in range(8)
    ]
    results: list[object] = [None] * len(claims)

    def claim(i: int) -> None:
        results[i] = site.answers.claim(claims[i])

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(claims))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = [r for r in results if r is None]
    assert len(stored) == 1
    kept = site.answers.find(answered.id)
    assert all(r == kept for r in results if r is not None)
    assert [a["n"] for a in site.answers.records()] == [kept["n"]]
    assert site.answers.find(rating(T0).id) is None


def test_an_answer_needs_its_rating_id(site):
    with pytest.raises(StoreError, match="needs the string 'id'"):
        site.answers.claim({"at": "2026-11-01T00:00:00.000000Z"})


# -- opening ---------------------------------------------------------------------------


def test_a_file_url_names_a_folder(tmp_path):
    assert folder_path("file:///var/lib/sc") == folder_path("file://localhost/var/lib/sc")
    assert str(folder_path("file:///var/lib/my%20site")) == "/var/lib/my site"
    assert str(folder_path("relative/data")) == "relative/data"
    with pytest.raises(StoreError, match="not on host"):
        folder_path("file://elsewhere/var/lib/sc")
    with pytest.raises(StoreError, match="names no folder"):
        folder_path("file:")


def test_a_read_only_folder_store_refuses_writes_in_one_line(tmp_path):
    folder = tmp_path / "data"
    with FolderStore.open(folder) as store:
        store.ratings.add(rating(T0))
    with FolderEngine().open(str(folder), read_only=True) as store:
        assert store.ratings.count() == 1
        with pytest.raises(StoreError, match="read-only"):
            store.ratings.add(rating(T0))
        assert json.loads((folder / "store.json").read_text())["schema"] == 3


def test_the_rules_follower_makes_the_feed_exactly_once_across_a_month_merge(tmp_path):
    """The engine's follower: a rating delivered again is passed over, unless its reasons
    changed meanwhile (then it is an amend); nothing is judged twice."""
    from servicecycle.core.rules.follow import RatingFollower

    folder = tmp_path / "data"
    with FolderStore.open(folder) as store:
        early = [rating(OLD + timedelta(days=d), score=d + 1) for d in range(3)]
        store.ratings.add_many(early)
        follower = RatingFollower(
            store.changes,
            OLD - timedelta(days=1),
        )
        assert [(k, r.id) for k, r in follower.poll()] == [("new", r.id) for r in early]
        store.ratings.set_reasons(early[0], ["lost-time"])
        assert [(k, r.reasons) for k, r in follower.poll()] == [("amended", ("lost-time",))]
        store.ratings.set_reasons(early[1], ["wrong-pace"])  # not yet polled when merged
        assert maintenance.compact(store.store).merged_months >= 1  # files rewritten
        assert [(k, r.id, r.reasons) for k, r in follower.poll()] == [
            ("amended", early[1].id, ("wrong-pace",))
        ]
        assert list(follower.poll()) == []
        store.ratings.add(rating(OLD + timedelta(hours=5), score=3))
        assert [(k, r.score) for k, r in follower.poll()] == [("new", 3)]
