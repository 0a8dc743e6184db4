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


KEY = "site, kiosk, cycle, moment, language, suspect, scale, score"
#: Each rollup table, and the same rows as a GROUP BY over the raw ratings computes them.
GRAINS = {
    "tally_days": (f"day, {KEY}", f"(at AT TIME ZONE z)::date, {KEY}"),
    "tally_months": (f"month, {KEY}", f"date_trunc('month', (at AT TIME ZONE z))::date, {KEY}"),
    "tally_chain_days": (
        "day, cycle, moment, language, suspect, scale, score",
        "(at AT TIME ZONE z)::date, cycle, moment, language, suspect, scale, score",
    ),
}


def tallies(url: str) -> dict[str, dict[tuple, int]]:
    """Every rollup table's rows (zero counts left out)."""
    with psycopg.connect(url) as conn:
        return {
            table: {
                tuple(row[:-1]): row[-1]
                for row in conn.execute(f"SELECT {columns}, n FROM {table} WHERE n <> 0")
            }
            for table, (columns, _) in GRAINS.items()
        }


def recount(url: str) -> dict[str, dict[tuple, int]]:
    """The rollups as a GROUP BY over the raw rows computes them."""
    found = {}
    with psycopg.connect(url) as conn:
        for table, (_, grouped) in GRAINS.items():
            rows = conn.execute(
                f"SELECT {grouped}, count(*) FROM (SELECT *, 'suspect' = ANY (flags) AS suspect,"
                " (SELECT tally_zone FROM store_settings) AS z FROM ratings) AS r"
                f" GROUP BY {grouped}"
            ).fetchall()
            found[table] = {tuple(row[:-1]): row[-1] for row in rows}
    return found


def reason_tallies(url: str) -> dict[tuple, int]:
    with psycopg.connect(url) as conn:
        return dict(
            ((kiosk, reason), n)
            for kiosk, reason, n in conn.execute(
                "SELECT kiosk, reason, sum(n) FROM reason_days GROUP BY 1, 2 HAVING sum(n) <> 0"
            )
        )


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM ratings").fetchone()[0]


@pytest.fixture
def store(pg_url: str):  # noqa: F811
    with PostgresStore(pg_url) as opened:
        yield opened


def url_of(store: PostgresStore) -> str:
    return store.db.where.url


def test_a_rating_is_stored_once_and_read_back(store: PostgresStore):
    first = rating()
    assert store.ratings.add_many([first]) == 1
    store.ratings.add(first)
    assert store.ratings.add_many([first, first]) == 0
    assert store.ratings.get(first.id) == first
    assert store.ratings.get(new_rating_id(T0)) is None
    assert store.ratings.count() == 1


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
        store.ratings.add_many(ratings)
    kept = tallies(url_of(store))
    assert kept == recount(url_of(store))
    assert sum(kept["tally_days"].values()) == store.ratings.count()


