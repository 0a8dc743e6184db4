"""Reports from PostgreSQL's rollups: a few GROUP BY queries, never a pass over the ratings.

The rollups (``tally_days``, ``tally_months``, ``tally_chain_days``, ``reason_days``)
count local days of the store's tally zone and are written in the same transaction
as the ratings. A report whose windows are whole local days of that zone reads them:
whole months from ``tally_months``, the days around them from ``tally_days``, the
chain's daily series from ``tally_chain_days``. Any other report (another time zone,
a window edge inside a day) is computed by the same queries over the ratings
themselves, which is also the reference the rollups are checked against
(``use_cache=False``). Both give the data folder's figures exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import psycopg

from ...rating import parse_time
from .db import Database

if TYPE_CHECKING:
    from ...reports.collect import Progress, Rollups, Scope, Windows
    from ...reports.figures import Tally
    from ...reports.known import StoredValues

#: Columns every source below exposes, in this order (``day`` is NULL for a month row).
SOURCE = "month, day, site, kiosk, cycle, moment, language, suspect, scale, score, n"
_KEY = "site, kiosk, cycle, moment, language, suspect, scale, score, n"
_REASON_KEY = "site, kiosk, cycle, moment, language, suspect, reason, n"


def _aligned(edge: str, zone: ZoneInfo) -> date | None:
    """The local date ``edge`` (a stored UTC text) is the midnight of, or None."""
    from ...reports.period import local_midnight, utc_text

    local = parse_time(edge).astimezone(zone)
    day = local.date()
    return day if utc_text(local_midnight(day, zone)) == edge else None


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


class Span:
    """Where the ratings of [since, until) are counted: rollups, or the ratings themselves.

    ``reasons``: the reasons' rollups (a row per reason picked) instead of the scores'.
    """

    def __init__(self, since: Any, until: Any, zone: str, raw: bool, reasons: bool = False) -> None:
        self.since, self.until, self.zone, self.raw = since, until, zone, raw
        self.reasons = reasons
        self.key = _REASON_KEY if reasons else _KEY
        self.days_table, self.months_table = (
            ("reason_days", "reason_months") if reasons else ("tally_days", "tally_months")
        )

    def sql(self) -> tuple[str, list[Any]]:
        if self.raw:
            picked = " CROSS JOIN LATERAL unnest(reasons) AS reason" if self.reasons else ""
            counted = "reason" if self.reasons else "scale, score"
            return (
                "SELECT date_trunc('month', (at AT TIME ZONE %s))::date AS month,"
                " (at AT TIME ZONE %s)::date AS day, site, kiosk, cycle, moment, language,"
                f" 'suspect' = ANY (flags) AS suspect, {counted}, 1::bigint AS n"
                f" FROM ratings{picked} WHERE at >= %s AND at < %s",
                [self.zone, self.zone, self.since, self.until],
            )
        first, last = self.since, self.until
        whole_from = first if first.day == 1 else _next_month(first)
        whole_to = last.replace(day=1)
        if whole_from >= whole_to:
            return self.days([(first, last)])
        parts, params = [], []
        parts.append(
            f"SELECT month, NULL::date AS day, {self.key} FROM {self.months_table}"
            " WHERE month >= %s AND month < %s"
        )
        params += [whole_from, whole_to]
        days, day_params = self.days([(first, whole_from), (whole_to, last)])
        return " UNION ALL ".join([*parts, days]), params + day_params

    def days(self, ranges: list[tuple[date, date]]) -> tuple[str, list[Any]]:
        conditions, params = [], []
        for a, b in ranges:
            if a < b:
                conditions.append("(day >= %s AND day < %s)")
                params += [a, b]
        where = " OR ".join(conditions) or "false"
        return (
            f"SELECT date_trunc('month', day)::date AS month, day, {self.key}"
            f" FROM {self.days_table} WHERE {where}",
            params,
        )


class PostgresTallies:
    """The contract's :class:`~..contract.Tallies` over the rollup tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def rollup(
        self,
        zone: ZoneInfo,
        windows: Windows,
        scope: Scope,
        *,
        use_cache: bool = True,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> Rollups:
        from ...reports.collect import Rollups

        edges = {
            name: _aligned(getattr(windows, name), zone)
            for name in ("previous_since", "since", "until", "history_since")
        }
        raw = not use_cache or zone.key != self.db.tally_zone or None in edges.values()
        at: dict[str, Any] = (
            {name: parse_time(getattr(windows, name)) for name in edges} if raw else dict(edges)
        )
        filters, params = self._scope(scope)
        rollups = Rollups()
        steps: list[Callable[[psycopg.Connection], None]] = [
            lambda conn: self._current(conn, Span(at["since"], at["until"], zone.key, raw),
                                       filters, params, rollups),
            lambda conn: self._previous(conn, Span(at["previous_since"], at["since"], zone.key, raw),
                                        filters, params, rollups),
            lambda conn: self._monthly(conn, Span(at["history_since"], at["until"], zone.key, raw),
                                       filters, params, rollups),
            lambda conn: self._daily(conn, at["since"], at["until"], zone.key, raw, scope,
                                     filters, params, rollups),
            lambda conn: self._reasons(conn, at, zone.key, raw, filters, params, rollups),
            lambda conn: self._hours(conn, at["since"], at["until"], zone.key, raw, scope,
                                     filters, params, rollups),
        ]  # fmt: skip
        for done, step in enumerate(steps, 1):
            self.db.run(step)
            if progress is not None:
                progress(done, len(steps))
        rollups.sources.records = sum(t.count for t in rollups.current.values())
        return rollups

    def values(
        self,
        zone: ZoneInfo,
        *,
        use_cache: bool = True,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> StoredValues:
        from ...reports.known import StoredValues

        rows = self.db.run(
            lambda conn: conn.execute(
                "SELECT DISTINCT site, kiosk, language, cycle, moment FROM tally_months"
                if use_cache
                else "SELECT DISTINCT site, kiosk, language, cycle, moment FROM ratings"
            ).fetchall()
        )
        found = StoredValues()
        for site, kiosk, language, cycle, moment in rows:
            found.sites.add(site)
            found.kiosks.add(kiosk)
            found.languages.add(language)
            found.moments.setdefault(cycle, set()).add(moment)
        if progress is not None:
            progress(1, 1)
        return found

    # -- the queries ------------------------------------------------------------------

    @staticmethod
    def _scope(scope: Scope) -> tuple[str, list[Any]]:
        parts, params = ["n <> 0"], []
        if not scope.include_suspect:
            parts.append("NOT suspect")
        if scope.cycles is not None:
            parts.append("cycle = ANY (%s)")
            params.append(sorted(scope.cycles))
        for name in ("site", "kiosk", "language"):
            value = getattr(scope, name)
            if value is not None:
                parts.append(f"{name} = %s")
                params.append(value)
        if scope.sites is not None:
            parts.append("site = ANY (%s)")
            params.append(sorted(scope.sites))
        return " AND ".join(parts), params

    def _current(
        self,
        conn: psycopg.Connection,
        span: Span,
        filters: str,
        params: list[Any],
        rollups: Rollups,
    ) -> None:
        source, source_params = span.sql()
        rows = conn.execute(
            "SELECT GROUPING(site, kiosk, language), cycle, moment, site, kiosk, language,"
            f" scale, score, sum(n)::bigint FROM ({source}) AS s WHERE {filters}"
            " GROUP BY GROUPING SETS ((cycle, moment, scale, score),"
            " (cycle, site, moment, scale, score), (cycle, kiosk, moment, scale, score),"
            " (cycle, language, moment, scale, score))",
            [*source_params, *params],
        ).fetchall()
        # GROUPING bits: site 4, kiosk 2, language 1 (a bit set = not grouped by it).
        tables = {
            7: rollups.current,
            3: rollups.by_site,
            5: rollups.by_kiosk,
            6: rollups.by_language,
        }
        for bits, cycle, moment, site, kiosk, language, scale, score, n in rows:
            if bits == 7:
                key: tuple[str, ...] = (cycle, moment)
            elif bits == 3:
                key = (cycle, site, moment)
            elif bits == 5:
                key = (cycle, kiosk, moment)
            else:
                key = (cycle, language, moment)
            _count(tables[bits], key, scale, score, n)

    def _previous(
        self,
        conn: psycopg.Connection,
        span: Span,
        filters: str,
        params: list[Any],
        rollups: Rollups,
    ) -> None:
        source, source_params = span.sql()
        rows = conn.execute(
            f"SELECT cycle, moment, scale, score, sum(n)::bigint FROM ({source}) AS s WHERE {filters}"
            " GROUP BY cycle, moment, scale, score",
            [*source_params, *params],
        ).fetchall()
        for cycle, moment, scale, score, n in rows:
            _count(rollups.previous, (cycle, moment), scale, score, n)

    def _monthly(
        self,
        conn: psycopg.Connection,
        span: Span,
        filters: str,
        params: list[Any],
        rollups: Rollups,
    ) -> None:
        source, source_params = span.sql()
        rows = conn.execute(
            f"SELECT month, cycle, scale, score, sum(n)::bigint FROM ({source}) AS s WHERE {filters}"
            " GROUP BY month, cycle, scale, score",
            [*source_params, *params],
        ).fetchall()
        for month, cycle, scale, score, n in rows:
            _count(rollups.monthly, (month.isoformat()[:7], cycle), scale, score, n)

    def _daily(
        self,
        conn: psycopg.Connection,
        since: Any,
        until: Any,
        zone: str,
        raw: bool,
        scope: Scope,
        filters: str,
        params: list[Any],
        rollups: Rollups,
    ) -> None:
        if raw:
            source, source_params = Span(since, until, zone, True).sql()
        elif scope.site is None and scope.kiosk is None and scope.sites is None:
            source = (
                "SELECT day, cycle, moment, language, suspect, scale, score, n"
                " FROM tally_chain_days WHERE day >= %s AND day < %s"
            )
            source_params = [since, until]
        else:  # straight from the table: no month column to compute for 10^5 rows
            source = f"SELECT day, {_KEY} FROM tally_days WHERE day >= %s AND day < %s"
            source_params = [since, until]
        rows = conn.execute(
            f"SELECT day, cycle, moment, scale, score, sum(n)::bigint FROM ({source}) AS s"
            f" WHERE {filters} GROUP BY day, cycle, moment, scale, score",
            [*source_params, *params],
        ).fetchall()
        for day, cycle, moment, scale, score, n in rows:
            _count(rollups.daily, (day.isoformat(), cycle, moment), scale, score, n)

    def _hours(
        self,
        conn: psycopg.Connection,
        since: Any,
        until: Any,
        zone: str,
        raw: bool,
        scope: Scope,
        filters: str,
        params: list[Any],
        rollups: Rollups,
    ) -> None:
        """The heat map's (weekday, local hour) tallies: the hour rollups, or the ratings."""
        if raw or scope.kiosk is not None:  # the hour rollups keep no kiosk column
            source = (
                "SELECT (at AT TIME ZONE %s)::date AS day,"
                " extract(hour FROM at AT TIME ZONE %s)::int AS hour, site, kiosk, cycle,"
                " language, 'suspect' = ANY (flags) AS suspect, scale, score, 1::bigint AS n"
                " FROM ratings WHERE at >= %s AND at < %s"
            )
            if raw:
                source_params = [zone, zone, since, until]
            else:  # whole local days of the tally zone
                source_params = [
                    zone,
                    zone,
                    datetime.combine(since, time(0), ZoneInfo(zone)),
                    datetime.combine(until, time(0), ZoneInfo(zone)),
                ]
        elif scope.site is None and scope.sites is None:
            source = (
                "SELECT day, hour, cycle, language, suspect, scale, score, n"
                " FROM tally_chain_hours WHERE day >= %s AND day < %s"
            )
            source_params = [since, until]
        else:
            source = (
                "SELECT day, hour, site, cycle, language, suspect, scale, score, n"
                " FROM tally_hours WHERE day >= %s AND day < %s"
            )
            source_params = [since, until]
        rows = conn.execute(
            "SELECT cycle, extract(isodow FROM day)::int - 1, hour, scale, score, sum(n)::bigint"
            f" FROM ({source}) AS s WHERE {filters} GROUP BY 1, 2, 3, 4, 5",
            [*source_params, *params],
        ).fetchall()
        for cycle, weekday, hour, scale, score, n in rows:
            _count(rollups.hours, (cycle, int(weekday), int(hour)), scale, score, n)

    def _reasons(
        self,
        conn: psycopg.Connection,
        at: dict[str, Any],
        zone: str,
        raw: bool,
        filters: str,
        params: list[Any],
        rollups: Rollups,
    ) -> None:
        for table, since, until in (
            (rollups.current, at["since"], at["until"]),
            (rollups.previous, at["previous_since"], at["since"]),
        ):
            source, source_params = Span(since, until, zone, raw, reasons=True).sql()
            rows = conn.execute(
                f"SELECT cycle, moment, reason, sum(n)::bigint FROM ({source}) AS s WHERE {filters}"
                " GROUP BY cycle, moment, reason",
                [*source_params, *params],
            ).fetchall()
            for cycle, moment, reason, n in sorted(rows):
                tally = table.get((cycle, moment))
                if n and tally is not None:
                    tally.reasons[reason] = int(n)


def _count(table: dict[Any, Tally], key: Any, scale: int, score: int, n: int) -> None:
    from ...reports.figures import Tally, slot

    tally = table.get(key)
    if tally is None:
        tally = table[key] = Tally()
    tally.counts[slot(int(scale), int(score))] += int(n)
