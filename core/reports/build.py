"""Build a report: collect tallies from the store, then turn them into figures per cycle.

This is the one place that knows the report's shape: the service map (stages
in order, critical moments first within each), the report card (critical
moments first), the widest gaps between promise and perception, the slices by
site, kiosk and language, the trend and the lifecycle phase.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ..catalogue import Catalogue
from ..cycle import Cycle
from ..store import Store
from ..store.contract import SiteStore
from ..store.folder import site_store_of
from ..text import pick
from .collect import Progress, Rollups, Scope, Windows, collect
from .figures import LOW_THRESHOLD, Figures, Tally, combine, figures
from .lifecycle import LOOKBACK, phase_of
from .model import CycleReport, MomentLine, Report, Slice, StageLine
from .period import Period, local_day, local_midnight, month_start, next_month, utc_text
from .survey import survey_section
from .trend import compare, granularity, series

#: How many moments the "widest gaps" list names.
WIDEST = 5


@dataclass(frozen=True)
class ReportRequest:
    """What to report on; every field but the period has a sensible default."""

    period: Period
    scope: Scope = field(default_factory=Scope)
    low_threshold: int = LOW_THRESHOLD
    every: str | None = None  # "day", "week", or None: chosen by the period's length
    language: str | None = None  # language of the texts shown; default the cycle's first
    use_cache: bool = True
    jobs: int | None = None  # processes scanning partitions without a summary; None: per core


def last_complete_month(period: Period) -> date:
    """The last local calendar month wholly before the period's end."""
    last_day = local_day(period.until - timedelta(microseconds=1), period.zone)
    month = month_start(last_day)
    if period.until >= local_midnight(next_month(month), period.zone):
        return month
    return month_start(month - timedelta(days=1))


def windows_for(period: Period) -> Windows:
    previous = period.previous()
    first_month = last_complete_month(period)
    for _ in range(LOOKBACK - 1):
        first_month = month_start(first_month - timedelta(days=1))
    return Windows(
        since=utc_text(period.since),
        until=utc_text(period.until),
        previous_since=utc_text(previous.since),
        history_since=utc_text(local_midnight(first_month, period.zone)),
    )


