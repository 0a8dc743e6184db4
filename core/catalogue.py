"""Everything the plugins registered, validated and attributed to its plugin.

The catalogue is what the recorder, the kiosk and the reports consult: which
cycles exist, their stages and moments, and which reasons a moment offers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from .cycle import SCALES, Cycle, Moment, Stage, load_cycle
from .duration import format_duration
from .errors import RatingError, ServiceCycleError
from .plugins import PluginHost
from .rating import FLAGS, NAME_PATTERN, Rating, new_rating_id, utc_now

#: A rating's time may be this far ahead of this machine's clock (clocks differ a little).
MAX_AHEAD = timedelta(minutes=5)
#: Before this no rating can be real (and a UUIDv7 id cannot carry it).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
#: A rating id handed in (an import, a derived rating): a UUID as 32 lowercase hex digits.
RATING_ID = re.compile(r"^[0-9a-f]{32}$", re.ASCII)


class Catalogue:
    """The cycles known to this process, each with the plugin that gave it."""

    def __init__(self, cycles: Iterable[tuple[str, Cycle]] = ()) -> None:
        self.cycles: dict[str, Cycle] = {}
        self.origin: dict[str, str] = {}
        for plugin, cycle in cycles:
            self.add(plugin, cycle)

    @classmethod
    def from_plugins(cls, host: PluginHost) -> Catalogue:
        """Collect ``register_cycles`` from every plugin, refusing bad data per plugin."""
        catalogue = cls()

        def register_for(plugin: str) -> Callable[[Cycle | Mapping[str, Any]], None]:
            def register(cycle: Cycle | Mapping[str, Any]) -> None:
                try:
                    accepted = catalogue.add(plugin, _as_cycle(cycle, plugin))
                except ServiceCycleError as exc:
                    host.report(plugin, "register_cycles", str(exc))
                    return
                host.note(plugin, "cycles", accepted.id)

            return register

        host.collect("register_cycles", register_for)
        return catalogue

    def add(self, plugin: str, cycle: Cycle) -> Cycle:
        if cycle.id in self.cycles:
            raise ServiceCycleError(
                f"cycle id {cycle.id!r} is already registered by plugin {self.origin[cycle.id]!r}"
            )
        self.cycles[cycle.id] = cycle
        self.origin[cycle.id] = plugin
        return cycle

    # -- looking up ----------------------------------------------------------

    @property
    def industries(self) -> list[str]:
        return sorted({c.industry for c in self.cycles.values()})

    def cycle(self, cycle_id: str) -> Cycle:
        try:
            return self.cycles[cycle_id]
        except KeyError:
            raise ServiceCycleError(
                f"unknown cycle {cycle_id!r}; known cycles: {_choices(self.cycles)}"
            ) from None

    def moment(self, cycle_id: str, moment_id: str) -> tuple[Cycle, Stage, Moment]:
        cycle = self.cycle(cycle_id)
        found = cycle.find_moment(moment_id)
        if found is None:
            ids = [m.id for _, m in cycle.moments()]
            raise ServiceCycleError(
                f"cycle {cycle_id!r} has no moment {moment_id!r}; its moments: {', '.join(ids)}"
            )
        return cycle, *found

    def select(self, industry_or_cycle: str | None) -> list[Cycle]:
        """Cycles of an industry, or the one cycle with that id, or all."""
        if industry_or_cycle is None:
            return [self.cycles[k] for k in sorted(self.cycles)]
        matches = [c for c in self.cycles.values() if industry_or_cycle in (c.industry, c.id)]
        if not matches:
            raise ServiceCycleError(
                f"no industry or cycle named {industry_or_cycle!r}; industries: "
                f"{', '.join(self.industries) or '(none loaded)'}; cycles: {_choices(self.cycles)}"
            )
        return sorted(matches, key=lambda c: c.id)

    # -- the one way to make a rating ---------------------------------------

    def new_rating(
        self,
        *,
        site: str,
        kiosk: str,
        cycle: str,
        moment: str,
        score: int,
        language: str,
        scale: int | None = None,
        stage: str | None = None,
        reasons: Iterable[str] = (),
        flags: Iterable[str] = (),
        at: datetime | None = None,
        id: str | None = None,
        ahead: timedelta = MAX_AHEAD,
    ) -> Rating:
        """Validate a caller's rating against the catalogue and build it.

        ``ahead`` is how far past this machine's clock ``at`` may be: a few
        minutes for a caller on this machine, more at a hub, where a kiosk's
        clock may be wrong and its ratings keep their own time.

        Raises :class:`RatingError` naming the field, the value and what is allowed.
        """
        if id is not None and (not isinstance(id, str) or not RATING_ID.match(id)):
            raise RatingError(
                "id", id, "a rating id: 32 lowercase hexadecimal digits, as servicecycle makes them"
            )
        for field, value in (("site", site), ("kiosk", kiosk)):
            if not isinstance(value, str) or not NAME_PATTERN.match(value):
                raise RatingError(
                    field, value, "use 1-64 letters, digits, '.', '-' or '_', starting alphanumeric"
                )
        if cycle not in self.cycles:
            raise RatingError("cycle", cycle, f"known cycles: {_choices(self.cycles)}")
        the_cycle = self.cycles[cycle]
        found = the_cycle.find_moment(moment)
        if found is None:
            ids = ", ".join(m.id for _, m in the_cycle.moments())
            raise RatingError("moment", moment, f"moments of cycle {cycle!r}: {ids}")
        the_stage, the_moment = found
        if stage is not None and stage != the_stage.id:
            raise RatingError(
                "stage", stage, f"moment {moment!r} belongs to stage {the_stage.id!r}"
            )
        scale = the_cycle.scale if scale is None else scale
        if isinstance(scale, bool) or not isinstance(scale, int) or scale not in SCALES:
            raise RatingError("scale", scale, f"allowed scales: {', '.join(map(str, SCALES))}")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= scale:
            raise RatingError("score", score, f"a whole number from 1 to {scale}")
        if language not in the_cycle.languages:
            raise RatingError(
                "language",
                language,
                f"languages of cycle {cycle!r}: {', '.join(the_cycle.languages)}",
            )
        if isinstance(reasons, str):
            raise RatingError("reasons", reasons, "a list of reason ids, not one text")
        reasons = tuple(dict.fromkeys(reasons))
        offered = (*the_moment.reasons, *the_moment.praise)
        for reason in reasons:
            if reason not in offered:
                raise RatingError(
                    "reasons",
                    reason,
                    f"reasons of moment {moment!r}: {', '.join(offered) or '(none)'}",
                )
            # what cannot be true: a complaint with the best face, praise with the worst
            if score == scale and reason in the_moment.reasons:
                raise RatingError(
                    "reasons",
                    reason,
                    f"a reason for a bad moment cannot go with the top score {score}/{scale}; "
                    f"praise for this moment: {', '.join(the_moment.praise) or '(none)'}",
                )
            if score == 1 and reason in the_moment.praise:
                raise RatingError(
                    "reasons",
                    reason,
                    f"praise cannot go with the lowest score 1/{scale}; reasons for a bad "
                    f"moment: {', '.join(the_moment.reasons) or '(none)'}",
                )
        flags = tuple(dict.fromkeys(flags))
        for flag in flags:
            if flag not in FLAGS:
                raise RatingError("flags", flag, f"allowed flags: {', '.join(FLAGS)}")
        now = utc_now()
        if at is None:
            at = now
        elif not isinstance(at, datetime):
            raise RatingError("at", at, "a datetime with a time zone")
        elif at.tzinfo is None:
            raise RatingError("at", at.isoformat(), "a time with a time zone (stored as UTC)")
        elif at > now + ahead:
            raise RatingError(
                "at",
                at.isoformat(),
                f"it is in the future (now is {now:%Y-%m-%d %H:%M} UTC; at most "
                f"{format_duration(ahead)} ahead is taken, for clocks that differ)",
            )
        elif at < EARLIEST:
            raise RatingError("at", at.isoformat(), "ratings are from the year 2000 or later")
        return Rating(
            id=id or new_rating_id(at),
            at=at.astimezone(UTC),
            site=site,
            kiosk=kiosk,
            cycle=cycle,
            stage=the_stage.id,
            moment=moment,
            score=score,
            scale=scale,
            language=language,
            reasons=reasons,
            flags=flags,
        )


def _as_cycle(cycle: Cycle | Mapping[str, Any], plugin: str) -> Cycle:
    if isinstance(cycle, Cycle):
        return cycle
    if isinstance(cycle, Mapping):
        return load_cycle(cycle, name=f"from plugin {plugin!r}")
    raise ServiceCycleError(
        f"register() takes a Cycle or a mapping shaped like a cycle file, not {type(cycle).__name__}"
    )


def _choices(items: Iterable[str]) -> str:
    return ", ".join(sorted(items)) or "(none loaded)"
