"""Values typed on the command line, checked where they were typed.

Core names a bad value in the words of where it looks for it
(``kiosk.moment = 'x'`` in the configuration, ``rating field 'language'``). A
value the user typed as an option is the user's to fix there, so these checks
run first and raise :class:`click.BadParameter` (exit 2) naming the option, the
value and what it allows — never "bad configuration in embedded defaults".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

from servicecycle.core import (
    ConfigError,
    Cycle,
    Moment,
    RatingError,
    Runtime,
    ServiceCycleError,
    Stage,
    printable,
)
from servicecycle.core.reports.collect import Progress
from servicecycle.core.reports.known import stored_values
from servicecycle.core.reports.period import parse_edge

#: How many known values a message lists before "and N more".
SHOWN = 20


def choices(values: Iterable[str]) -> str:
    """Known values for a message, in the order given: the first :data:`SHOWN`, then a count."""
    unique = list(dict.fromkeys(values))
    if not unique:
        return "(none)"
    shown = ", ".join(printable(v) for v in unique[:SHOWN])
    more = len(unique) - SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def refuse(hint: str, value: str, problem: str, allowed: str, known: Iterable[str]) -> NoReturn:
    """Raise ``Invalid value for HINT: 'VALUE' PROBLEM; ALLOWED: a, b, c``."""
    raise click.BadParameter(
        f"{value!r} {printable(problem)}; {printable(allowed)}: {choices(known)}", param_hint=[hint]
    )


#: For help texts: what every --since/--until takes.
WHEN_HELP = "a date, a date and time (site time unless it has a zone) or a time ago (7d, 36h)"


class When(click.ParamType):
    """``--since``/``--until`` in every command: one reading of dates, times and times ago.

    A date is a local day of the site's time zone (as ``--until``, the whole
    day is included); a time without a zone is site time; ``7d`` or ``36h`` is
    that long ago (see :func:`~servicecycle.core.reports.period.parse_edge`).
    Anything else is a usage error (exit 2) naming the option, the value and
    the forms. The zone is the site's (``site.timezone``) unless given.
    """

    name = "when"

    def __init__(self, *, end: bool = False, zone: ZoneInfo | None = None) -> None:
        self.end = end
        self.zone = zone

    def get_metavar(self, param: click.Parameter, *args: object, **kwargs: object) -> str:
        return "DATE|TIME|AGO"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        zone = self.zone or site_zone(ctx)
        try:
            return parse_edge(str(value), zone, end=self.end)
        except ServiceCycleError as exc:
            self.fail(printable(str(exc)), param, ctx)


def site_zone(ctx: click.Context | None) -> ZoneInfo:
    """The site's time zone (``site.timezone``) from the command's runtime; UTC without one."""
    state = ctx.find_root().obj if ctx is not None else None
    runtime = getattr(state, "runtime", None) if state is not None else None
    return runtime.config.site.zone if runtime is not None else ZoneInfo("UTC")


#: ``--since`` and ``--until`` of every command.
SINCE = When()
UNTIL = When(end=True)


def cycles_option(runtime: Runtime, value: str | None, hint: str = "--cycle") -> list[Cycle]:
    """The cycles an industry or cycle id names (None: all); an unknown one blames ``hint``."""
    try:
        return runtime.catalogue.select(value)
    except ServiceCycleError as exc:
        raise click.BadParameter(printable(str(exc)), param_hint=[hint]) from None


def kiosk_moment(
    runtime: Runtime,
    cycle: str | None = None,
    moment: str | None = None,
    *,
    cycle_hint: str = "--cycle",
    moment_hint: str = "--moment",
) -> tuple[Cycle, Stage, Moment]:
    """:meth:`Runtime.kiosk_moment` for a cycle and moment typed as options (None: not typed).

    A typed value that names nothing blames its option; a bad value in the
    configuration is still the configuration's :class:`ConfigError`.
    """
    catalogue = runtime.catalogue
    if cycle is not None and cycle not in catalogue.cycles:
        refuse(cycle_hint, cycle, "is not a known cycle", "known cycles", sorted(catalogue.cycles))
    try:
        return runtime.kiosk_moment(cycle, moment)
    except ConfigError:
        if moment is None:
            raise
        chosen = catalogue.cycles[cycle] if cycle else runtime.kiosk_moment()[0]
        if chosen.find_moment(moment) is not None:
            raise
        refuse(
            moment_hint,
            moment,
            f"is not a moment of {chosen.id!r}",
            "its moments",
            (m.id for _, m in chosen.moments()),
        )


@contextlib.contextmanager
def blamed(options: Mapping[str, str]) -> Iterator[None]:
    """Turn a :class:`RatingError` about a typed field into that option's mistake.

    ``options`` maps rating fields to the options the user typed them with,
    e.g. ``{"score": "--score", "language": "--lang"}``; an error about any
    other field (a default from the configuration) stays core's own.
    """
    try:
        yield
    except RatingError as exc:
        hint = options.get(exc.field)
        if hint is None:
            raise
        raise click.BadParameter(
            f"{exc.value!r} is not allowed; {printable(exc.allowed)}", param_hint=[hint]
        ) from None


#: Per kind of filter: what an unknown value is not, and what the known ones are called.
_WORDS = {
    "site": ("is not this site's id nor the site of any stored rating", "known sites"),
    "kiosk": ("is not this kiosk's id nor the kiosk of any stored rating", "known kiosks"),
    "language": ("is not a language of any cycle nor of any stored rating", "known languages"),
    "cycle": ("is not a known cycle nor the cycle of any stored rating", "known cycles"),
    "moment": ("is not a moment of any cycle nor of any stored rating", "known moments"),
}


def refuse_unknown(
    runtime: Runtime,
    filters: Mapping[str, tuple[str, str | None]],
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> None:
    """Refuse a filter value that names nothing, listing the values that exist.

    ``filters`` maps each option to the kind it filters on (site, kiosk,
    language, cycle, moment) and its value (None: not given). Call this only
    when the filtered result came out empty: the store is read (every
    partition's summary) only when the catalogue and this site's settings do not
    know every value given. A value known anywhere but without a rating in the
    period is a legitimate empty result, and passes.
    """
    given = {hint: (kind, value) for hint, (kind, value) in filters.items() if value is not None}
    cycle = next((value for kind, value in given.values() if kind == "cycle"), None)
    catalogue, config = runtime.catalogue, runtime.config
    cycles = [c for c in catalogue.cycles.values() if cycle is None or c.id == cycle]
    known = {
        "site": {config.site.id},
        "kiosk": {config.kiosk.id},
        "language": {lang for c in catalogue.cycles.values() for lang in c.languages},
        "cycle": set(catalogue.cycles),
        "moment": {m.id for c in cycles for _, m in c.moments()},
    }
    if all(value in known[kind] for kind, value in given.values()):
        return
    stored = stored_values(
        runtime.site_store.tallies, config.site.zone, use_cache=use_cache, progress=progress
    )
    known["site"] |= stored.sites
    known["kiosk"] |= stored.kiosks
    known["language"] |= stored.languages
    known["cycle"] |= set(stored.moments)
    for c, moments in stored.moments.items():
        if cycle is None or c == cycle:
            known["moment"] |= moments
    for hint, (kind, value) in given.items():
        if value not in known[kind]:
            problem, allowed = _WORDS[kind]
            if kind == "moment" and cycle is not None:
                problem, allowed = f"is not a moment of {cycle!r}", "its moments"
            refuse(hint, value, problem, allowed, sorted(known[kind]))


# -- the servers' options (survey serve, hub serve, console serve) -------------------------

host_option = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Keep 127.0.0.1 behind a reverse proxy on this machine.",
)
forwarded_option = click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    metavar="IPS",
    help="Comma-separated proxy addresses whose X-Forwarded-* headers are trusted ('*' = any).",
)


def port_option(default: int) -> Any:
    return click.option("--port", default=default, show_default=True, type=click.IntRange(1, 65535))
