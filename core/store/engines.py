"""Store engines: found by entry point, chosen by the target's scheme.

An engine is a :class:`~.contract.StoreEngine` registered under the
``servicecycle.stores`` entry-point group (the data folder as ``folder``;
a PostgreSQL package as ``postgresql``), so an engine is installed, never
imported by name. ``open_store`` picks one from what it is given:

- a path, or a ``file:`` URL: the data folder;
- ``postgresql://...`` (or ``postgres://...``): the engine named ``postgresql``;
- ``<scheme>://...``: the engine named ``<scheme>``.

Every failure (no such engine, an engine that does not load) is a
:class:`~..errors.StoreError` naming the engine and what is installed.
"""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from ..errors import StoreError
from .contract import SiteStore, StoreEngine

GROUP = "servicecycle.stores"
FOLDER = "folder"
#: Other spellings of a scheme, and the engine that serves them.
ALIASES = {"postgres": "postgresql", "file": FOLDER}
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def installed_engines() -> dict[str, EntryPoint]:
    """Engines by name, as installed; the data folder is always there."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    if FOLDER not in found:  # an install whose metadata predates the group
        found[FOLDER] = EntryPoint(FOLDER, "servicecycle.core.store.folder:FolderEngine", GROUP)
    return dict(sorted(found.items()))


def load_engine(name: str) -> StoreEngine:
    """The engine registered as ``name``; StoreError (never a traceback) if it does not load."""
    engines = installed_engines()
    entry = engines.get(name)
    if entry is None:
        raise StoreError(
            f"no store engine for {name}:// is installed (installed: {', '.join(engines)})"
            + ("; install servicecycle's PostgreSQL support" if name == "postgresql" else "")
        )
    try:
        loaded = entry.load()
        engine = loaded() if isinstance(loaded, type) else loaded
    except Exception as exc:  # an engine's own bug or missing dependency, reported by name
        raise StoreError(
            f"store engine {name!r} ({entry.value}) cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(engine, StoreEngine):
        raise StoreError(
            f"store engine {name!r} ({entry.value}) is not a store engine "
            "(it needs a name and an open(target, read_only=...) method)"
        )
    return engine


def engine_for(target: str | Path) -> str:
    """The name of the engine that serves ``target``."""
    if isinstance(target, Path):
        return FOLDER
    if target.lower().startswith("file:"):
        return FOLDER
    match = _URL.match(target)
    if match is None:
        return FOLDER  # a plain path
    scheme = match.group(1).lower()
    return ALIASES.get(scheme, scheme)


def open_store(target: str | Path, *, read_only: bool = False, zone: str = "UTC") -> SiteStore:
    """Open the store ``target`` names, with the engine its scheme picks.

    ``zone``: the site's time zone, in which an engine with daily rollups counts
    a new store's local days.
    """
    name = engine_for(target)
    engine = load_engine(name)
    try:
        return engine.open(str(target), read_only=read_only, zone=zone)
    except StoreError:
        raise
    except Exception as exc:  # an engine must say what to fix; this keeps it to one line
        raise StoreError(
            f"store engine {name!r} cannot open {shown_target(target)}: {type(exc).__name__}: {exc}"
        ) from None


def shown_target(target: str | Path) -> str:
    """A target fit for a message: a URL's password is never shown."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", str(target))
