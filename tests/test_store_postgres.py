"""Engine 2, PostgreSQL: against a real throw-away server (tests/pg.py), no mocks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.core.errors import StoreError
from servicecycle.core.rating import Rating, new_rating_id
from servicecycle.core.store import RatingFilter
from servicecycle.core.store.postgres import PostgresStore, migrate, parse_url
from servicecycle.core.store.postgres.schema import SCHEMA

from .pg import PgServer, pg_server, pg_url  # noqa: F401

T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


def rating(
    at: datetime = T0, *, score: int = 3, kiosk: str = "k1", moment: str = "check-out-wait"
) -> Rating:
    return Rating(
        id=new_rating_id(at),
        at=at,
        site="lobby",
        kiosk=kiosk,
        cycle="hotel-guest",
        stage="departure",
        moment=moment,
        score=score,
        scale=5,
        language="en",
        flags=("suspect",) if score == 1 else (),
    )


def recount(url: str) -> dict[tuple, int]:
    """The tallies as a GROUP BY over the raw rows computes them."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT date_trunc('hour', at, 'UTC'), site, kiosk, cycle, moment, scale, score,"
            " (SELECT coalesce(array_agg(DISTINCT f ORDER BY f), '{}') FROM unnest(flags) f),"
            " count(*) FROM ratings GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
        ).fetchall()
    return {(*row[:7], tuple(row[7])): row[8] for row in rows}


@pytest.fixture
def store(pg_url: str):  # noqa: F811
    with PostgresStore(pg_url) as opened:
        yield opened


def test_a_rating_is_stored_once_and_read_back(store: PostgresStore):
    first = rating()
    assert store.add(first) is True
    assert store.add(first) is False
    assert store.add_many([first, first]) == 0
    assert store.get(first.id) == first
    assert store.get(new_rating_id(T0)) is None
    assert store.count() == 1


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.integers(0, 24 * 70),  # hour offset: a few months
                st.integers(1, 5),
                st.sampled_from(["k1", "k2"]),
                st.integers(0, 9),  # index into ratings already made: a duplicate
            ),
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_tallies_always_equal_a_recount_with_duplicates(store: PostgresStore, batches):
    made: list[Rating] = []
    for batch in batches:
        ratings = []
        for hours, score, kiosk, again in batch:
            if made and again < 3:
                ratings.append(made[again % len(made)])  # a duplicate, in or across batches
            else:
                new = rating(T0 + timedelta(hours=hours, minutes=again), score=score, kiosk=kiosk)
                made.append(new)
                ratings.append(new)
        store.add_many(ratings)
    tallies = store.tallies()
    assert tallies == recount(store.where.url)
    assert sum(tallies.values()) == store.count()


def test_ratings_are_partitioned_by_month(store: PostgresStore):
    at = [datetime(2026, 1, 31, 23, 59, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)]
    at.append(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    store.add_many([rating(a) for a in at])
    with psycopg.connect(store.where.url) as conn:
        placed = conn.execute(
            "SELECT tableoid::regclass::text, at FROM ratings ORDER BY at"
        ).fetchall()
    assert [name for name, _ in placed] == ["ratings_2026_01", "ratings_2026_02", "ratings_2026_12"]


def test_reasons_patch_the_rating_and_the_feed_but_no_tally(store: PostgresStore):
    first = rating()
    store.add(first)
    before = store.tallies()
    assert store.add_reasons(first.id, ["lost-time"]) is True
    assert store.add_reasons(first.id, ["lost-time"]) is False  # unchanged: nothing written
    assert store.get(first.id).reasons == ("lost-time",)
    assert store.tallies() == before
    assert [(c.kind, c.rating.reasons) for c in store.changes()] == [
        ("added", ("lost-time",)),
        ("reasons", ("lost-time",)),
    ]
    with pytest.raises(StoreError, match="no rating"):
        store.add_reasons(new_rating_id(T0), ["rude"])


def test_the_feed_is_ordered_and_resumable_from_any_cursor(store: PostgresStore):
    ratings = [rating(T0 + timedelta(minutes=i)) for i in range(12)]
    store.add_many(ratings[:5])
    store.add_reasons(ratings[0].id, ["rude"])
    store.add_many(ratings[3:])  # overlaps: only the new ones reach the feed
    everything = store.changes()
    assert [c.rating.id for c in everything if c.kind == "added"] == [r.id for r in ratings]
    assert len(everything) == 13
    for i, change in enumerate(everything):
        assert store.changes(change.cursor) == everything[i + 1 :]
    assert store.changes(everything[2].cursor, limit=3) == everything[3:6]
    with pytest.raises(StoreError, match="not a cursor"):
        store.changes("42")


def test_a_follower_is_woken_by_notify(store: PostgresStore, pg_url: str):  # noqa: F811
    assert store.wait_for_changes(None, timeout=0.2) is False
    writer = threading.Timer(0.3, lambda: store.add(rating()))
    writer.start()
    started = time.monotonic()
    with PostgresStore(pg_url) as follower:
        assert follower.wait_for_changes(None, timeout=10) is True
    writer.join()
    assert time.monotonic() - started < 5


def test_query_streams_in_time_order_with_filters(store: PostgresStore):
    ratings = [
        rating(T0 + timedelta(hours=i), score=1 + i % 5, kiosk=f"k{i % 2}") for i in range(50)
    ]
    store.add_many(reversed(ratings))
    assert list(store.query()) == ratings
    got = list(store.query(RatingFilter(kiosk="k1", since=T0 + timedelta(hours=10)), batch=3))
    assert got == [r for r in ratings[10:] if r.kiosk == "k1"]
    assert store.count(RatingFilter(include_suspect=False)) == 40


def test_concurrent_writers_never_double_count(pg_url: str):  # noqa: F811
    ratings = [rating(T0 + timedelta(seconds=i), score=1 + i % 5) for i in range(400)]
    stores = [PostgresStore(pg_url) for _ in range(3)]
    added: list[int] = []
    failures: list[BaseException] = []

    def write(store: PostgresStore, offset: int) -> None:
        try:
            for start in range(0, 400, 25):  # every writer writes every rating, shifted
                chunk = ratings[(start + offset) % 400 :][:25] or ratings[:25]
                added.append(store.add_many(chunk))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(s, 7 * i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(added) == 400
    assert stores[0].tallies() == recount(pg_url)
    assert sum(stores[0].tallies().values()) == 400
    feed = stores[0].changes(limit=10_000)
    assert Counter(c.rating.id for c in feed) == Counter(r.id for r in ratings)
    for s in stores:
        s.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:pw@127.0.0.1/db", "must start with postgresql://"),
        ("postgresql:/u:pw@127.0.0.1/db", "must start with postgresql://"),
        ("postgresql://u:pw@127.0.0.1:99999/db", "port is not a number"),
        ("postgresql://u:pw@127.0.0.1:port/db", "port is not a number"),
        ("postgresql://u:pw@127.0.0.1:5432", "names no database"),
        ("postgresql://u:pw@127.0.0.1:5432/", "names no database"),
    ],
)
def test_a_malformed_url_is_one_line_naming_the_fix(url: str, message: str):
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "pw" not in str(caught.value).replace("postgresql://", "")


