"""The service cycle: ordered stages, each holding moments of truth.

A cycle is drawn from the customer's side: it opens when the customer asks for
the service and closes when they are satisfied. Every contact inside it is a
moment of truth, rated on its own, because one bad moment can undo all the others.
Critical moments are the ones where a failure loses the customer; they carry the
promised level (``target``) that the perceived score is measured against.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .errors import TemplateError
from .reasons import Id, Reason, default_reasons
from .text import LanguageCode, Text, pick
from .validation import data_problem, describe, read_toml

#: The face scales a kiosk can show: 4 points (no neutral middle) or 5.
SCALES: tuple[int, ...] = (4, 5)


class Moment(BaseModel):
    """One contact between customer and organisation, rated by the customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Id
    #: A short name for reports and the console ("Check-in wait"); the question
    #: stands in for a language it lacks, so older plugins keep working.
    name: Text = {}
    question: Text
    critical: bool = False
    target: float = Field(ge=1, description="the promised level, on the cycle's scale")
    reasons: tuple[Id, ...] = ()
    praise: tuple[Id, ...] = ()

    def target_on(self, scale: int, cycle_scale: int) -> float:
        """The target moved linearly from the cycle's scale onto ``scale``."""
        if scale == cycle_scale:
            return self.target
        return 1 + (self.target - 1) * (scale - 1) / (cycle_scale - 1)

    def label(self, language: str, fallback: str) -> str:
        """The moment's name in ``language`` for a report; its question when it has none."""
        if language in self.name:
            return self.name[language]
        if language in self.question or not self.name:
            return pick(self.question, language, fallback)
        return pick(self.name, language, fallback)


class Stage(BaseModel):
    """A step of the cycle as the customer lives it (arrival, waiting, payment...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Id
    name: Text
    moments: tuple[Moment, ...] = Field(min_length=1)

    @property
    def critical(self) -> bool:
        """A stage is critical when any of its moments is."""
        return any(m.critical for m in self.moments)


class Cycle(BaseModel):
    """A service-cycle template, as a plugin registers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Id
    industry: Id
    name: Text
    description: Text = {}
    scale: Literal[4, 5] = 5
    languages: tuple[LanguageCode, ...] = Field(min_length=1)
    use_default_reasons: bool = True
    reasons: tuple[Reason, ...] = ()
    stages: tuple[Stage, ...] = Field(min_length=1)

    _reasons: dict[str, Reason] = PrivateAttr(default_factory=dict)
    _moments: dict[str, tuple[Stage, Moment]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_consistency(self) -> Cycle:
        problems: list[str] = []
        available: dict[str, Reason] = {}
        if self.use_default_reasons:
            available.update((r.id, r) for r in default_reasons())
        for i, reason in enumerate(self.reasons):
            if reason.id in available and reason not in default_reasons():
                where = "the default taxonomy" if self.use_default_reasons else "this cycle"
                problems.append(f"reasons[{i}].id = {reason.id!r}: already defined in {where}")
            available[reason.id] = reason

        seen_stages: set[str] = set()
        moments: dict[str, tuple[Stage, Moment]] = {}
        for s, stage in enumerate(self.stages):
            if stage.id in seen_stages:
                problems.append(f"stages[{s}].id = {stage.id!r}: stage ids must be unique")
            seen_stages.add(stage.id)
            for m, moment in enumerate(stage.moments):
                where = f"stages[{s}].moments[{m}]"
                if moment.id in moments:
                    problems.append(
                        f"{where}.id = {moment.id!r}: moment ids must be unique in the cycle"
                    )
                moments[moment.id] = (stage, moment)
                if not 1 <= moment.target <= self.scale:
                    problems.append(
                        f"{where}.target = {moment.target!r}: must be between 1 and "
                        f"{self.scale} (the cycle's scale)"
                    )
                for field, polarity in (("reasons", "negative"), ("praise", "positive")):
                    for r, reason_id in enumerate(getattr(moment, field)):
                        reason = available.get(reason_id)
                        if reason is None:
                            problems.append(
                                f"{where}.{field}[{r}] = {reason_id!r}: unknown reason; "
                                f"allowed: {', '.join(sorted(available)) or '(none defined)'}"
                            )
                        elif reason.polarity != polarity:
                            problems.append(
                                f"{where}.{field}[{r}] = {reason_id!r}: is a {reason.polarity} "
                                f"reason; {field} takes {polarity} ones"
                            )
        problems.extend(self._check_languages())
        if problems:
            raise ValueError("\n".join(problems))
        self._reasons = available
        self._moments = moments
        return self

    def _check_languages(self) -> list[str]:
        default = self.languages[0]
        declared = set(self.languages)
        problems = []
        for path, text in self.texts().items():
            if default not in text:
                problems.append(f"{path}: has no text in {default!r}, the cycle's first language")
            extra = sorted(set(text) - declared)
            if extra:
                problems.append(
                    f"{path}: language(s) {', '.join(extra)} not declared in `languages` "
                    f"({', '.join(self.languages)})"
                )
        return problems

    # -- looking things up -------------------------------------------------

    def texts(self) -> dict[str, Mapping[str, str]]:
        """Every translatable text of the cycle, keyed by its path in the template."""
        texts: dict[str, Mapping[str, str]] = {"name": self.name}
        if self.description:
            texts["description"] = self.description
        for i, reason in enumerate(self.reasons):
            texts[f"reasons[{i}].label"] = reason.label
        for s, stage in enumerate(self.stages):
            texts[f"stages[{s}].name"] = stage.name
            for m, moment in enumerate(stage.moments):
                if moment.name:
                    texts[f"stages[{s}].moments[{m}].name"] = moment.name
                texts[f"stages[{s}].moments[{m}].question"] = moment.question
        return texts

    def moments(self) -> Iterator[tuple[Stage, Moment]]:
        """Every moment with its stage, in cycle order."""
        yield from self._moments.values()

    def find_moment(self, moment_id: str) -> tuple[Stage, Moment] | None:
        return self._moments.get(moment_id)

    def reason(self, reason_id: str) -> Reason | None:
        return self._reasons.get(reason_id)

    @property
    def available_reasons(self) -> Mapping[str, Reason]:
        """Every reason this cycle's moments may use (defaults plus its own)."""
        return self._reasons

    def critical_moments(self) -> list[tuple[Stage, Moment]]:
        return [(s, m) for s, m in self.moments() if m.critical]


def load_cycle(source: Path | Mapping[str, Any], *, name: str | None = None) -> Cycle:
    """Build a :class:`Cycle` from a TOML file (or an already-parsed mapping).

    Raises :class:`TemplateError` naming the file, the field path, the value
    and what is allowed.
    """
    label = name or (str(source) if not isinstance(source, Mapping) else "<mapping>")
    if isinstance(source, Mapping):
        data: Any = source
        problem = data_problem(data)
        if problem:
            raise TemplateError(label, [problem])
    else:
        try:
            data = read_toml(source)
        except ValueError as exc:
            raise TemplateError(label, [str(exc)]) from exc
    try:
        return Cycle.model_validate(data)
    except ValidationError as exc:
        raise TemplateError(label, describe(exc, Cycle)) from exc
