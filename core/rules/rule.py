"""A rule: which bad moments to watch, how to decide the service is failing, who acts.

Rules are data (TOML) so that managers can read and tune them; the few that
data cannot express are Python (:class:`PythonRule`) and go through the same
hook and the same alert lifecycle.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from ..alert import SEVERITIES
from ..duration import Duration, format_duration, parse_interval
from ..text import shown
from .conditions import ConditionError, Predicate, compile_conditions

RULE_ID = r"^[a-z][a-z0-9._-]{0,79}$"
KEY_FIELDS = ("site", "kiosk", "cycle", "stage", "moment")
KINDS = ("single", "count", "share", "mean", "silence", "drift", "python")
FIGURES = ("mean", "share", "volume")
#: Which way a drift rule looks unless told: the way that is worse for the customer.
WORSE = {"mean": "down", "share": "up", "volume": "down"}
#: A drift rule's defaults: baseline, weeks of it, ratings a slot needs, false-alarm period.
DRIFT_DEFAULTS = {
    "baseline": "part-of-week",
    "baseline_weeks": 8,
    "min_samples": 30,
    "false_alarm_every": timedelta(days=90),
}

#: Fields a summary template may name, by what they mean.
TEMPLATE_FIELDS: dict[str, str] = {
    "rule": "the rule id",
    "severity": "the rule's severity",
    "site": "site id (when the rule is keyed by site)",
    "kiosk": "kiosk id (when keyed by kiosk)",
    "cycle": "cycle id (when keyed by cycle)",
    "stage": "stage id (when keyed by stage)",
    "moment": "moment id (when keyed by moment)",
    "moment_question": "the moment's question, in the cycle's first language",
    "moment_name": "the moment's short name (its question when it has none)",
    "score": "score of the latest rating that counted",
    "count": "matching ratings in the window",
    "samples": "ratings in the window",
    "share": "share of matching ratings, as a percentage",
    "mean": "mean score in the window",
    "target": "the moment's target score",
    "threshold": "the rule's threshold",
    "window": "the window, e.g. 15m",
    "top_reasons": "the most frequent reasons in the window",
    "quiet_for": "how long the kiosk has been silent",
    "change": "drift: what changed, in words (mean 3.1 since Monday 09:10 ... for Monday mornings)",
    "observed": "drift: the figure since the change began (3.1, 24%, 2.0 an hour)",
    "normal": "drift: the moment's normal for the same times (3.9, 10%, 8.2 an hour)",
    "normal_for": "drift: which times the normal is for (Monday mornings)",
    "since": "drift: when the change began, on the site's clock",
}


#: What each field can hold when an alert is rendered: a template must show every one of
#: them (ints for counts and scores, texts for the rest, "-" for a value not there).
TEMPLATE_SAMPLES: dict[str, tuple[Any, ...]] = {
    "rule": ("hotel.check-in-wait",),
    "severity": ("critical", "warning", "info"),
    "site": ("grand-kl", "-"),
    "kiosk": ("lobby-1", "-"),
    "cycle": ("hotel-guest", "-"),
    "stage": ("check-in", "-"),
    "moment": ("check-in-wait", "-"),
    "moment_question": ("How was your wait at check-in?", "-"),
    "moment_name": ("Check-in wait", "-"),
    "score": (1, 5, "-"),
    "count": (0, 3),
    "samples": (0, 12),
    "share": ("35%", "-"),
    "mean": ("2.40", "-"),
    "target": ("4.0", "-"),
    "threshold": ("3.5", "-"),
    "window": ("15m",),
    "top_reasons": ("lost-time, indifference", "none given", "-"),
    "quiet_for": ("45m", "-"),
    "change": (
        "mean 3.1 since Monday 09:10 (23 ratings) against a normal 3.9 for Monday mornings",
        "-",
    ),
    "observed": ("3.1", "24%", "-"),
    "normal": ("3.9", "10%", "-"),
    "normal_for": ("Monday mornings", "-"),
    "since": ("Monday 09:10", "-"),
}
#: Width and precision in a format spec beyond this are refused: an alert text is short.
MAX_SPEC_NUMBER = 300


Id = Annotated[str, StringConstraints(pattern=RULE_ID)]


class Rule(BaseModel):
    """A declarative alert rule (see docs/rules.md for every field)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: Id
    kind: Literal["single", "count", "share", "mean", "silence", "drift"]
    severity: Literal["critical", "warning", "info"] = "warning"
    description: str = ""
    summary: str = Field(min_length=1, max_length=300)
    response: str = Field(min_length=1, max_length=2000)
    labels: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*$")], str] = {}
    key_by: tuple[Literal["site", "kiosk", "cycle", "stage", "moment"], ...] = ("site", "moment")
    cycle: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")] | None = None
    scope: dict[str, Any] = {}
    when: dict[str, Any] = {}
    window: Duration | None = None
    count: int | None = Field(None, ge=1, le=10_000)
    resolve_count: int | None = Field(None, ge=1, le=10_000)
    share: float | None = Field(None, gt=0, le=1)
    resolve_share: float | None = Field(None, ge=0, le=1)
    min_samples: int = Field(1, ge=1, le=100_000)
    figure: Literal["mean", "share", "volume"] | None = None
    shift: float | str | None = None
    direction: Literal["down", "up", "both"] | None = None
    false_alarm_every: Duration | None = None
    baseline: (
        Literal["hour-of-week", "part-of-week", "day-of-week", "hour-of-day", "flat"] | None
    ) = None
    baseline_weeks: int | None = Field(None, ge=1, le=26)
    below: float | Literal["target"] | None = None
    resolve_above: float | Literal["target"] | None = None
    for_: Duration = Field(timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    include_suspect: bool = False
    #: Ratings derived from follow-up survey answers (flag ``survey``) count only if set.
    include_survey: bool = False
    enabled: bool = True

    _scope: Predicate = PrivateAttr()
    _when: Predicate = PrivateAttr()

    @model_validator(mode="after")
    def _check(self) -> Rule:
        problems = _kind_problems(self)
        problems += _duration_problems(self)
        for part in ("scope", "when"):
            try:
                setattr(self, f"_{part}", compile_conditions(getattr(self, part), part))
            except ConditionError as exc:
                problems.append(str(exc))
        problems += template_problems(self.summary, "summary")
        problems += template_problems(self.response, "response")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- what the engine asks -------------------------------------------------

    @property
    def in_scope(self) -> Predicate:
        return self._scope

    @property
    def matches(self) -> Predicate:
        return self._when

    @property
    def horizon(self) -> timedelta:
        """How far back this rule looks: the history a restart must replay."""
        if self.kind == "drift":  # the baseline weeks and the week under way
            return timedelta(weeks=self.drift_setting("baseline_weeks") + 1) + self.keep_firing_for
        return (self.window or timedelta(0)) + self.keep_firing_for

    def drift_setting(self, name: str) -> Any:
        """A drift rule's setting, or its default when the rule does not say."""
        if name == "direction":
            return self.direction or WORSE[self.figure or "mean"]
        if name == "baseline" and self.figure == "volume":
            return "hour-of-week"
        if name == "shift":
            return parse_shift(self.shift, self.figure or "mean")
        if name == "min_samples":
            if "min_samples" in self.model_fields_set:
                return self.min_samples
            return DRIFT_DEFAULTS["min_samples"]
        value = getattr(self, name)
        return DRIFT_DEFAULTS[name] if value is None else value

    def describe_threshold(self) -> str:
        if self.kind == "single":
            return "any matching rating"
        if self.kind == "count":
            return f"≥ {self.count} in {format_duration(self.window)}"  # type: ignore[arg-type]
        if self.kind == "share":
            return f"≥ {self.share:.0%} of ≥ {self.min_samples} in {format_duration(self.window)}"  # type: ignore[arg-type]
        if self.kind == "mean":
            return f"mean < {self.below} (≥ {self.min_samples} in {format_duration(self.window)})"  # type: ignore[arg-type]
        if self.kind == "drift":
            return describe_drift(self)
        return f"no rating for {format_duration(self.window)} while open"  # type: ignore[arg-type]


def describe_drift(rule: Rule) -> str:
    """A drift rule's sensitivity as ``rules list`` shows it."""
    figure = rule.figure or "mean"
    shift = rule.drift_setting("shift")
    direction = rule.drift_setting("direction")
    way = {"down": "below", "up": "above", "both": "above or below"}[direction]
    amount = (
        f"{shift:g} points"
        if figure == "mean"
        else f"{round(shift * 100, 2):g} points"
        if figure == "share"
        else f"{round(shift * 100, 2):g} %"
    )
    every = format_duration(rule.drift_setting("false_alarm_every"))
    return f"{figure} {amount} {way} normal · a false alarm every {every}"


def parse_shift(value: Any, figure: str) -> float:
    """A drift rule's ``shift``: points of mean, or a share/volume as 0.1 or "10%"."""
    if isinstance(value, str):
        text = value.strip()
        if figure == "mean" or not re.fullmatch(r"\d{1,3}(\.\d+)?\s*%", text):
            raise ValueError(
                f"shift = {shown(value)}: "
                + (
                    "a mean's shift is points on the scale, e.g. shift = 0.5"
                    if figure == "mean"
                    else 'write a fraction (shift = 0.1) or a percentage (shift = "10%")'
                )
            )
        return float(text.rstrip("%").strip()) / 100
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"shift = {shown(value)}: expected a number")
    return float(value)