def build_report(
    store: SiteStore | Store,
    catalogue: Catalogue,
    request: ReportRequest,
    *,
    site_id: str | None = None,
    site_name: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> Report:
    """Read the store once and assemble every section of the report."""
    site = site_store_of(store)
    period = request.period
    scope = request.scope
    rollups = collect(
        site.tallies,
        period.zone,
        windows_for(period),
        scope,
        use_cache=request.use_cache,
        progress=progress,
        jobs=request.jobs,
    )
    selected = [catalogue.cycles[c] for c in sorted(scope.cycles)] if scope.cycles else None
    seen = {c for c, _ in rollups.current} | {c for c, _ in rollups.previous}
    cycles = selected or [catalogue.cycles[c] for c in sorted(seen) if c in catalogue.cycles]
    unknown = sum(
        tally.count
        for (cycle, moment), tally in rollups.current.items()
        if cycle not in catalogue.cycles or catalogue.cycles[cycle].find_moment(moment) is None
    )
    report = Report(
        site_id=site_id,
        site_name=site_name,
        period=period,
        previous=period.previous(),
        scope=scope,
        low_threshold=request.low_threshold,
        generated=now or datetime.now(UTC),
        cycles=[_cycle(cycle, rollups, request) for cycle in cycles],
        unknown=unknown,
        sources=rollups.sources,
    )
    since, until = period.utc()
    report.survey = survey_section(
        site.answers, catalogue, since, until, scope, request.low_threshold, request.language
    )
    return report


def _cycle(cycle: Cycle, rollups: Rollups, request: ReportRequest) -> CycleReport:
    low = request.low_threshold
    lang = request.language if request.language in cycle.languages else cycle.languages[0]
    fallback = cycle.languages[0]
    now_t = {m.id: rollups.current.get((cycle.id, m.id), Tally()) for _, m in cycle.moments()}
    before_t = {m.id: rollups.previous.get((cycle.id, m.id), Tally()) for _, m in cycle.moments()}
    targets = {m.id: m.target for _, m in cycle.moments()}

    def summed(tallies: Mapping[str, Tally], moments: Iterable[str]) -> Figures:
        tally, target = combine((tallies[m], targets[m]) for m in moments)
        return figures(tally, cycle.scale, target, low)

    def both(moments: list[str]) -> tuple[Figures, Figures]:
        return summed(now_t, moments), summed(before_t, moments)

    lines: dict[str, MomentLine] = {}
    for stage, moment in cycle.moments():
        now_f = figures(now_t[moment.id], cycle.scale, moment.target, low)
        before_f = figures(before_t[moment.id], cycle.scale, moment.target, low)
        lines[moment.id] = MomentLine(
            cycle.id,
            stage.id,
            moment.id,
            moment.label(lang, fallback),
            pick(moment.question, lang, fallback),
            moment.critical,
            moment.target,
            now_f,
            compare(now_f, before_f),
        )
    stages = []
    for stage in cycle.stages:
        ids = [m.id for m in stage.moments]
        now_f, before_f = both(ids)
        ordered = sorted(stage.moments, key=lambda m: not m.critical)  # stable: cycle order
        stages.append(
            StageLine(
                stage.id,
                pick(stage.name, lang, fallback),
                stage.critical,
                now_f,
                compare(now_f, before_f),
                [lines[m.id] for m in ordered],
            )
        )
    every_id = list(lines)
    now_f, before_f = both(every_id)
    card = sorted(lines.values(), key=lambda line: not line.critical)
    ranked = [
        line
        for line in lines.values()
        if not line.figures.too_few and line.figures.gap is not None and line.figures.gap > 0
    ]
    ranked.sort(key=lambda line: (-(line.figures.gap or 0.0), every_id.index(line.moment)))
    every = granularity(request.period, request.every)
    daily = _daily(rollups, cycle)
    return CycleReport(
        cycle=cycle.id,
        name=pick(cycle.name, lang, fallback),
        industry=cycle.industry,
        scale=cycle.scale,
        figures=now_f,
        comparison=compare(now_f, before_f),
        stages=stages,
        card=card,
        widest_gaps=ranked[:WIDEST],
        by_site=_slices(rollups.by_site, cycle, targets, low),
        by_kiosk=_slices(rollups.by_kiosk, cycle, targets, low),
        by_language=_slices(rollups.by_language, cycle, targets, low),
        every=every,
        series=series(daily[None], request.period, every, cycle.scale, low),
        moment_series={
            m.id: series(daily.get(m.id, {}), request.period, every, cycle.scale, low, m.target)
            for _, m in cycle.critical_moments()
        },
        lifecycle=phase_of(
            {month: t.count for (month, c), t in rollups.monthly.items() if c == cycle.id},
            last_complete_month(request.period),
        ),
        heat={
            (weekday, hour): figures(tally, cycle.scale, None, low)
            for (c, weekday, hour), tally in sorted(rollups.hours.items())
            if c == cycle.id and tally.count
        },
        reason_names={
            reason.id: pick(reason.label, lang, fallback)
            for reason in cycle.available_reasons.values()
        },
    )


def _slices(
    table: Mapping[tuple[str, str, str], Tally],
    cycle: Cycle,
    targets: Mapping[str, float],
    low: int,
) -> list[Slice]:
    """The cycle's figures per site, kiosk or language (answer-weighted targets)."""
    parts: dict[str, list[tuple[Tally, float]]] = {}
    for (c, key, moment), tally in table.items():
        if c == cycle.id and moment in targets:
            parts.setdefault(key, []).append((tally, targets[moment]))
    found = []
    for key in sorted(parts):
        tally, target = combine(parts[key])
        found.append(Slice(key, figures(tally, cycle.scale, target, low)))
    return found


def _daily(rollups: Rollups, cycle: Cycle) -> dict[str | None, dict[str, Tally]]:
    """Day → tally for the whole cycle (key None) and for each of its moments."""
    found: dict[str | None, dict[str, Tally]] = {None: {}}
    for (day, c, moment), tally in rollups.daily.items():
        if c != cycle.id or cycle.find_moment(moment) is None:
            continue
        for key in (None, moment):
            days = found.setdefault(key, {})
            if day in days:
                days[day].merge(tally)
            else:
                days[day] = tally.copy()
    return found
