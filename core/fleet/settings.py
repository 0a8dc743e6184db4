"""What a kiosk asks, set centrally at its hub: the cycle, the moment and the languages.

The hub keeps, per kiosk name of a site, the settings it should run with
(:class:`DesiredSettings`, in the registry), numbered by a version that grows
with each change. Every reply to the kiosk's ship request (heartbeats
included) carries them as ``"settings"``; the kiosk keeps the last it received
in ``<data_dir>/hub-settings.json`` beside ``hub.json``, and
:meth:`KioskSession.apply_settings` puts them in force between customers.
Until the hub sets anything, the kiosk's own ``[kiosk]`` settings hold.

Both ends check the settings against their catalogue: the hub before it keeps
them (:func:`check_settings`, the errors naming the value and what is
allowed), the kiosk before it applies them (its plugins may differ). See
docs/fleet.md, "Changing what a kiosk asks from the hub".
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ServiceCycleError
from ..store.store import write_atomic
from ..text import shown

if TYPE_CHECKING:
    from ..catalogue import Catalogue
    from .registry import KioskEntry, KioskRegistry

log = logging.getLogger(__name__)

#: Where a kiosk keeps the last settings its hub sent (beside ``hub.json``).
FILE = "hub-settings.json"
#: The most languages one kiosk may offer, and the longest name of who changed settings.
MAX_LANGUAGES = 20
MAX_BY = 80


class SettingsError(ServiceCycleError):
    """Settings for a kiosk that its catalogue cannot take: the field, the value, what is allowed."""

    def __init__(self, field: str, value: object, problem: str, allowed: str = "") -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.allowed = allowed
        text = f"{field} {shown(value)} {problem}"
        super().__init__(text + (f"; {allowed}" if allowed else ""))


@dataclass(frozen=True)
class DesiredSettings:
    """What the hub says one kiosk asks about, in which languages (the first is its default)."""

    version: int
    cycle: str
    moment: str
    languages: tuple[str, ...]
    changed_by: str
    changed_at: float  # UNIX seconds

    def to_wire(self) -> dict[str, Any]:
        """As the hub's reply carries it (and the kiosk's ``hub-settings.json`` holds it)."""
        return {
            "version": self.version,
            "cycle": self.cycle,
            "moment": self.moment,
            "languages": list(self.languages),
            "changed_by": self.changed_by,
            "changed_at": datetime.fromtimestamp(self.changed_at, UTC).isoformat(),
        }

    @classmethod
    def from_wire(cls, data: object) -> DesiredSettings | None:
        """Settings as :meth:`to_wire` writes them; None for anything else (logged)."""
        try:
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            version, cycle, moment = data["version"], data["cycle"], data["moment"]
            languages = data["languages"]
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise ValueError(f"version {version!r}")
            if not isinstance(cycle, str) or not isinstance(moment, str):
                raise ValueError("cycle and moment must be text")
            if (
                not isinstance(languages, list)
                or not 1 <= len(languages) <= MAX_LANGUAGES
                or not all(isinstance(lang, str) for lang in languages)
            ):
                raise ValueError(f"languages {languages!r}")
            by = data.get("changed_by")
            at = data.get("changed_at")
            when = datetime.fromisoformat(at).timestamp() if isinstance(at, str) else 0.0
            return cls(
                version=version,
                cycle=cycle[:80],
                moment=moment[:80],
                languages=tuple(lang[:35] for lang in languages),
                changed_by=str(by)[:MAX_BY] if by is not None else "",
                changed_at=when,
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            log.warning("settings from the hub not understood (%s); kept the last ones", exc)
            return None

    def describe(self) -> str:
        """``hotel-guest/check-in-wait in en, tr (version 3)``."""
        return f"{self.cycle}/{self.moment} in {', '.join(self.languages)} (version {self.version})"


def parse_languages(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"en, tr"`` (or a list) as ``("en", "tr")``: blanks dropped, order kept."""
    items = text.split(",") if isinstance(text, str) else list(text)
    return tuple(item.strip() for item in items if isinstance(item, str) and item.strip())


def check_settings(
    catalogue: Catalogue, cycle: str, moment: str, languages: Sequence[str]
) -> tuple[str, str, tuple[str, ...]]:
    """The settings as they will be kept, or :class:`SettingsError` naming what is wrong.

    The cycle must be one of the catalogue's, the moment one of that cycle's, and
    the languages (at least one, each once) among the cycle's languages.
    """
    found = catalogue.cycles.get(cycle)
    if found is None:
        raise SettingsError(
            "cycle",
            cycle,
            "is not one of the installed cycles",
            f"known cycles: {', '.join(sorted(catalogue.cycles)) or '(none loaded)'}",
        )
    if found.find_moment(moment) is None:
        raise SettingsError(
            "moment",
            moment,
            f"is not a moment of cycle {cycle!r}",
            f"its moments: {', '.join(m.id for _, m in found.moments())}",
        )
    allowed = f"cycle {cycle!r} offers: {', '.join(found.languages)}"
    chosen = tuple(languages)
    if not chosen:
        raise SettingsError("languages", "", "is empty: give at least one", allowed)
    for language in chosen:
        if language not in found.languages:
            raise SettingsError("language", language, f"is not one of cycle {cycle!r}'s", allowed)
    twice = sorted({lang for lang in chosen if chosen.count(lang) > 1})
    if twice:
        raise SettingsError("language", twice[0], "is listed twice", allowed)
    return cycle, moment, chosen