_NEEDS: dict[str, tuple[str, ...]] = {
    "single": (),
    "count": ("window", "count"),
    "share": ("window", "share"),
    "mean": ("window", "below"),
    "silence": ("window",),
    "drift": ("figure", "shift"),
}
_ALLOWS: dict[str, set[str]] = {
    "single": {"when", "window"},
    "count": {"when", "window", "count", "resolve_count"},
    "share": {"when", "window", "share", "resolve_share", "min_samples"},
    "mean": {"window", "below", "resolve_above", "min_samples"},
    "silence": {"window"},
    "drift": {
        "when",
        "figure",
        "shift",
        "direction",
        "false_alarm_every",
        "baseline",
        "baseline_weeks",
        "min_samples",
    },
}
_DRIFT_FIELDS = {"figure", "shift", "direction", "false_alarm_every", "baseline", "baseline_weeks"}
_KIND_FIELDS = _DRIFT_FIELDS | {
    "when",
    "window",
    "count",
    "resolve_count",
    "share",
    "resolve_share",
    "min_samples",
    "below",
    "resolve_above",
}


def _kind_problems(rule: Rule) -> list[str]:
    problems = [
        f"{f}: required for a {rule.kind} rule"
        for f in _NEEDS[rule.kind]
        if getattr(rule, f) is None
    ]
    for name in sorted(_KIND_FIELDS & rule.model_fields_set - _ALLOWS[rule.kind]):
        problems.append(
            f"{name}: not used by a {rule.kind} rule; a {rule.kind} rule takes "
            f"{', '.join(sorted(_ALLOWS[rule.kind])) or 'none of the window fields'}"
        )
    if rule.kind in ("single", "count", "share") and not rule.when:
        problems.append(f"when: a {rule.kind} rule needs conditions saying which ratings are bad")
    if (
        rule.resolve_count is not None
        and rule.count is not None
        and rule.resolve_count > rule.count
    ):
        problems.append(
            f"resolve_count = {rule.resolve_count}: must not exceed count = {rule.count} "
            "(the alert resolves when fewer than resolve_count match)"
        )
    if (
        rule.resolve_share is not None
        and rule.share is not None
        and rule.resolve_share > rule.share
    ):
        problems.append(
            f"resolve_share = {rule.resolve_share}: must not exceed share = {rule.share}"
        )
    if (
        isinstance(rule.below, float | int)
        and isinstance(rule.resolve_above, float | int)
        and rule.resolve_above < rule.below
    ):
        problems.append(
            f"resolve_above = {rule.resolve_above}: must be at least below = {rule.below}"
        )
    if rule.kind == "drift":
        problems += _drift_problems(rule)
    if rule.kind == "silence" and "kiosk" not in rule.key_by:
        problems.append("key_by: a silence rule watches each kiosk, so key_by must include 'kiosk'")
    return problems


