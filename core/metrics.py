"""Figures per moment: what the kiosk's staff screen and the reports show.

One implementation, shared: the staff screen asks for today's figures, reports
for any period, and both count through :mod:`.reports.figures` (tallies of
answers per scale and score, and the rules that turn them into a mean, CSAT,
index, negative share, gap and 95 % intervals). Suspect ratings are left out
unless asked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .catalogue import Catalogue
from .rating import Rating
from .reports.figures import LOW_THRESHOLD, Figures, Tally, figures, tally_ratings


@dataclass
class MomentFigures:
    """One moment's figures. ``count``/``total``/``negative``/``reasons`` stay for callers
    that read them; the full set (CSAT, index, intervals) is :attr:`figures`."""

    cycle: str
    stage: str
    moment: str
    critical: bool
    target: float
    count: int = 0
    total: float = 0.0  # sum of scores moved onto the cycle's scale
    negative: int = 0  # ratings at or below the low threshold
    reasons: Counter[str] = field(default_factory=Counter)
    scale: int = 5  # the cycle's scale, which mean and target are on
    low_threshold: int = LOW_THRESHOLD
    tally: Tally = field(default_factory=Tally)

    @property
    def figures(self) -> Figures:
        """Every report figure of this moment, from its tally."""
        return figures(self.tally, self.scale, self.target, self.low_threshold)

    @property
    def mean(self) -> float | None:
        if self.tally.count:
            return self.figures.mean
        return self.total / self.count if self.count else None

    @property
    def gap(self) -> float | None:
        """Promised minus perceived: positive when the moment falls short of its target."""
        return None if self.mean is None else self.target - self.mean

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.count if self.count else None

    @property
    def csat(self) -> float | None:
        """Share of satisfied answers (top two boxes of each answer's scale)."""
        return self.figures.csat

    @property
    def index(self) -> float | None:
        """0–100: the worst face is 0, the best 100."""
        return self.figures.index

    @property
    def too_few(self) -> bool:
        """Too few answers to rank or judge (see ``reports.figures.MIN_ANSWERS``)."""
        return self.figures.too_few

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        """Most picked reasons first; ties by id, so the order is stable."""
        return sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))[:n]


def moment_figures(
    ratings: Iterable[Rating],
    catalogue: Catalogue,
    *,
    include_suspect: bool = False,
    low_threshold: int = LOW_THRESHOLD,
) -> list[MomentFigures]:
    """Count, mean, negative share and reasons per moment, in cycle order, critical first."""
    tallies = tally_ratings(ratings, catalogue, include_suspect=include_suspect, skip_invalid=True)
    found = []
    for (cycle_id, moment_id), tally in tallies.items():
        cycle = catalogue.cycles[cycle_id]
        stage, moment = cycle.find_moment(moment_id)  # type: ignore[misc]
        entry = MomentFigures(
            cycle_id,
            stage.id,
            moment.id,
            moment.critical,
            moment.target,
            scale=cycle.scale,
            low_threshold=low_threshold,
            tally=tally,
        )
        result = entry.figures
        entry.count = result.count
        entry.total = (result.mean or 0.0) * result.count
        entry.negative = result.negative
        entry.reasons = Counter(tally.reasons)
        found.append(entry)
    order = {
        (cycle.id, moment.id): index
        for cycle in catalogue.cycles.values()
        for index, (_, moment) in enumerate(cycle.moments())
    }
    return sorted(found, key=lambda f: (not f.critical, f.cycle, order[(f.cycle, f.moment)]))
