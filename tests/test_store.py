"""The rating store on real files: API, crashes, torn writes, several processes, repair.

Nothing is mocked: every test writes a real data folder under tmp_path, and
the crash and concurrency tests use real child processes killed with SIGKILL.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tinydb import Query, TinyDB

from servicecycle.core import Rating, RatingFilter, Store, StoreBusy, StoreCorruption, StoreError
from servicecycle.core.rating import new_rating_id
from servicecycle.core.store import SCHEMA, maintenance

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def rating(at: datetime = T0, score: int = 3, **extra) -> Rating:
    fields = {
        "site": "kl",
        "kiosk": "k1",
        "cycle": "hotel-guest",
        "stage": "check-out",
        "moment": "check-out-wait",
        "score": score,
        "scale": 5,
        "language": "en",
        **extra,
    }
    return Rating(id=new_rating_id(at), at=at, **fields)


def partition_files(data: Path) -> list[Path]:
    return sorted((data / "tables" / "ratings").glob("*.log"))


# -- the API -------------------------------------------------------------------


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
                at=T0 + timedelta(days=i),
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
    window = RatingFilter(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert [r.id for r in ratings.query(window)] == [made[1].id, made[2].id]
    assert ratings.count(RatingFilter(include_suspect=False)) == 3
    assert ratings.get(made[2].id) == made[2]
    assert ratings.get("0" * 32) is None
    assert len(partition_files(runtime.data_dir)) == 4  # one per UTC day


def test_tinydb_document_api(runtime):
    fill(runtime)
    table = runtime.store.table("ratings")
    low = table.search(Query().score <= 2)
    assert sorted(d["score"] for d in low) == [1, 2]
    assert table.count(Query().site == "ist") == 2
    assert table.get(Query().moment == "bill-accuracy")["score"] == 5
    assert len(table) == 4
    assert runtime.store.tables() == ["ratings"]
    with pytest.raises(StoreError, match="append-only"):
        table.remove(Query().score == 1)
    with pytest.raises(StoreError, match="append-only"):
        table.truncate()


def test_more_than_one_table(tmp_path):
    with Store(tmp_path) as store:
        alerts = store.table("alerts")
        alerts.insert({"id": "a1", "at": "2026-11-02T10:00:00.000000Z", "state": "firing"})
        alerts.update({"state": "resolved"}, Query().id == "a1")
        store.table("events").insert({"id": "e1", "at": "2026-11-02T10:00:01Z", "kind": "start"})
        assert store.tables() == ["alerts", "events"]
        assert alerts.all() == [
            {"id": "a1", "at": "2026-11-02T10:00:00.000000Z", "state": "resolved"}
        ]
        with pytest.raises(StoreError, match="needs a string 'at'"):
            alerts.insert({"id": "a2"})
        with pytest.raises(StoreError, match="table name"):
            store.table("../etc")


def test_ratings_survive_reopening(runtime):
    made = fill(runtime)
    runtime.close()
    with Store(runtime.data_dir) as store:
        assert list(store.ratings.query()) == made


def test_reasons_are_added_to_the_same_rating(runtime):
    first = fill(runtime)[0]
    updated = runtime.recorder.add_reasons(first, ["lost-time", "wrong-pace"])
    assert updated.id == first.id
    assert runtime.store.ratings.get(first.id).reasons == ("lost-time", "wrong-pace")
    assert runtime.store.ratings.count() == 4


# -- crashes -------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from servicecycle.core.store import Store
    from servicecycle.core.rating import Rating, new_rating_id, utc_now

    store = Store(sys.argv[1])
    print("ready", flush=True)
    while True:
        at = utc_now()
        r = Rating(id=new_rating_id(at), at=at, site="kl", kiosk=sys.argv[2],
                   cycle="hotel-guest", stage="check-out", moment="check-out-wait",
                   score=3, scale=5, language="en",
                   reasons=("lost-time",) * 40)
        store.ratings.add(r)
        print(r.id, flush=True)
    """
)


def test_sigkill_never_loses_an_acknowledged_rating(tmp_path):
    """Kill a recording process at random moments; every acknowledged id must survive."""
    data = tmp_path / "data"
    acknowledged: set[str] = set()
    rng = random.Random(20261122)
    for round_ in range(12):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), f"k{round_}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.01, 0.25))
        child.send_signal(signal.SIGKILL)
        output, _ = child.communicate()
        lines = output.split("\n")
        acknowledged.update(line for line in lines[:-1] if line)  # last may be cut short
    assert len(acknowledged) > 100
    with Store(data, owner="kiosk restarted") as store:  # the owner's open recovers
        stored = {r.id for r in store.ratings.query()}
        reports = maintenance.check(store)
    assert acknowledged <= stored
    assert all(r.ok for r in reports), [str(d) for r in reports for d in r.damage]


@pytest.fixture
def five_ratings(tmp_path) -> tuple[Path, bytes, int]:
    """A store with five ratings in one partition; returns (file, bytes, start of last)."""
    source = tmp_path / "source"
    with Store(source) as store:
        for i in range(5):
            store.ratings.add(rating(T0 + timedelta(minutes=i), score=1 + i))
    [path] = partition_files(source)
    data = path.read_bytes()
    return path, data, data.rstrip(b"\n").rfind(b"\n") + 1