#: How large a drift rule's ``shift`` may be, per figure (points of mean; fractions else).
SHIFT_RANGE = {"mean": (0.05, 3.0), "share": (0.01, 0.9), "volume": (0.05, 0.95)}


def _drift_problems(rule: Rule) -> list[str]:
    figure = rule.figure
    if figure is None or rule.shift is None:
        return []
    problems = []
    try:
        shift = parse_shift(rule.shift, figure)
    except ValueError as exc:
        problems.append(str(exc))
    else:
        low, high = SHIFT_RANGE[figure]
        if figure == "volume" and rule.drift_setting("direction") == "up":
            high = 10.0
        if not low <= shift <= high:
            unit = "points" if figure == "mean" else ""
            problems.append(
                f"shift = {shown(rule.shift)}: must be between {low:g} and {high:g}{unit and ' '}"
                f"{unit}" + (" (as a fraction: 0.1 is 10 %)" if figure != "mean" else "")
            )
    if rule.when and figure != "share":
        problems.append(
            f"when: a {figure} drift watches every rating in scope; "
            "only a share drift takes `when` (which ratings count; default: score ≤ 2)"
        )
    if "reasons" in rule.when:
        problems.append(
            "when.reasons: a drift rule judges each rating as it arrives, before the "
            "reasons picked on the reason screen; condition on score, language or kiosk instead"
        )
    if "moment" not in rule.key_by:
        problems.append(
            "key_by: a drift rule learns each moment's normal, so key_by must include 'moment'"
        )
    if figure == "volume" and rule.baseline not in (None, "hour-of-week"):
        problems.append(
            f"baseline = {shown(rule.baseline)}: a volume drift compares each hour with the "
            'same hour of past weeks; leave baseline out (or write "hour-of-week")'
        )
    every = rule.false_alarm_every
    if every is not None and every < timedelta(days=1):
        problems.append(
            f"false_alarm_every = {format_duration(every)}: at least 1d "
            "(the expected time between false alarms of each moment)"
        )
    return problems