def free_closed_port() -> int:
    from .pg import free_port

    return free_port()


def connect_failure(url: str) -> str:
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    text = str(caught.value)
    assert "\n" not in text
    return text


def test_an_unreachable_server_is_named(pg_server: PgServer):  # noqa: F811
    port = free_closed_port()
    text = connect_failure(f"postgresql://{pg_server.user}:sekrit@127.0.0.1:{port}/x")
    assert text.startswith(f"cannot reach PostgreSQL at 127.0.0.1:{port}: is the server running")
    assert "sekrit" not in text


def test_a_wrong_password_is_named(pg_server: PgServer, pg_url: str):  # noqa: F811
    database = parse_url(pg_url).database
    text = connect_failure(pg_server.url(database, password="not-the-password"))
    assert "wrong user name or password" in text
    assert "not-the-password" not in text
    assert pg_server.password not in text


def test_a_missing_database_is_named(pg_server: PgServer):  # noqa: F811
    text = connect_failure(pg_server.url("no_such_db"))
    assert "has no database 'no_such_db'" in text
    assert pg_server.password not in text


def test_migration_is_idempotent_and_a_newer_schema_is_refused(pg_url: str):  # noqa: F811
    with psycopg.connect(pg_url) as conn:
        assert migrate(conn) == SCHEMA
        assert migrate(conn) == 0
        conn.execute("UPDATE servicecycle_schema SET version = %s", (SCHEMA + 1,))
        conn.commit()
    with pytest.raises(StoreError) as caught:
        PostgresStore(pg_url)
    assert f"servicecycle schema {SCHEMA + 1}, newer than" in str(caught.value)
    assert "upgrade servicecycle" in str(caught.value)


def test_an_unmigrated_database_is_refused_when_migration_is_off(pg_url: str):  # noqa: F811
    with pytest.raises(StoreError, match="run `servicecycle store migrate`"):
        PostgresStore(pg_url, migrate_schema=False)


def test_a_server_restart_loses_nothing_acknowledged(
    pg_server: PgServer,  # noqa: F811
    pg_url: str,  # noqa: F811
):
    with PostgresStore(pg_url, retry_for=30) as store:
        before = [rating(T0 + timedelta(minutes=i)) for i in range(20)]
        for r in before:
            store.add(r)  # each acknowledged on return
        pg_server.restart("immediate")  # a crash, under the open connection
        after = rating(T0 + timedelta(hours=1))
        assert store.add(after) is True  # reconnected and written
        assert [r.id for r in store.query()] == [r.id for r in [*before, after]]
        assert store.tallies() == recount(pg_url)


def test_a_server_that_stays_down_fails_the_write_clearly(
    pg_server: PgServer,  # noqa: F811
    pg_url: str,  # noqa: F811
):
    with PostgresStore(pg_url, retry_for=1) as store:
        store.add(rating())
        pg_server.stop("fast")
        try:
            with pytest.raises(StoreError) as caught:
                store.add(rating(T0 + timedelta(minutes=1)))
        finally:
            pg_server.start()
        text = str(caught.value)
        assert text.startswith("lost the connection to PostgreSQL at 127.0.0.1:")
        assert "repeat it" in text
        assert "\n" not in text
        assert pg_server.password not in text
        assert store.add(rating(T0 + timedelta(minutes=2))) is True  # back on its own
        assert store.count() == 2
