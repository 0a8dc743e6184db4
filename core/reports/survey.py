"""The follow-up survey's answers: the customer's fuller word on each stage, where present.

The survey page behind the kiosk's QR code (``core/answers.py``) stores one
answer per kiosk rating in the ``answers`` table, with a score per stage of the
cycle. When that table holds answers in the period, the report adds a section
with the figures per stage; when it is absent or empty, there is no section.

A stage's target here is the plain mean of its moments' targets (a survey
score is about the whole stage, not one moment). Answers are read as stored,
in either shape: ``"stages": [{"stage": id, "score": n}, ...]`` or
``"stages": {id: n}``; the scale is the answer's own (``"scale"``), else the
cycle's. Records that do not parse are skipped and counted, never fatal: the
survey is a side section of the report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from ..catalogue import Catalogue
from ..rating import parse_time
from ..store.contract import AnswerStore
from ..text import pick
from .collect import Scope
from .figures import Figures, Tally, figures

log = logging.getLogger(__name__)

#: The store table the survey page writes (see core/answers.py).
TABLE = "answers"


@dataclass
class SurveyStage:
    stage: str
    name: str  # in the report's language
    critical: bool
    target: float
    figures: Figures


@dataclass
class SurveyCycle:
    cycle: str
    name: str  # in the report's language
    answers: int
    comments: int
    stages: list[SurveyStage] = field(default_factory=list)


@dataclass
class SurveySection:
    answers: int = 0
    comments: int = 0
    skipped: int = 0
    cycles: list[SurveyCycle] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "comments": self.comments,
            "skipped": self.skipped,
            "cycles": [
                {
                    "cycle": c.cycle,
                    "name": c.name,
                    "answers": c.answers,
                    "comments": c.comments,
                    "stages": [
                        {
                            "stage": s.stage,
                            "name": s.name,
                            "critical": s.critical,
                            "target": s.target,
                            **s.figures.to_json(),
                        }
                        for s in c.stages
                    ],
                }
                for c in self.cycles
            ],
        }


def _stage_scores(stages: Any) -> Iterable[tuple[str, int]]:
    if isinstance(stages, Mapping):
        return [(str(k), int(v)) for k, v in stages.items()]
    return [(str(s["stage"]), int(s["score"])) for s in stages]


def _wanted(record: Mapping[str, Any], scope: Scope) -> bool:
    return not (
        (scope.cycles is not None and record.get("cycle") not in scope.cycles)
        or (scope.site is not None and record.get("site", scope.site) != scope.site)
        or (scope.sites is not None and record.get("site") not in scope.sites)
        or (scope.kiosk is not None and record.get("kiosk", scope.kiosk) != scope.kiosk)
        or (scope.language is not None and record.get("language", scope.language) != scope.language)
    )


def survey_section(
    store: AnswerStore,
    catalogue: Catalogue,
    since: str,
    until: str,
    scope: Scope,
    low_threshold: int,
    language: str | None = None,
) -> SurveySection | None:
    """Figures per stage from the answers given in ``[since, until)``; None without answers."""
    section = SurveySection()
    tallies: dict[tuple[str, str], Tally] = {}
    answers: dict[str, int] = {}
    comments: dict[str, int] = {}
    for record in store.records(parse_time(since), parse_time(until)):
        if not _wanted(record, scope):
            continue
        cycle = catalogue.cycles.get(record.get("cycle"))  # type: ignore[arg-type]
        try:
            if cycle is None:
                raise ValueError(f"unknown cycle {record.get('cycle')!r}")
            scale = int(record.get("scale", cycle.scale))
            scores = _stage_scores(record.get("stages", ()))
            staged = []
            for stage, score in scores:
                tally = Tally()
                tally.add(scale, score)
                staged.append((stage, tally))
        except (KeyError, TypeError, ValueError) as exc:
            section.skipped += 1
            log.debug("survey answer %r skipped: %s", record.get("id"), exc)
            continue
        for stage, tally in staged:
            found = tallies.setdefault((cycle.id, stage), Tally())
            found.merge(tally)
        section.answers += 1
        answers[cycle.id] = answers.get(cycle.id, 0) + 1
        if str(record.get("comment") or "").strip():
            section.comments += 1
            comments[cycle.id] = comments.get(cycle.id, 0) + 1
    if not section.answers:
        return None if not section.skipped else section
    for cycle_id in sorted(answers):
        cycle = catalogue.cycles[cycle_id]
        lang = language if language in cycle.languages else cycle.languages[0]
        entry = SurveyCycle(
            cycle_id,
            pick(cycle.name, lang, cycle.languages[0]),
            answers[cycle_id],
            comments.get(cycle_id, 0),
        )
        for stage in cycle.stages:
            tally = tallies.get((cycle_id, stage.id))
            if tally is None:
                continue
            target = fmean(m.target for m in stage.moments)
            entry.stages.append(
                SurveyStage(
                    stage.id,
                    pick(stage.name, lang, cycle.languages[0]),
                    stage.critical,
                    target,
                    figures(tally, cycle.scale, target, low_threshold),
                )
            )
        section.cycles.append(entry)
    return section