MAX_WINDOW = timedelta(days=7)


def _duration_problems(rule: Rule) -> list[str]:
    problems = []
    if rule.window is not None and not timedelta(seconds=1) <= rule.window <= MAX_WINDOW:
        problems.append(
            f"window = {format_duration(rule.window)}: must be between 1s and 7d "
            "(longer trends belong in reports)"
        )
    if rule.kind == "silence" and rule.window is not None and rule.window < timedelta(minutes=1):
        problems.append(f"window = {format_duration(rule.window)}: a silence needs at least 1m")
    for name in ("for_", "keep_firing_for"):
        value = getattr(rule, name)
        if value > MAX_WINDOW:
            problems.append(f"{name.rstrip('_')} = {format_duration(value)}: at most 7d")
    return problems


def template_problems(template: str, where: str) -> list[str]:
    """Why a summary or response template could not be filled for every alert, if it cannot.

    A field must be one of :data:`TEMPLATE_FIELDS`, written plainly (no ``.attr``,
    ``[index]`` or fields inside a format spec), and its format spec and
    conversion must work on every value that field can hold (``{count:d}``
    does; ``{site:d}`` never does), so a rule that loads always renders.
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [
            f"{where}: malformed template ({exc}); write fields as {{count}}, braces as {{{{ }}}}"
        ]
    problems = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        shown = (
            "{"
            + name
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
        )
        if name not in TEMPLATE_FIELDS:
            hint = "write fields plainly, " if name and not name.isidentifier() else ""
            problems.append(
                f"{where}: unknown field {shown}; {hint}fields: {', '.join(TEMPLATE_FIELDS)}"
            )
            continue
        problem = _spec_problem(name, spec or "", conversion)
        if problem:
            problems.append(f"{where}: {shown}: {problem}")
    return problems


def _spec_problem(name: str, spec: str, conversion: str | None) -> str | None:
    if conversion is not None and conversion not in ("r", "s", "a"):
        return f"unknown conversion !{conversion}; use !s, !r or !a"
    if "{" in spec or "}" in spec:
        return "a format spec cannot hold another field"
    if any(len(n) > 3 or int(n) > MAX_SPEC_NUMBER for n in re.findall(r"\d+", spec)):
        return f"width and precision may be at most {MAX_SPEC_NUMBER}"
    for value in TEMPLATE_SAMPLES[name]:
        try:
            format(_convert(value, conversion), spec)
        except (ValueError, TypeError) as exc:
            kind = "a number" if isinstance(value, int) else "a text"
            return (
                f"the format spec {spec!r} cannot show {name} when it is {kind} ({value!r}): {exc}"
            )
    return None


def _convert(value: Any, conversion: str | None) -> Any:
    if conversion is None:
        return value
    if conversion in ("r", "s", "a"):
        return {"r": repr, "s": str, "a": ascii}[conversion](value)
    raise ValueError(f"unknown conversion !{conversion}; use !s, !r or !a")


def render(
    template: str, values: dict[str, Any], on_fault: Callable[[str], None] | None = None
) -> str:
    """Fill a validated template; fields without a value read as '-'.

    Never raises: a value its format spec cannot show (a Python rule's own
    value, say) is shown plainly instead, and ``on_fault`` hears why.
    """
    try:
        return template.format_map(_Defaulting(values))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        if on_fault is not None:
            on_fault(f"cannot fill {template!r}: {type(exc).__name__}: {exc}")
        return _plain(template, values)


def _plain(template: str, values: dict[str, Any]) -> str:
    """The template with each field's value as plain text, spec and conversion ignored."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return template
    return "".join(
        literal + ("" if name is None else str(values.get(name, "-")))
        for literal, name, _, _ in parts
    )


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return "-"


