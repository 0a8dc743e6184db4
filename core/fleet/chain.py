"""The chain a hub serves: regions of sites, and each site's own configuration.

A site of the chain is configured like a kiosk's ``[site]`` (time zone,
opening hours), plus its languages, kiosks and rule changes; :meth:`Chain.config_of`
turns one into the :class:`~..config.Config` its rule engine runs with, so
the engine cannot tell a hub's site from a kiosk's.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..config import Config, FleetSite, RulesSettings, SiteSettings
from ..errors import ServiceCycleError

#: The region of a hub that describes no regions: the file's own ``[site]``.
DEFAULT_REGION = "default"


class Chain:
    """Sites by id, each in one region."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.id = config.hub.chain
        self.sites: dict[str, FleetSite] = {}
        self.region_of: dict[str, str] = {}
        self.regions: dict[str, list[str]] = {}
        regions = config.hub.regions
        if not regions:
            site = FleetSite(**config.site.model_dump())
            self._add(DEFAULT_REGION, site)
        for region in regions:
            for site in region.sites:
                self._add(region.id, site)

    def _add(self, region: str, site: FleetSite) -> None:
        self.sites[site.id] = site
        self.region_of[site.id] = region
        self.regions.setdefault(region, []).append(site.id)

    def site(self, site_id: str) -> FleetSite:
        """The site ``site_id``; an error listing the sites otherwise."""
        site = self.sites.get(site_id)
        if site is None:
            raise ServiceCycleError(
                f"site {site_id!r} is not one of this hub's sites; its sites: "
                f"{', '.join(sorted(self.sites))} (add it under [[hub.regions.sites]])"
            )
        return site

    def check_kiosk(self, site_id: str, kiosk: str) -> None:
        site = self.site(site_id)
        if site.kiosks and kiosk not in site.kiosks:
            raise ServiceCycleError(
                f"kiosk {kiosk!r} is not one of site {site_id!r}'s kiosks: "
                f"{', '.join(site.kiosks)} (add it to the site's kiosks list)"
            )

    def scope(self, sites: Iterable[str] = (), regions: Iterable[str] = ()) -> list[str]:
        """The site ids a ``--site``/``--region`` choice names (none: the whole chain)."""
        chosen: list[str] = []
        for region in regions:
            if region not in self.regions:
                raise ServiceCycleError(
                    f"region {region!r} is not one of this hub's regions: "
                    f"{', '.join(sorted(self.regions))}"
                )
            chosen += self.regions[region]
        for site in sites:
            self.site(site)
            chosen.append(site)
        return list(dict.fromkeys(chosen)) or list(self.sites)

    def config_of(self, site_id: str) -> Config:
        """The configuration the rule engine of ``site_id`` runs with."""
        site = self.site(site_id)
        base = self.config.rules
        mine = site.rules
        rules = RulesSettings(
            files=(*base.files, *mine.files),
            add=(*base.add, *mine.add),
            disable=(*base.disable, *mine.disable),
            override={**base.override, **mine.override},
        )
        fields = {k: v for k, v in site.model_dump().items() if k in SiteSettings.model_fields}
        fields["name"] = site.name or site.id
        update: dict[str, object] = {"site": SiteSettings(**fields), "rules": rules}
        if site.languages:
            update["kiosk"] = self.config.kiosk.model_copy(update={"languages": site.languages})
        config = self.config.model_copy(update=update)
        config._source = self.config.source
        return config