@dataclass(frozen=True)
class SettingsChange:
    """What one change at the hub did: the kiosk, what held before and what holds now."""

    entry: KioskEntry
    #: The kiosk's settings before: the hub's, else what the kiosk last said it asks.
    before: tuple[str | None, str | None, tuple[str, ...] | None]
    after: DesiredSettings
    #: The fields that changed (``cycle``, ``moment``, ``languages``); empty: nothing did.
    changed: tuple[str, ...]
    #: Whether a new version was kept (False: the hub had these very settings already).
    stored: bool


def change_settings(
    registry: KioskRegistry,
    catalogue: Catalogue,
    kiosk: str,
    *,
    site: str | None = None,
    sites: Iterable[str] | None = None,
    cycle: str | None = None,
    moment: str | None = None,
    languages: Sequence[str] | str | None = None,
    by: str,
    now: float | None = None,
) -> SettingsChange:
    """Set what ``kiosk`` asks (the CLI's `hub kiosk-set` and the console's one path).

    A value left out (None) keeps the hub's current one for this kiosk, else the one
    the kiosk last reported. ``languages`` is a list or a text as typed (``"en, tr"``). ``sites`` limits which sites' kiosks may be named (a
    user's); the kiosk must be enrolled (a live epoch). A new version is kept only
    when something differs from the hub's current settings.
    """
    entry = registry.live_kiosk(kiosk, site, sites)
    desired = entry.desired
    if desired is not None:
        base: tuple[str | None, str | None, tuple[str, ...] | None] = (
            desired.cycle,
            desired.moment,
            desired.languages,
        )
    else:
        base = (entry.cycle, entry.moment, entry.languages)
    new_cycle = cycle if cycle is not None else base[0]
    new_moment = moment if moment is not None else base[1]
    new_languages = parse_languages(languages) if languages is not None else base[2]
    if new_cycle is None:
        raise SettingsError(
            "cycle",
            "",
            f"is not known: kiosk {entry.name} has not said what it asks yet; give the cycle",
            f"known cycles: {', '.join(sorted(catalogue.cycles)) or '(none loaded)'}",
        )
    found = catalogue.cycles.get(new_cycle)
    if (
        found is not None
        and moment is None
        and (new_moment is None or found.find_moment(new_moment) is None)
    ):
        # A new cycle, and the moment asked now is not one of it: say which to ask.
        raise SettingsError(
            "moment",
            new_moment or "",
            f"is not a moment of cycle {new_cycle!r}; give the moment",
            f"its moments: {', '.join(m.id for _, m in found.moments())}",
        )
    if found is not None and new_languages is None:
        raise SettingsError(
            "languages",
            "",
            f"are not known: kiosk {entry.name} has not said which it offers; give them",
            f"cycle {new_cycle!r} offers: {', '.join(found.languages)}",
        )
    checked = check_settings(catalogue, new_cycle, new_moment or "", new_languages or ())
    names = ("cycle", "moment", "languages")
    changed = tuple(name for name, old, new in zip(names, base, checked, strict=True) if old != new)
    if desired is not None and not changed:
        return SettingsChange(entry, base, desired, (), stored=False)
    after = registry.set_settings(
        entry.site, entry.kiosk, *checked, by=by.strip()[:MAX_BY] or "?", now=now
    )
    log.info("kiosk %s: settings %s set by %s", entry.name, after.describe(), after.changed_by)
    return SettingsChange(registry.live_kiosk(entry.kiosk, entry.site), base, after, changed, True)


# -- the kiosk's copy ----------------------------------------------------------------------


def settings_path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE


def load_settings(data_dir: Path) -> DesiredSettings | None:
    """The last settings this kiosk's hub sent (None: none, or a file not understood)."""
    path = settings_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        log.warning("%s is not readable (%s): the kiosk's own settings hold", path, exc)
        return None
    return DesiredSettings.from_wire(data)


def save_settings(data_dir: Path, settings: DesiredSettings) -> None:
    """Keep ``settings`` for the next start (atomically: a power cut leaves old or new)."""
    data = {
        **settings.to_wire(),
        "received_at": datetime.fromtimestamp(time.time(), UTC).isoformat(),
    }
    write_atomic(settings_path(data_dir), (json.dumps(data, indent=2) + "\n").encode(), mode=0o600)
