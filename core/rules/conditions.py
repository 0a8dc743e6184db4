"""Conditions on rating fields: a fixed table of fields and operators, no ``eval``.

A condition is written in TOML as ``field = value`` (equality, or membership
for a list) or ``field = { operator = value }``::

    when = { score = { le = 2 }, moment = ["check-in-wait", "check-out-wait"],
             critical = true, reasons = { any = ["lost-time"] },
             time_of_day = { between = ["08:00", "20:00"] } }

Conditions compile once into plain closures, so matching a rating costs a few
attribute reads and comparisons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..text import shown

#: What a compiled condition is asked about: a rating, plus facts core derives.
Subject = Any  # an object with the FIELDS below as attributes (see engine.Observation)
Predicate = Callable[[Subject], bool]

TEXT_OPS = ("eq", "ne", "in", "not_in")
NUMBER_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in")
LIST_OPS = ("any", "all", "none", "empty")
TIME_OPS = ("between", "not_between")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "text" | "number" | "bool" | "list" | "clock"
    description: str

    @property
    def operators(self) -> tuple[str, ...]:
        return {
            "text": TEXT_OPS,
            "number": NUMBER_OPS,
            "bool": ("eq",),
            "list": LIST_OPS,
            "clock": TIME_OPS,
        }[self.kind]


#: Every field a condition may name.
FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("score", "number", "the rating, 1 (worst) to the scale's top"),
        Field("scale", "number", "points on the scale the customer saw (4 or 5)"),
        Field("moment", "text", "moment id"),
        Field("stage", "text", "stage id"),
        Field("cycle", "text", "cycle id"),
        Field("critical", "bool", "whether the moment is marked critical in its cycle"),
        Field("reasons", "list", "reason ids the customer picked"),
        Field("language", "text", "language the customer used"),
        Field("kiosk", "text", "kiosk id"),
        Field("site", "text", "site id"),
        Field("time_of_day", "clock", "local time at the site, HH:MM"),
        Field("weekday", "text", "local weekday at the site: mon ... sun"),
    )
}


class ConditionError(ValueError):
    """A condition names an unknown field or operator, or a value of the wrong type."""


def compile_conditions(spec: Mapping[str, Any], where: str = "when") -> Predicate:
    """One predicate that holds when every condition in ``spec`` holds."""
    if not isinstance(spec, Mapping):
        raise ConditionError(f"{where}: must be a table of field = condition")
    checks = [_compile_field(name, value, f"{where}.{name}") for name, value in spec.items()]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda subject: all(check(subject) for check in checks)


def _always(_: Subject) -> bool:
    return True


def _compile_field(name: str, value: Any, where: str) -> Predicate:
    field = FIELDS.get(name)
    if field is None:
        raise ConditionError(f"{where}: unknown field {shown(name)}; fields: {', '.join(FIELDS)}")
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise ConditionError(
                f"{where}: give exactly one operator per field (as a table), got {len(value)}; "
                "add another rule line for another test"
            )
        [(op, operand)] = value.items()
    elif isinstance(value, list):
        op, operand = ("any" if field.kind == "list" else "in"), value
    else:
        op, operand = ("any" if field.kind == "list" else "eq"), value
        if field.kind == "list":
            operand = [value]
    if op not in field.operators:
        raise ConditionError(
            f"{where}: unknown operator {shown(op)} for {field.kind} field {name!r}; "
            f"operators: {', '.join(field.operators)}"
        )
    operand = _check_operand(field, op, operand, where)
    getter = _getter(name)
    return _OPERATORS[op](getter, operand)


def _check_operand(field: Field, op: str, operand: Any, where: str) -> Any:
    def fail(expected: str) -> ConditionError:
        return ConditionError(f"{where}.{op} = {shown(operand)}: expected {expected}")

    if op in ("in", "not_in", "any", "all", "none"):
        if not isinstance(operand, list) or not operand:
            raise fail("a non-empty list")
        items = operand
    elif op == "empty":
        if not isinstance(operand, bool):
            raise fail("true or false")
        return operand
    elif op in TIME_OPS:
        if (
            not isinstance(operand, list)
            or len(operand) != 2
            or not all(isinstance(t, str) and _CLOCK.match(t) for t in operand)
        ):
            raise fail("two times as ['HH:MM', 'HH:MM'] (the range may cross midnight)")
        return tuple(operand)
    else:
        items = [operand]
    for item in items:
        if field.kind == "number" and (isinstance(item, bool) or not isinstance(item, int | float)):
            raise fail("a number")
        if field.kind == "bool" and not isinstance(item, bool):
            raise fail("true or false")
        if field.kind in ("text", "list") and not isinstance(item, str):
            raise fail("text")
        if field.name == "weekday" and item not in _WEEKDAYS:
            raise fail(f"one of {', '.join(_WEEKDAYS)}")
    return frozenset(operand) if isinstance(operand, list) else operand


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _getter(name: str) -> Callable[[Subject], Any]:
    return lambda subject: getattr(subject, name)


def _between(get: Callable[[Subject], Any], span: tuple[str, str]) -> Predicate:
    start, end = span
    if start <= end:
        return lambda s: start <= get(s) < end
    return lambda s: get(s) >= start or get(s) < end  # crosses midnight


_OPERATORS: dict[str, Callable[[Callable[[Subject], Any], Any], Predicate]] = {
    "eq": lambda get, v: lambda s: get(s) == v,
    "ne": lambda get, v: lambda s: get(s) != v,
    "lt": lambda get, v: lambda s: get(s) < v,
    "le": lambda get, v: lambda s: get(s) <= v,
    "gt": lambda get, v: lambda s: get(s) > v,
    "ge": lambda get, v: lambda s: get(s) >= v,
    "in": lambda get, v: lambda s: get(s) in v,
    "not_in": lambda get, v: lambda s: get(s) not in v,
    "any": lambda get, v: lambda s: not v.isdisjoint(get(s)),
    "all": lambda get, v: lambda s: v.issubset(get(s)),
    "none": lambda get, v: lambda s: v.isdisjoint(get(s)),
    "empty": lambda get, v: lambda s: (not get(s)) == v,
    "between": _between,
    "not_between": lambda get, v: (lambda p: lambda s: not p(s))(_between(get, v)),
}
