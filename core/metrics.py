"""Figures per moment: what the kiosk's staff screen and the reports show.

One implementation, shared: the staff screen asks for today's figures, reports
for any period. Suspect ratings are left out unless asked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .catalogue import Catalogue
from .rating import Rating


@dataclass
class MomentFigures:
    cycle: str
    stage: str
    moment: str
    critical: bool
    target: float
    count: int = 0
    total: float = 0.0  # sum of scores moved onto the cycle's scale
    negative: int = 0  # ratings at or below the low threshold
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def gap(self) -> float | None:
        """Promised minus perceived: positive when the moment falls short of its target."""
        return None if self.mean is None else self.target - self.mean

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.count if self.count else None

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        return self.reasons.most_common(n)


def moment_figures(
    ratings: Iterable[Rating],
    catalogue: Catalogue,
    *,
    include_suspect: bool = False,
    low_threshold: int = 2,
) -> list[MomentFigures]:
    """Count, mean, negative share and reasons per moment, in cycle order, critical first."""
    figures: dict[tuple[str, str], MomentFigures] = {}
    for rating in ratings:
        if rating.suspect and not include_suspect:
            continue
        key = (rating.cycle, rating.moment)
        entry = figures.get(key)
        if entry is None:
            cycle = catalogue.cycles.get(rating.cycle)
            found = cycle.find_moment(rating.moment) if cycle else None
            if found is None:
                continue  # a cycle no longer installed
            stage, moment = found
            entry = figures[key] = MomentFigures(
                rating.cycle, stage.id, moment.id, moment.critical, moment.target
            )
        scale = catalogue.cycles[rating.cycle].scale
        value = (
            rating.score
            if rating.scale == scale
            else 1 + (rating.score - 1) * (scale - 1) / (rating.scale - 1)
        )
        entry.count += 1
        entry.total += value
        entry.negative += rating.score <= low_threshold
        entry.reasons.update(rating.reasons)
    order = {
        (cycle.id, moment.id): index
        for cycle in catalogue.cycles.values()
        for index, (_, moment) in enumerate(cycle.moments())
    }
    return sorted(
        figures.values(), key=lambda f: (not f.critical, f.cycle, order[(f.cycle, f.moment)])
    )
