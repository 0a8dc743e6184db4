"""The one path a rating takes into the system, whoever hands it in.

The CLI, the kiosk and the survey page all record through :class:`Recorder`:
validate against the catalogue, store durably, then tell the plugins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .catalogue import Catalogue
from .plugins import PluginHost
from .rating import Rating
from .store import Store
from .store.contract import SiteStore

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, catalogue: Catalogue, store: SiteStore | Store, plugins: PluginHost) -> None:
        self.catalogue = catalogue
        self.store = store
        self.plugins = plugins

    def record(self, **fields: Any) -> Rating:
        """Validate, store, then announce a rating; see :meth:`Catalogue.new_rating`.

        When this returns the rating is stored; plugin failures afterwards are
        reported against the plugin and never undo it.
        """
        rating = self.catalogue.new_rating(**fields)
        self.store.ratings.add(rating)
        log.debug(
            "recorded %s %s/%s score %s", rating.id, rating.cycle, rating.moment, rating.score
        )
        self.plugins.call_each("rating_recorded", rating=rating)
        return rating

    def record_many(self, ratings: Iterable[Rating]) -> int:
        """Store ratings :meth:`Catalogue.new_rating` made (an import), then announce each.

        One fsync per partition touched instead of one per rating; as with
        :meth:`record`, a plugin's failure afterwards never undoes the write.
        """
        batch = list(ratings)
        count = self.store.ratings.add_many(batch)
        for rating in batch:
            self.plugins.call_each("rating_recorded", rating=rating)
        return count

    def add_reasons(self, rating: Rating, reasons: Iterable[str]) -> Rating:
        """Attach the reasons the customer picked after rating to the same rating."""
        checked = self.catalogue.new_rating(
            site=rating.site,
            kiosk=rating.kiosk,
            cycle=rating.cycle,
            moment=rating.moment,
            score=rating.score,
            scale=rating.scale,
            language=rating.language,
            reasons=reasons,
            flags=rating.flags,
            at=rating.at,
            id=rating.id,
        )
        self.store.ratings.set_reasons(rating, checked.reasons)
        return checked
