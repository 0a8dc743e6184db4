"""What a report holds: the service map and report card of each cycle, trend, lifecycle, survey.

Plain data with a JSON form; building it is :mod:`.build`'s job, drawing it is
the renderers' (the CLI's Rich tables, ``servicecycle.reportcard``, :mod:`.export`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .collect import Scope, Sources
from .figures import MIN_ANSWERS, Figures
from .lifecycle import Lifecycle
from .period import Period
from .stats import CONFIDENCE
from .survey import SurveySection
from .trend import Comparison, Every, Point

#: The JSON form's name and version (bump on incompatible changes).
FORMAT = "servicecycle-report"
VERSION = 1


@dataclass
class MomentLine:
    """One moment of truth: promised level, perceived score, and the gap between them."""

    cycle: str
    stage: str
    moment: str
    name: str  # the moment's name in the report's language
    question: str
    critical: bool
    target: float
    figures: Figures
    comparison: Comparison

    def to_json(self) -> dict[str, Any]:
        return {
            "moment": self.moment,
            "name": self.name,
            "stage": self.stage,
            "question": self.question,
            "critical": self.critical,
            **self.figures.to_json(),
            "vs_previous": self.comparison.to_json(),
        }


@dataclass
class StageLine:
    """A stage of the service map, with its moments (critical ones first)."""

    stage: str
    name: str
    critical: bool
    figures: Figures
    comparison: Comparison
    moments: list[MomentLine]

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "name": self.name,
            "critical": self.critical,
            **self.figures.to_json(),
            "vs_previous": self.comparison.to_json(),
            "moments": [m.moment for m in self.moments],
        }


@dataclass
class Slice:
    """The cycle's figures for one site, kiosk or customer language."""

    key: str
    figures: Figures

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, **self.figures.to_json()}


@dataclass
class CycleReport:
    cycle: str
    name: str
    industry: str
    scale: int
    figures: Figures
    comparison: Comparison
    stages: list[StageLine]  # the service map, in cycle order
    card: list[MomentLine]  # the report card: critical moments first, then cycle order
    widest_gaps: list[MomentLine]  # moments short of their promise, widest first
    by_site: list[Slice] = field(default_factory=list)
    by_kiosk: list[Slice] = field(default_factory=list)
    by_language: list[Slice] = field(default_factory=list)
    every: Every = "day"
    series: list[Point] = field(default_factory=list)
    moment_series: dict[str, list[Point]] = field(default_factory=dict)  # critical moments
    lifecycle: Lifecycle = field(default_factory=lambda: Lifecycle(None, ()))
    #: (weekday 0 = Monday, local hour) -> figures of that hour, all moments together.
    heat: dict[tuple[int, int], Figures] = field(default_factory=dict)
    #: Reason id -> its label in the report's language.
    reason_names: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "name": self.name,
            "industry": self.industry,
            "scale": self.scale,
            **self.figures.to_json(),
            "vs_previous": self.comparison.to_json(),
            "service_map": [s.to_json() for s in self.stages],
            "report_card": [m.to_json() for m in self.card],
            "widest_gaps": [m.moment for m in self.widest_gaps],
            "by_site": [s.to_json() for s in self.by_site],
            "by_kiosk": [s.to_json() for s in self.by_kiosk],
            "by_language": [s.to_json() for s in self.by_language],
            "series": {"every": self.every, "points": [p.to_json() for p in self.series]},
            "moment_series": {
                moment: [p.to_json() for p in points]
                for moment, points in self.moment_series.items()
            },
            "lifecycle": self.lifecycle.to_json(),
            "heat_map": [
                {
                    "weekday": weekday,
                    "hour": hour,
                    "count": f.count,
                    "negative": f.negative,
                    "negative_share": f.negative_share,
                }
                for (weekday, hour), f in sorted(self.heat.items())
            ],
            "reason_names": dict(sorted(self.reason_names.items())),
        }


@dataclass
class Report:
    site_id: str | None
    site_name: str | None
    period: Period
    previous: Period
    scope: Scope
    low_threshold: int
    generated: datetime
    cycles: list[CycleReport]
    survey: SurveySection | None = None
    unknown: int = 0  # ratings of cycles or moments no plugin provides any more
    sources: Sources = field(default_factory=Sources)

    @property
    def empty(self) -> bool:
        return not any(c.figures.count for c in self.cycles)

    def to_json(self) -> dict[str, Any]:
        scope = self.scope
        return {
            "format": FORMAT,
            "version": VERSION,
            "generated": self.generated.isoformat(timespec="seconds"),
            "site": {"id": self.site_id, "name": self.site_name},
            "time_zone": self.period.zone.key,
            "period": _period(self.period),
            "previous_period": _period(self.previous),
            "filters": {
                "cycles": sorted(scope.cycles) if scope.cycles is not None else None,
                "site": scope.site,
                "sites": sorted(scope.sites) if scope.sites is not None else None,
                "kiosk": scope.kiosk,
                "language": scope.language,
                "include_suspect": scope.include_suspect,
            },
            "rules": {
                "confidence": CONFIDENCE,
                "min_answers": MIN_ANSWERS,
                "low_threshold": self.low_threshold,
                "csat": "top two boxes of the answer's own scale",
                "index": "answers mapped linearly: worst 0, best 100",
            },
            "cycles": [c.to_json() for c in self.cycles],
            "survey": self.survey.to_json() if self.survey is not None else None,
            "unknown_ratings": self.unknown,
            "sources": {
                "partitions": self.sources.partitions,
                "from_cache": self.sources.cached,
                "scanned": self.sources.scanned,
                "rescanned": self.sources.rescanned,
                "records": self.sources.records,
            },
        }


def _period(period: Period) -> dict[str, Any]:
    return {
        "since": period.since.isoformat(),
        "until": period.until.isoformat(),
        "label": period.label(),
        "days": period.days,
    }