class PythonRule:
    """A rule in Python, for what conditions and thresholds cannot express.

    ``evaluate(observations, now)`` receives the in-scope, non-suspect
    observations of one key within ``window`` (oldest first) and returns
    ``None`` when all is well, or a dict of template values when the alert
    condition holds.
    """

    kind = "python"

    def __init__(
        self,
        *,
        id: str,
        summary: str,
        response: str,
        evaluate: Callable[[Sequence[Any], datetime], dict[str, Any] | None],
        window: str | timedelta,
        severity: str = "warning",
        labels: dict[str, str] | None = None,
        key_by: Sequence[str] = ("site", "moment"),
        cycle: str | None = None,
        scope: dict[str, Any] | None = None,
        for_: str | timedelta = timedelta(0),
        keep_firing_for: str | timedelta = timedelta(0),
        include_suspect: bool = False,
        include_survey: bool = False,
        description: str = "",
    ) -> None:
        problems = []
        if severity not in SEVERITIES:
            problems.append(f"severity = {shown(severity)}: allowed: {', '.join(SEVERITIES)}")
        bad_keys = [k for k in key_by if k not in KEY_FIELDS]
        if bad_keys:
            problems.append(f"key_by: {bad_keys} not allowed; allowed: {', '.join(KEY_FIELDS)}")
        problems += template_problems(summary, "summary")
        problems += template_problems(response, "response")
        if problems:
            raise ValueError("\n".join(problems))
        self.id = id
        self.summary = summary
        self.response = response
        self.evaluate = evaluate
        self.window = parse_interval(window)
        self.severity = severity
        self.labels = dict(labels or {})
        self.key_by = tuple(key_by)
        self.cycle = cycle
        self.scope = dict(scope or {})
        self.when: dict[str, Any] = {}
        self.for_ = parse_interval(for_)
        self.keep_firing_for = parse_interval(keep_firing_for)
        self.include_suspect = include_suspect
        self.include_survey = include_survey
        self.description = description
        self.enabled = True
        self.in_scope = compile_conditions(self.scope, "scope")
        self.matches = self.in_scope
        self.min_samples = 1

    @property
    def horizon(self) -> timedelta:
        return self.window + self.keep_firing_for

    def describe_threshold(self) -> str:
        return f"Python rule over {format_duration(self.window)}"