def test_ratings_are_partitioned_by_month(store: PostgresStore):
    at = [datetime(2026, 1, 31, 23, 59, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)]
    at.append(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    store.ratings.add_many([rating(a) for a in at])
    with psycopg.connect(url_of(store)) as conn:
        placed = conn.execute(
            "SELECT tableoid::regclass::text, at FROM ratings ORDER BY at"
        ).fetchall()
    assert [name for name, _ in placed] == ["ratings_2026_01", "ratings_2026_02", "ratings_2026_12"]


def test_reasons_patch_the_rating_the_feed_and_the_reason_tallies_only(store: PostgresStore):
    first = rating()
    store.ratings.add(first)
    before = tallies(url_of(store))
    store.ratings.set_reasons(first, ["lost-time"])
    store.ratings.set_reasons(first, ["lost-time"])  # unchanged: nothing written
    assert store.ratings.get(first.id).reasons == ("lost-time",)
    assert tallies(url_of(store)) == before
    assert reason_tallies(url_of(store)) == {("k1", "lost-time"): 1}
    store.ratings.set_reasons(first, ["rude", "slow"])  # replaced: the tallies move by the change
    assert reason_tallies(url_of(store)) == {("k1", "rude"): 1, ("k1", "slow"): 1}
    assert [(c.kind, c.rating.reasons) for c in store.changes.changes()] == [
        ("new", ("rude", "slow")),
        ("amend", ("rude", "slow")),
        ("amend", ("rude", "slow")),
    ]
    with pytest.raises(StoreError, match="no rating"):
        store.ratings.set_reasons(rating(T0 + timedelta(minutes=1)), ["rude"])


def test_the_feed_is_ordered_and_resumable_from_any_cursor(store: PostgresStore):
    ratings = [rating(T0 + timedelta(minutes=i)) for i in range(12)]
    feed = store.changes
    store.ratings.add_many(ratings[:5])
    store.ratings.set_reasons(ratings[0], ["rude"])
    store.ratings.add_many(ratings[3:])  # overlaps: only the new ones reach the feed
    everything = feed.changes()
    assert [c.rating.id for c in everything if c.kind == "new"] == [r.id for r in ratings]
    assert len(everything) == 13
    for i, change in enumerate(everything):
        assert feed.changes(change.cursor) == everything[i + 1 :]
    assert feed.changes(everything[2].cursor, limit=3) == everything[3:6]
    assert feed.changes(feed.start(T0 + timedelta(minutes=8)))[0].rating == ratings[8]
    with pytest.raises(StoreError, match="not a cursor"):
        feed.changes("42")
    with pytest.raises(StoreError, match="at least 1"):
        feed.changes(limit=0)


def test_a_follower_is_woken_by_notify(store: PostgresStore, pg_url: str):  # noqa: F811
    assert store.changes.wait(None, timeout=0.2) is False
    writer = threading.Timer(0.3, lambda: store.ratings.add(rating()))
    writer.start()
    started = time.monotonic()
    with PostgresStore(pg_url) as follower:
        assert follower.changes.wait(None, timeout=10) is True
    writer.join()
    assert time.monotonic() - started < 5


def test_query_streams_in_time_order_with_filters(store: PostgresStore):
    ratings = [
        rating(T0 + timedelta(hours=i), score=1 + i % 5, kiosk=f"k{i % 2}") for i in range(50)
    ]
    store.ratings.add_many(reversed(ratings))
    assert list(store.ratings.query()) == ratings
    where = RatingFilter(kiosk="k1", since=T0 + timedelta(hours=10))
    got = list(store.ratings.query(where, batch=3))
    assert got == [r for r in ratings[10:] if r.kiosk == "k1"]
    assert store.ratings.count(RatingFilter(include_suspect=False)) == 40


def test_concurrent_writers_never_double_count(pg_url: str):  # noqa: F811
    ratings = [rating(T0 + timedelta(seconds=i), score=1 + i % 5) for i in range(400)]
    stores = [PostgresStore(pg_url) for _ in range(3)]
    added: list[int] = []
    failures: list[BaseException] = []

    def write(store: PostgresStore, offset: int) -> None:
        try:
            for start in range(0, 400, 25):  # every writer writes every rating, shifted
                chunk = ratings[(start + offset) % 400 :][:25] or ratings[:25]
                added.append(store.ratings.add_many(chunk))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(s, 7 * i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(added) == 400
    assert tallies(pg_url) == recount(pg_url)
    assert sum(tallies(pg_url)["tally_days"].values()) == 400
    feed = stores[0].changes.changes(limit=10_000)
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
    with pytest.raises(StoreError, match="run `servicecycle --store URL store migrate`"):
        PostgresStore(pg_url, migrate_schema=False)


def test_a_server_restart_loses_nothing_acknowledged(
    pg_server: PgServer,  # noqa: F811
    pg_url: str,  # noqa: F811
):
    with PostgresStore(pg_url, retry_for=30) as store:
        before = [rating(T0 + timedelta(minutes=i)) for i in range(20)]
        for r in before:
            store.ratings.add(r)  # each acknowledged on return
        pg_server.restart("immediate")  # a crash, under the open connections
        after = rating(T0 + timedelta(hours=1))
        assert store.ratings.add_many([after]) == 1  # reconnected and written
        assert [r.id for r in store.ratings.query()] == [r.id for r in [*before, after]]
        assert tallies(pg_url) == recount(pg_url)
        store.alerts.append({"id": "a", "at": "2026-11-22T08:00:00Z", "event": "start"})
        assert [r["id"] for r in store.alerts.records()] == ["a"]


def test_a_server_that_stays_down_fails_the_write_clearly(
    pg_server: PgServer,  # noqa: F811
    pg_url: str,  # noqa: F811
):
    with PostgresStore(pg_url, retry_for=1) as store:
        store.ratings.add(rating())
        pg_server.stop("fast")
        try:
            with pytest.raises(StoreError) as caught:
                store.ratings.add(rating(T0 + timedelta(minutes=1)))
        finally:
            pg_server.start()
        text = str(caught.value)
        assert text.startswith("lost the connection to PostgreSQL at 127.0.0.1:")
        assert "repeat it" in text
        assert "\n" not in text
        assert pg_server.password not in text
        assert store.ratings.add_many([rating(T0 + timedelta(minutes=2))]) == 1  # back on its own
        assert store.ratings.count() == 2
