"""The hub's rules: one engine per site, all fed by one follower of the shared store.

Each site runs its own rules (its own changes, clock and opening hours) over
every kiosk of the site, so three bad check-in waits from two kiosks make one
alert. The store's change feed is read once for all sites and each change
handed to its site's engine.

Rules are decided on event time, the time the customer tapped: a rating that
arrives late (a kiosk back after a cut) goes into the windows it belongs to,
but a window that closed before it arrived stays closed — it counts in
reports, and fires no live alert. A kiosk whose clock is known to be off
(its offset beyond the hub's tolerance) has its times corrected by that
offset for the rules; the stored rating keeps the kiosk's own time.
"""

from __future__ import annotations

import copy
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ..rating import Rating
from ..rules.engine import Transition
from ..rules.follow import RatingFollower
from ..rules.loader import RuleSet
from ..rules.service import Alerting, site_ruleset
from ..runtime import Runtime
from .chain import Chain

log = logging.getLogger(__name__)

#: ``(site, kiosk) -> offset in seconds`` of that kiosk's clock when it is off, else None.
Offsets = Callable[[str, str], float | None]


def keyed_by_site(ruleset: RuleSet) -> RuleSet:
    """Every rule keyed by site too: sites share one alert book and one dispatcher."""
    rules = {}
    for rule_id, loaded in ruleset.rules.items():
        rule = loaded.rule
        if "site" not in rule.key_by:
            key_by = ("site", *rule.key_by)
            if hasattr(rule, "model_copy"):
                rule = rule.model_copy(update={"key_by": key_by})
            else:  # a Python rule object: its own copy, the plugin's is left alone
                rule = copy.copy(rule)
                rule.key_by = key_by
        rules[rule_id] = replace(loaded, rule=rule)
    return replace(ruleset, rules=rules)


class HubAlerting:
    """Alerting for every site of a chain, over one store."""

    def __init__(
        self,
        runtime: Runtime,
        chain: Chain,
        *,
        dispatcher: object | None = None,
        kiosks: Callable[[str], list[str]] = lambda site: [],
        offsets: Offsets = lambda site, kiosk: None,
        notify: Callable[..., object] | None = None,
    ) -> None:
        self.runtime = runtime
        self.chain = chain
        self.offsets = offsets
        self.dispatcher = dispatcher
        self.sites: dict[str, Alerting] = {}
        for site_id in chain.sites:
            site_runtime = Runtime(
                chain.config_of(site_id),
                runtime.plugins,
                runtime.catalogue,
                runtime.data_dir,
                runtime.store_url,
                _site=runtime.site_store,
            )
            self.sites[site_id] = Alerting(
                site_runtime,
                ruleset=keyed_by_site(site_ruleset(site_runtime)),
                dispatcher=dispatcher,  # type: ignore[arg-type]
                notify=notify,
                known_kiosks=[(site_id, k) for k in kiosks(site_id)],
                site=site_id,
            )
        self.follower: RatingFollower | None = None

    @property
    def horizon(self) -> timedelta:
        return max((a.engine.horizon for a in self.sites.values()), default=timedelta(hours=1))

    def start(self, now: datetime | None = None) -> list[Transition]:
        now = now or datetime.now(UTC)
        self.follower = RatingFollower(self.runtime.site_store.changes, now - self.horizon)
        history: dict[str, list[tuple[str, Rating]]] = defaultdict(list)
        for kind, rating in self.follower.poll():
            history[rating.site].append((kind, rating))
        transitions: list[Transition] = []
        for site_id, alerting in self.sites.items():
            transitions += alerting.start(now, history=history.get(site_id, []))
        return transitions

    def poll(self, now: datetime | None = None) -> list[Transition]:
        """Hand what the feed has had to each site's engine, then let time pass."""
        if self.follower is None:
            return self.start(now)
        now = now or datetime.now(UTC)
        wall = now.timestamp()
        transitions: list[Transition] = []
        for kind, rating in self.follower.poll():
            alerting = self.sites.get(rating.site)
            if alerting is None:
                continue  # a site this hub does not serve (taken in before it was removed)
            transitions += alerting.feed(kind, rating, self.event_time(rating, wall))
        for alerting in self.sites.values():
            transitions += alerting.tick(now)
        return transitions

    def event_time(self, rating: Rating, wall: float) -> float:
        """When the rules take ``rating`` to have happened: its time, corrected by its
        kiosk's known clock offset, and never later than now."""
        t = rating.at.timestamp()
        offset = self.offsets(rating.site, rating.kiosk)
        if offset:
            t -= offset
        return min(t, wall)

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()  # type: ignore[attr-defined]
