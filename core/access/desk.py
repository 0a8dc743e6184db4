"""The console's alert desk: a user's alerts, and acting on them, within what they may see.

The same core paths as `servicecycle alerts ack` and `alerts silence add`
(:meth:`AlertBook.acknowledge`, :meth:`Dispatcher.add_silence`), with the
user's name recorded; every call checks the user may see the alert's site
first, so a page cannot act on another site's alert by guessing its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..alert import Alert, AlertState
from ..rules.book import AlertBook
from .users import AccessError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..alerting.silences import Silence
    from ..fleet.chain import Chain
    from ..fleet.registry import KioskEntry
    from ..runtime import Runtime
    from .roles import User

#: Durations a silence may be set for from the console, as shown.
SILENCE_CHOICES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
}
MAX_NOTE = 500


class Forbidden(AccessError):
    """The user may not see this site (a page answers 403)."""


@dataclass(frozen=True)
class SiteAlert:
    site: str
    alert: Alert


class AlertDesk:
    """Alerts of the sites a user may see; acknowledge, comment, silence."""

    def __init__(self, runtime: Runtime, chain: Chain) -> None:
        self.runtime = runtime
        self.chain = chain

    def _site_of(self, user: User, site: str) -> str:
        if not user.may_see(self.chain, site):
            raise Forbidden(f"{user.name} may not see site {site!r}")
        return site

    def _book(self, site: str) -> AlertBook:
        # One site alone (no [hub]) keeps its alerts unstamped: its book is the whole table.
        single = len(self.chain.sites) == 1 and not self.runtime.config.hub.regions
        return AlertBook(self.runtime.site_store, None if single else site)

    def alerts(self, user: User, sites: list[str] | None = None) -> list[SiteAlert]:
        """Firing first, then pending; newest first within each."""
        chosen = [
            self._site_of(user, s) for s in (sites if sites is not None else user.sites(self.chain))
        ]
        single = len(self.chain.sites) == 1 and not self.runtime.config.hub.regions
        by_site = AlertBook(self.runtime.site_store).current_by_site()  # one pass, all sites
        found = [
            SiteAlert(site, alert)
            for site in chosen
            for alert in (
                [a for alerts in by_site.values() for a in alerts]
                if single
                else by_site.get(site, []) + by_site.get(None, [])
            )
        ]
        found.sort(key=lambda s: s.alert.since, reverse=True)
        found.sort(key=lambda s: s.alert.state is not AlertState.FIRING)
        return found

    def find(self, user: User, site: str, fingerprint: str) -> Alert:
        for alert in self._book(self._site_of(user, site)).current():
            if fingerprint in (alert.fingerprint, alert.short_id):
                return alert
        raise AccessError(f"no pending or firing alert {fingerprint!r} at site {site!r}")

    def acknowledge(self, user: User, site: str, fingerprint: str, note: str = "") -> Alert:
        """Acknowledged by ``user`` (their name is recorded), with an optional comment."""
        self._may_act(user)
        alert = self.find(user, site, fingerprint)
        return self._book(site).acknowledge(alert.fingerprint, user.name, note.strip()[:MAX_NOTE])

    def silence(
        self, user: User, site: str, fingerprint: str, period: str, comment: str = ""
    ) -> Silence:
        """Mute this alert's notifications at this site for ``period`` (one of the choices)."""
        from ..alerting.dispatcher import Dispatcher

        self._may_act(user)
        if period not in SILENCE_CHOICES:
            raise AccessError(
                f"silence period {period!r} is not one of: {', '.join(SILENCE_CHOICES)}"
            )
        alert = self.find(user, site, fingerprint)
        matchers = {"alertname": alert.rule, **dict(alert.key)}
        if self._book(site).site is not None:
            matchers["site"] = site
        dispatcher = Dispatcher.from_config(
            self.runtime.config,
            self.runtime.site_store,
            self.runtime.plugins,
            start=False,
            data_dir=self.runtime.data_dir,
        )
        text = comment.strip()[:MAX_NOTE] or f"silenced from the console by {user.name}"
        return dispatcher.add_silence(
            matchers, created_by=user.name, comment=text, duration=SILENCE_CHOICES[period]
        )

    @staticmethod
    def _may_act(user: User) -> None:
        if not user.can("act"):
            raise Forbidden(f"{user.name} may not act on alerts")


class KioskDesk:
    """The kiosks of the sites a user may see, and their health (managers and admins)."""

    def __init__(self, runtime: Runtime, chain: Chain, state_dir: Path) -> None:
        from ..fleet.registry import KioskRegistry

        self.chain = chain
        self.registry = KioskRegistry(state_dir)
        self.tolerance = runtime.config.hub.clock_tolerance.total_seconds()
        self.runtime = runtime  # its catalogue checks the settings `configure` keeps

    def kiosks(self, user: User, sites: list[str] | None = None) -> list[dict[str, Any]]:
        """Each kiosk's latest epoch, as `hub kiosks --json` gives it."""
        if not user.can("kiosks"):
            raise Forbidden(f"{user.name} may not see kiosks")
        chosen = sites if sites is not None else user.sites(self.chain)
        for site in chosen:
            if not user.may_see(self.chain, site):
                raise Forbidden(f"{user.name} may not see site {site!r}")
        latest: dict[tuple[str, str], Any] = {}
        for entry in self.registry.kiosks():
            if entry.site in chosen:
                latest[(entry.site, entry.kiosk)] = entry  # epochs come in order
        return [
            e.to_json(self.chain.region_of.get(e.site), self.tolerance) for e in latest.values()
        ]

    def configure(
        self,
        user: User,
        kiosk: str,
        *,
        site: str | None = None,
        cycle: str | None = None,
        moment: str | None = None,
        languages: Sequence[str] | str | None = None,
    ) -> KioskEntry:
        """Set what ``kiosk`` asks: its cycle, moment and languages (the first its default).

        For managers of the kiosk's site or region and admins (:class:`Forbidden`
        otherwise). ``site`` is needed only when two of the user's sites have a kiosk
        of that name; ``languages`` is a list or a form's text (``"en, tr"``). A value
        left out (None) stays as it is; the values are checked against
        the hub's catalogue (:class:`~..fleet.settings.SettingsError` names the one at
        fault and what is allowed). The same path as `servicecycle hub kiosk-set`, with
        the user's name recorded; the kiosk picks the settings up at its next contact,
        between customers. Returns the kiosk as the hub knows it now (``desired``,
        ``pending``).
        """
        from ..fleet.settings import change_settings

        if not user.can("kiosks"):
            raise Forbidden(f"{user.name} may not change kiosks")
        if site is not None and not user.may_see(self.chain, site):
            raise Forbidden(f"{user.name} may not see site {site!r}")
        change = change_settings(
            self.registry,
            self.runtime.catalogue,
            kiosk,
            site=site,
            sites=user.sites(self.chain),
            cycle=cycle,
            moment=moment,
            languages=languages,
            by=user.name,
        )
        return change.entry
