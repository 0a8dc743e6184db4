"""The console's report desk: a report card for a site, a region or the chain, if allowed.

One path with `servicecycle report`: :func:`~..reports.build_report` over the
store's tallies. What the desk adds is the choice a page offers (which sites,
which period, which language) and the check that the user may see every site
the report counts: a manager of one region gets 403 for the chain's report,
however the query is written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..errors import ServiceCycleError
from ..reports import Report, ReportRequest, Scope, build_report
from ..reports.export import write_csv, write_json
from ..reports.period import Period, default_period, local_day, local_midnight, period_from
from .desk import Forbidden

if TYPE_CHECKING:
    from ..fleet.chain import Chain
    from ..runtime import Runtime
    from .roles import User

#: The periods a page offers, by name: days back from today (today included).
PERIODS: dict[str, int] = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
#: Calendar periods: the running one and the last complete one.
CALENDAR = ("this-month", "last-month", "this-year", "last-year")


class ReportQueryError(ServiceCycleError):
    """A report asked for with a scope, period or date that does not exist (400)."""


@dataclass(frozen=True)
class ReportScope:
    """What a report covers: ``site:<id>``, ``region:<id>`` or ``chain``."""

    kind: str
    id: str | None
    title: str
    sites: tuple[str, ...]


class ReportDesk:
    """Report cards for the sites a user may see."""

    def __init__(self, runtime: Runtime, chain: Chain) -> None:
        self.runtime = runtime
        self.chain = chain

    def scopes(self, user: User) -> list[ReportScope]:
        """Every scope this user may ask for, widest first."""
        mine = set(user.sites(self.chain))
        found = []
        if mine and mine == set(self.chain.sites) and len(self.chain.sites) > 1:
            found.append(self._scope("chain"))
        for region, sites in self.chain.regions.items():
            if len(self.chain.regions) > 1 and set(sites) <= mine:
                found.append(self._scope(f"region:{region}"))
        found += [self._scope(f"site:{site}") for site in self.chain.sites if site in mine]
        return found

    def _scope(self, text: str) -> ReportScope:
        kind, _, key = text.partition(":")
        if kind == "chain" and not key:
            name = self.runtime.config.hub.chain
            return ReportScope("chain", None, name, tuple(self.chain.sites))
        if kind == "region" and key in self.chain.regions:
            named = next((r.name for r in self.runtime.config.hub.regions if r.id == key), None)
            return ReportScope("region", key, named or key, tuple(self.chain.regions[key]))
        if kind == "site" and key in self.chain.sites:
            return ReportScope("site", key, self.chain.sites[key].name or key, (key,))
        allowed = ["chain", *(f"region:{r}" for r in self.chain.regions)]
        allowed += [f"site:{s}" for s in self.chain.sites]
        raise ReportQueryError(f"scope {text!r} names nothing; allowed: {', '.join(allowed)}")

    def scope(self, user: User, text: str) -> ReportScope:
        """The scope ``text`` names, if ``user`` may see every one of its sites."""
        if not user.can("reports"):
            raise Forbidden(f"{user.name} ({user.role.value}) may not see reports")
        scope = self._scope(text)
        if not set(scope.sites) <= set(user.sites(self.chain)):
            raise Forbidden(f"{user.name} may not see the report of {text!r}")
        return scope

    def zone_of(self, scope: ReportScope) -> ZoneInfo:
        """A site's own time zone; a region's or the chain's: its first site's."""
        return (
            self.chain.sites[scope.sites[0]].zone if scope.sites else self.runtime.config.site.zone
        )

    def period(
        self,
        scope: ReportScope,
        name: str,
        since: str | None = None,
        until: str | None = None,
        now: datetime | None = None,
    ) -> Period:
        """The period a page names (``30d``, ``last-month``, or ``custom`` with dates)."""
        zone = self.zone_of(scope)
        if name in PERIODS:
            return default_period(zone, now, PERIODS[name])
        today = local_day(now or datetime.now(zone), zone)
        if name in CALENDAR:
            first, last = _calendar(name, today)
            return Period(local_midnight(first, zone), local_midnight(last, zone), zone)
        if name == "custom":
            try:
                return period_from(since or None, until or None, zone, now)
            except ServiceCycleError as exc:
                raise ReportQueryError(f"period: {exc}") from None
        allowed = [*PERIODS, *CALENDAR, "custom"]
        raise ReportQueryError(f"period {name!r} is not known; allowed: {', '.join(allowed)}")

    def build(self, user: User, scope: ReportScope, period: Period, language: str = "en") -> Report:
        """The report card of ``scope`` over ``period``, names in ``language``."""
        if not set(scope.sites) <= set(user.sites(self.chain)):
            raise Forbidden(f"{user.name} may not see the report of {scope.title!r}")
        single = len(self.chain.sites) == 1 and not self.runtime.config.hub.regions
        if single or scope.kind == "chain":
            # One site alone (no [hub]), or the whole chain: every rating of the store,
            # read from the chain's own rollups instead of filtering each site's.
            where = Scope()
        elif scope.kind == "site":
            where = Scope(site=scope.sites[0])
        else:
            where = Scope(sites=frozenset(scope.sites))
        request = ReportRequest(
            period=period,
            scope=where,
            low_threshold=self.runtime.config.kiosk.low_threshold,
            language=language,
        )
        return build_report(
            self.runtime.site_store,
            self.runtime.catalogue,
            request,
            site_id=scope.id or self.chain.id,
            site_name=scope.title,
        )

    def site_names(self) -> dict[str, str]:
        return {site.id: site.name or site.id for site in self.chain.sites.values()}

    @staticmethod
    def as_json(report: Report) -> str:
        out = io.StringIO()
        write_json(report, out)
        return out.getvalue()

    @staticmethod
    def as_csv(report: Report) -> str:
        out = io.StringIO()
        write_csv(report, out)
        return out.getvalue()


def _calendar(name: str, today: date) -> tuple[date, date]:
    """[first, last) days of a calendar period around ``today``."""
    month = today.replace(day=1)
    if name == "this-month":
        return month, (month + timedelta(days=32)).replace(day=1)
    if name == "last-month":
        return (month - timedelta(days=1)).replace(day=1), month
    year = today.replace(month=1, day=1)
    if name == "this-year":
        return year, year.replace(year=year.year + 1)
    return year.replace(year=year.year - 1), year
