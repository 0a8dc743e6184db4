"""Label matchers, as in Alertmanager: ``=``, ``!=``, ``=~``, ``!~``.

In ``[notify]`` they are written as a table, ``{ severity = "critical" }`` for
equality or ``{ site = { regex = "kl-.*" } }``; the CLI writes them as text,
``severity=critical`` or ``site=~kl-.*``. A label an alert lacks counts as the
empty string, and regular expressions must match the whole value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator

#: Table form → operator.
OPERATORS: dict[str, str] = {"equal": "=", "not": "!=", "regex": "=~", "not_regex": "!~"}
_TEXT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    """One condition on one label."""

    name: str
    op: str  # "=", "!=", "=~", "!~"
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a matcher needs a label name")
        if self.op not in OPERATORS.values():
            raise ValueError(f"operator {self.op!r}: use one of =, !=, =~, !~")
        if not isinstance(self.value, str):
            raise ValueError(
                f"{self.name}: the value must be text, not {type(self.value).__name__}"
            )
        if self.op in ("=~", "!~"):
            try:
                compiled = re.compile(self.value)
            except (re.error, RecursionError, OverflowError) as exc:
                raise ValueError(
                    f"{self.name}: {self.value!r} is not a regular expression ({exc})"
                ) from None
            object.__setattr__(self, "_regex", compiled)

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self._regex is not None:
            found = self._regex.fullmatch(value) is not None
            return found if self.op == "=~" else not found
        return (value == self.value) if self.op == "=" else (value != self.value)

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``severity=critical``, ``team!=night``, ``site=~kl-.*``, ``moment!~check-.*``."""
        match = _TEXT.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(
                f"{text!r} is not a matcher; write label=value, label!=value, "
                "label=~regex or label!~regex"
            )
        value = match[3]
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        return cls(match[1], match[2], value)

    def to_config(self) -> str | dict[str, str]:
        """The table form, as ``[notify]`` writes it."""
        if self.op == "=":
            return self.value
        name = {v: k for k, v in OPERATORS.items()}[self.op]
        return {name: self.value}


def parse_matchers(value: Any) -> tuple[Matcher, ...]:
    """Matchers from a table (config), a list of texts or :class:`Matcher` objects (API)."""
    if isinstance(value, Mapping):
        found = []
        for name, condition in value.items():
            if isinstance(condition, str):
                found.append(Matcher(str(name), "=", condition))
            elif isinstance(condition, Mapping) and len(condition) == 1:
                (kind, text), *_ = condition.items()
                if kind not in OPERATORS:
                    raise ValueError(
                        f"{name}: unknown operator {kind!r}; use a text for equality or one of "
                        f'{", ".join(OPERATORS)}, e.g. {{ regex = "kl-.*" }}'
                    )
                found.append(Matcher(str(name), OPERATORS[kind], text))
            else:
                raise ValueError(
                    f"{name}: write a text (equality) or a table with one of "
                    f'{", ".join(OPERATORS)}, e.g. {{ regex = "kl-.*" }}'
                )
        return tuple(found)
    if isinstance(value, str):
        return (Matcher.parse(value),)
    if isinstance(value, Iterable):
        return tuple(item if isinstance(item, Matcher) else Matcher.parse(item) for item in value)
    raise ValueError('write matchers as a table, e.g. { severity = "critical" }')


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def _dump(matchers: tuple[Matcher, ...]) -> dict[str, Any]:
    return {m.name: m.to_config() for m in matchers}


#: A matchers setting: a table in the file, a tuple of :class:`Matcher` in code.
Matchers = Annotated[
    tuple[Matcher, ...],
    PlainValidator(parse_matchers),
    PlainSerializer(_dump, return_type=dict, when_used="json"),
]
