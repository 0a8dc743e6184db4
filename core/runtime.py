"""Everything one process needs, wired once: config, plugins, catalogue, store.

The CLI, the kiosk and the survey page each open a :class:`Runtime`, so they
share one path through core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import Catalogue
from .config import Config, load_config, resolve_data_dir, resolve_store_url
from .cycle import Cycle, Moment, Stage
from .errors import ConfigError, StoreError
from .plugins import PluginHost
from .recorder import Recorder
from .store import Store
from .store.contract import SiteStore
from .store.engines import FOLDER, engine_for, open_store, shown_target
from .store.folder import FolderStore, folder_path

#: The cycle a fresh install asks about when the configuration names none.
PREFERRED_CYCLE = "hotel-guest"


@dataclass
class Runtime:
    config: Config
    plugins: PluginHost
    catalogue: Catalogue
    data_dir: Path
    #: The store URL (``--store``, ``[store] url``); None: the data folder ``data_dir``.
    store_url: str | None = None
    _store: Store | None = field(default=None, repr=False)
    _site: SiteStore | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        config: Config | Path | str | None = None,
        *,
        data_dir: Path | str | None = None,
        plugins: PluginHost | None = None,
        store_url: str | None = None,
    ) -> Runtime:
        """Load configuration and plugins; the store opens on first use."""
        if not isinstance(config, Config):
            config = load_config(config)
        plugins = plugins if plugins is not None else PluginHost.discover()
        catalogue = Catalogue.from_plugins(plugins)
        url = resolve_store_url(config, store_url)
        if url is not None and engine_for(url) == FOLDER:
            data_dir, url = data_dir or folder_path(url), None
        return cls(config, plugins, catalogue, resolve_data_dir(config, data_dir), url)

    @property
    def store(self) -> Store:
        """The data folder itself: what a kiosk owns and the maintenance commands repair.

        Everything else asks :attr:`site_store`, whatever the engine.
        """
        if self.store_url is not None:
            raise StoreError(
                f"this needs a data folder, and the store is {self.store_url_shown} "
                "(leave out --store / [store] url to use the data folder)"
            )
        if self._store is None:
            self._store = Store(self.data_dir)
        return self._store

    @property
    def store_url_shown(self) -> str:
        """The store URL as messages show it (never its password)."""
        return shown_target(self.store_url or str(self.data_dir))

    def own_store(self, owner: str) -> Store:
        """Open the store as its one owner (a kiosk); a second owner is refused.

        A kiosk records into its own data folder, server or no server: a store
        URL is refused here.
        """
        if self.store_url is not None:
            raise StoreError(
                f"a kiosk records into its own data folder, not into {self.store_url_shown}: "
                "leave out --store / [store] url on the kiosk machine"
            )
        if self._store is not None and self._store.owner_lock is None:
            self._store.close()
            self._store = None
            self._site = None
        if self._store is None:
            self._store = Store(self.data_dir, owner=owner)
            self._site = None
        return self._store

    @property
    def site_store(self) -> SiteStore:
        """The store behind the store contract: what every consumer asks, whatever the engine."""
        if self._site is None:
            if self.store_url is None:
                self._site = FolderStore(self.store)
            else:
                self._site = open_store(self.store_url, zone=self.config.site.timezone)
        return self._site

    @property
    def recorder(self) -> Recorder:
        return Recorder(self.catalogue, self.site_store, self.plugins)

    def kiosk_moment(
        self, cycle_id: str | None = None, moment_id: str | None = None
    ) -> tuple[Cycle, Stage, Moment]:
        """The moment a kiosk asks about: arguments, else config, else defaults."""
        cycle_id = cycle_id or self.config.kiosk.cycle
        moment_id = moment_id or self.config.kiosk.moment
        if cycle_id is None:
            if not self.catalogue.cycles:
                raise ConfigError(
                    self.config.source,
                    [
                        "kiosk.cycle: no cycles are loaded (is SERVICECYCLE_LOAD_PLUGINS too strict?)"
                    ],
                )
            cycle_id = (
                PREFERRED_CYCLE
                if PREFERRED_CYCLE in self.catalogue.cycles
                else sorted(self.catalogue.cycles)[0]
            )
        cycle = self.catalogue.cycles.get(cycle_id)
        if cycle is None:
            raise ConfigError(
                self.config.source,
                [
                    f"kiosk.cycle = {cycle_id!r}: unknown; known cycles: "
                    f"{', '.join(sorted(self.catalogue.cycles)) or '(none loaded)'}"
                ],
            )
        if moment_id is None:
            critical = cycle.critical_moments()
            stage, moment = critical[0] if critical else next(cycle.moments())
            return cycle, stage, moment
        found = cycle.find_moment(moment_id)
        if found is None:
            raise ConfigError(
                self.config.source,
                [
                    f"kiosk.moment = {moment_id!r}: not a moment of {cycle.id!r}; its moments: "
                    + ", ".join(m.id for _, m in cycle.moments())
                ],
            )
        return cycle, *found

    def close(self) -> None:
        if self._site is not None:
            self._site.close()
            self._site = None
        if self._store is not None:
            self._store.close()
            self._store = None
