"""Helpers for the report tests: ratings written into a real store at chosen times.

No tests here; pytest collects the module only because of its name.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from servicecycle.core import Catalogue, Rating, Store
from servicecycle.core.rating import new_rating_id

ISTANBUL = ZoneInfo("Europe/Istanbul")  # UTC+3 all year: local midnight is 21:00 UTC


def rating(
    catalogue: Catalogue,
    at: datetime,
    score: int,
    *,
    moment: str = "check-out-wait",
    cycle: str = "hotel-guest",
    scale: int | None = None,
    site: str = "hotel-a",
    kiosk: str = "lobby-1",
    language: str = "en",
    reasons: Iterable[str] = (),
    suspect: bool = False,
) -> Rating:
    return catalogue.new_rating(
        site=site,
        kiosk=kiosk,
        cycle=cycle,
        moment=moment,
        score=score,
        scale=scale,
        language=language,
        reasons=reasons,
        flags=("suspect",) if suspect else (),
        at=at,
        id=new_rating_id(at),
    )


def store_with(path: Path, ratings: Iterable[Rating]) -> Store:
    store = Store(path)
    store.ratings.add_many(list(ratings))
    return store


#: Moments the random histories use: (cycle, moment, its reasons, its praise).
MOMENTS = (
    ("hotel-guest", "check-out-wait", ("lost-time", "wrong-pace"), ("quick-service",)),
    ("hotel-guest", "bill-accuracy", ("bill-error", "rule-book"), ("problem-solved",)),
    ("hotel-guest", "restaurant-bar", ("coldness", "apathy"), ("friendly-staff",)),
    ("banking-branch", "wait-time", ("lost-time", "wrong-pace"), ("quick-service",)),
)


def random_history(
    catalogue: Catalogue, rng: random.Random, start: datetime, days: int, per_day: int
) -> list[Rating]:
    """Ratings of several moments, sites, kiosks, languages and both scales; some suspect."""
    found = []
    for day in range(days):
        for _ in range(rng.randint(per_day // 2, per_day)):
            at = start + timedelta(days=day, seconds=rng.randint(0, 86399))
            cycle, moment, bad, good = rng.choice(MOMENTS)
            scale = rng.choice((4, 5, 5))
            score = rng.randint(1, scale)
            reasons = [rng.choice(bad)] if score <= 2 and rng.random() < 0.7 else []
            if score == scale and rng.random() < 0.3:
                reasons = [good[0]]
            found.append(
                rating(
                    catalogue,
                    at,
                    score,
                    moment=moment,
                    cycle=cycle,
                    scale=scale,
                    site=rng.choice(("hotel-a", "hotel-b")),
                    kiosk=rng.choice(("lobby-1", "lobby-2", "exit")),
                    language=rng.choice(("en", "tr", "ru")),
                    reasons=reasons,
                    suspect=rng.random() < 0.05,
                )
            )
    found.sort(key=lambda r: r.at)
    return found


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
