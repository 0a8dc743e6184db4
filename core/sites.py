"""Each site's own settings, for code that serves more than one site.

A hotel chain's hub runs one rule engine over many hotels, each in its own
time zone with its own opening hours: "09:00" and "open" mean that site's
clock. A kiosk serves one site, its configuration's, which is then both the
only site known and the default for any other id a rating carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from .config import SiteSettings


class SiteRegistry:
    """Site settings by site id, with a default for ids nobody described."""

    def __init__(
        self, sites: Iterable[SiteSettings] = (), default: SiteSettings | None = None
    ) -> None:
        self._sites: dict[str, SiteSettings] = {}
        for site in sites:
            if site.id in self._sites:
                raise ValueError(f"site {site.id!r} is described twice")
            self._sites[site.id] = site
        self.default = default or next(iter(self._sites.values()), None) or SiteSettings()
        self._zones: dict[str, ZoneInfo] = {}

    @classmethod
    def of(cls, site: SiteSettings | SiteRegistry | None) -> SiteRegistry:
        """A registry from one site (a kiosk's), a registry as it is, or the defaults."""
        if isinstance(site, SiteRegistry):
            return site
        return cls([site] if site is not None else [], default=site)

    def get(self, site_id: str) -> SiteSettings:
        """The settings of ``site_id``; the default's for a site not described."""
        return self._sites.get(site_id, self.default)

    def zone(self, site_id: str) -> ZoneInfo:
        """The site's time zone (looked up once per site)."""
        zone = self._zones.get(site_id)
        if zone is None:
            zone = self._zones[site_id] = self.get(site_id).zone
        return zone

    def __iter__(self) -> Iterator[SiteSettings]:
        return iter(self._sites.values())

    def __len__(self) -> int:
        return len(self._sites)

    def __contains__(self, site_id: object) -> bool:
        return site_id in self._sites