def test_truncation_at_every_byte_of_the_last_record(tmp_path, five_ratings, caplog):
    path, data, last = five_ratings
    for cut in range(last, len(data) + 1):
        folder = tmp_path / f"cut{cut}"
        shutil.copytree(path.parent.parent.parent, folder)
        target = folder / "tables" / "ratings" / path.name
        target.write_bytes(data[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING), Store(folder, owner="kiosk") as store:
            scores = [r.score for r in store.ratings.query()]
            # only the newline missing: a whole, verified record, kept as one
            whole = cut >= len(data) - 1
            expected = [1, 2, 3, 4, 5] if whole else [1, 2, 3, 4]
            assert scores == expected, cut
            torn = last < cut < len(data) - 1
            assert bool(list((folder / "quarantine").glob("*.bad"))) == torn, cut
            assert ("unfinished write" in caplog.text) == torn, cut
            assert ("lacked its newline" in caplog.text) == (cut == len(data) - 1), cut
            if cut == len(data) - 1:
                assert target.read_bytes() == data
            store.ratings.add(rating(T0 + timedelta(minutes=9), score=2))
            assert [r.score for r in store.ratings.query()] == [*expected, 2]
        if torn:
            [saved] = (folder / "quarantine").glob("*.bad")
            assert saved.read_bytes() == data[last:cut]


def test_a_reader_skips_a_write_in_progress(tmp_path, five_ratings):
    """Without the write lock, an unterminated tail may be in flight: never parsed."""
    path, data, last = five_ratings
    path.write_bytes(data[: last + 20])
    from servicecycle.core.store.table import read_partition

    assert [r["score"] for r in read_partition(path)] == [1, 2, 3, 4]
    assert path.read_bytes() == data[: last + 20]  # a reader changes nothing


# -- several processes -----------------------------------------------------------

CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from servicecycle.core.store import Store
    from servicecycle.core.rating import Rating, new_rating_id

    store = Store(sys.argv[1])
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(int(sys.argv[3])):
        at = base + timedelta(seconds=i)
        store.ratings.add(Rating(id=new_rating_id(at), at=at, site="kl", kiosk=sys.argv[2],
            cycle="hotel-guest", stage="check-out", moment="check-out-wait", score=3,
            scale=5, language="en", reasons=("lost-time",) * (i % 50)))
    """
)

READER = textwrap.dedent(
    """
    import sys, time
    from servicecycle.core.store import Store

    store = Store(sys.argv[1])
    reads = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        n = sum(1 for _ in store.ratings.query())
        reads += 1
        if n >= int(sys.argv[2]):
            break
    print(reads, n)
    """
)


def test_concurrent_writers_and_a_reader(tmp_path):
    data = tmp_path / "data"
    Store(data).close()
    per_writer = 300
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WRITER, str(data), f"w{i}", str(per_writer)]
        )
        for i in range(2)
    ]
    reader = subprocess.run(
        [sys.executable, "-c", READER, str(data), str(2 * per_writer)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    assert reader.returncode == 0, reader.stderr  # never met a torn or corrupt record
    assert int(reader.stdout.split()[0]) > 1
    with Store(data) as store:
        kiosks = [r.kiosk for r in store.ratings.query()]
        assert sorted(set(kiosks)) == ["w0", "w1"]
        assert len(kiosks) == 2 * per_writer
        assert all(r.ok for r in maintenance.check(store))


def test_a_second_kiosk_on_the_same_folder_is_refused(tmp_path):
    with Store(tmp_path, owner="kiosk lobby-1"):
        holder = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys\nfrom servicecycle.core.store import Store\n"
                "try:\n Store(sys.argv[1], owner='kiosk lobby-2')\n"
                "except Exception as e:\n print(type(e).__name__, e)",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert holder.stdout.startswith("StoreBusy")
        assert "already in use by kiosk lobby-1" in holder.stdout
        assert f"pid {os.getpid()}" in holder.stdout
        with Store(tmp_path) as reader:  # readers and short-lived writers are welcome
            reader.ratings.add(rating())
    with Store(tmp_path, owner="kiosk lobby-2") as second:  # released with the first
        assert second.ratings.count() == 1
    with pytest.raises(StoreBusy), Store(tmp_path, owner="a"), Store(tmp_path, owner="b"):
        pass


# -- bad files -----------------------------------------------------------------


def corrupt_middle(data: Path) -> tuple[Path, int]:
    [path] = partition_files(data)
    lines = path.read_bytes().split(b"\n")
    offset = len(lines[0]) + 1
    lines[1] = lines[1].replace(b'"score":2', b'"score":5')
    path.write_bytes(b"\n".join(lines))
    return path, offset


def test_hand_edited_record_is_reported_with_file_and_position(tmp_path, five_ratings):
    path, _, _ = five_ratings
    data = path.parent.parent.parent
    bad, offset = corrupt_middle(data)
    before = bad.read_bytes()
    with Store(data) as store:
        with pytest.raises(StoreCorruption) as info:
            list(store.ratings.query())
        assert f"{bad}: byte {offset} (line 2" in str(info.value)
        assert "checksum mismatch" in str(info.value)
        [report] = maintenance.check(store)
        assert report.records == 4 and not report.ok
    assert bad.read_bytes() == before
    with pytest.raises(StoreCorruption, match="byte"):  # a kiosk will not start on it
        Store(data, owner="kiosk lobby-1")
    assert bad.read_bytes() == before

    with Store(data) as store:
        result = maintenance.repair(store)
        assert (result.files, result.kept) == (1, 4)
        assert [r.score for r in store.ratings.query()] == [1, 3, 4, 5]
        [saved] = result.set_aside
        assert b'"score":5' in saved.read_bytes()
        assert "checksum mismatch" in saved.with_suffix(".txt").read_text()
        assert all(r.ok for r in maintenance.check(store))


def test_store_marker_problems(tmp_path):
    Store(tmp_path).close()
    marker = tmp_path / "store.json"
    marker.write_text(json.dumps({"format": "servicecycle-store", "schema": 99}))
    with pytest.raises(StoreError, match="schema 99 was written by a newer servicecycle"):
        Store(tmp_path)
    marker.write_text("{oops")
    with pytest.raises(StoreError, match=r"store\.json: unreadable store marker"):
        Store(tmp_path)


# -- operations ------------------------------------------------------------------


def test_migrating_a_schema_1_store(tmp_path):
    """The 0.1 layout: every rating in one TinyDB JSON file, written by TinyDB itself."""
    old = [rating(T0 + timedelta(days=d, minutes=d), score=1 + d % 5) for d in range(0, 40, 3)]
    with TinyDB(tmp_path / "ratings.json") as db:
        for r in old:
            db.table("ratings").insert(r.to_record())
    with Store(tmp_path) as store:
        assert list(store.ratings.query()) == old
        assert store.meta["schema"] == SCHEMA
    assert not (tmp_path / "ratings.json").exists()
    assert (tmp_path / "migrated" / "ratings.json.schema1").exists()
    with Store(tmp_path) as store:  # opening again does not migrate twice
        assert store.ratings.count() == len(old)


def test_broken_schema_1_file_is_not_touched(tmp_path):
    (tmp_path / "ratings.json").write_text('{"ratings": {"1": {"id": ')
    with pytest.raises(StoreError, match="cannot migrate this schema-1 store") as info:
        Store(tmp_path)
    assert "Nothing was changed" in str(info.value)
    assert (tmp_path / "ratings.json").read_text() == '{"ratings": {"1": {"id": '


def test_compaction_folds_patches_and_merges_closed_months(tmp_path):
    made = [
        rating(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=d), score=1 + d % 5)
        for d in range(70)
    ]
    now = rating(datetime.now(UTC))
    with Store(tmp_path) as store:
        store.ratings.add_many(made)
        store.ratings.add(now)
        store.ratings.set_reasons(made[3], ["lost-time"])
        store.ratings.set_reasons(now, ["apathy"])
        before = list(store.ratings.query())
        result = maintenance.compact(store)
        after = list(store.ratings.query())
        assert after == before
        assert after[3].reasons == ("lost-time",)
        assert (result.merged_months, result.files_before) == (3, 71)
        names = [p.name for p in partition_files(tmp_path)]
        assert names[:3] == ["2025-01.log", "2025-02.log", "2025-03.log"]
        assert len(names) == 4
        assert b" P " not in (tmp_path / "tables" / "ratings" / names[3]).read_bytes()
        # A late rating for a merged month goes into the month file.
        late = rating(datetime(2025, 2, 10, 12, tzinfo=UTC))
        store.ratings.add(late)
        assert store.ratings.get(late.id) == late
        assert len(partition_files(tmp_path)) == 4
        stats = maintenance.stats(store)
        assert [(s.name, s.records, s.files) for s in stats] == [("ratings", 72, 4)]
        assert stats[0].oldest.startswith("2025-01-01")


def test_compaction_refuses_damaged_files(tmp_path):
    with Store(tmp_path) as store:
        for i in range(3):  # a closed month, so compaction wants to merge it
            store.ratings.add(rating(datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=i), 1 + i))
    path, _ = corrupt_middle(tmp_path)
    before = path.read_bytes()
    with Store(tmp_path) as store, pytest.raises(StoreError, match="store repair"):
        maintenance.compact(store)
    assert path.read_bytes() == before


def test_backup_is_a_store_of_its_own(tmp_path):
    with Store(tmp_path / "live") as store:
        made = [rating(T0 + timedelta(days=d)) for d in range(5)]
        store.ratings.add_many(made)
        result = maintenance.backup(store, tmp_path / "copy")
        assert result.files == 5
        with pytest.raises(StoreError, match="not empty"):
            maintenance.backup(store, tmp_path / "copy")
    with Store(tmp_path / "copy") as copy:
        assert list(copy.ratings.query()) == made
