"""Turn pydantic's validation errors into lines a person can act on.

Each line names the field path as it appears in the file (``stages[2].moments[0].target``),
the offending value, and what is allowed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .text import shown


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("stages", 2, "name")`` → ``stages[2].name``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _allowed_keys(model: Any, loc: tuple[int | str, ...]) -> list[str]:
    """The keys a model accepts at ``loc`` (for 'unknown key' messages)."""
    from pydantic import BaseModel

    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = _inner_model(annotation)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def describe(error: ValidationError, model: Any = None) -> list[str]:
    """One readable line per problem in ``error``."""
    lines = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        path = field_path(loc)
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc) if model is not None else []
            hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            lines.append(f"{path}: unknown key{hint}")
            continue
        if item["type"] == "missing":
            lines.append(f"{path}: required but missing")
            continue
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] in {"value_error", "assertion_error"} and not loc:
            lines.extend(message.splitlines())
        else:
            lines.append(f"{path} = {shown(item['input'])}: {message}")
    return lines


#: Arrays and tables inside each other deeper than this are refused: no file of ours
#: needs more than a few levels, and parsers and validators recurse.
MAX_DEPTH = 32


class TomlError(ValueError):
    """A TOML text that cannot be read; ``line`` where the parser says so."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def parse_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` whose every failure is a :class:`TomlError` saying what is wrong.

    tomllib itself raises ``RecursionError`` on deep nesting and a plain
    ``ValueError`` on an integer of thousands of digits; both become messages.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise TomlError(f"malformed TOML: {exc}", int(match[1]) if match else None) from None
    except RecursionError:
        line = _deep_line(text)
        raise TomlError(
            f"malformed TOML: arrays or tables nested too deeply (at most {MAX_DEPTH} levels)"
            + (f" (at line {line})" if line else ""),
            line,
        ) from None
    except ValueError:  # Python's limit on the digits of an integer
        found = re.search(r"\d{1000,}", text)
        line = text.count("\n", 0, found.start()) + 1 if found else None
        raise TomlError(
            "malformed TOML: a number of thousands of digits"
            + (f" at line {line}" if line else "")
            + " (integers are at most 64 bits)",
            line,
        ) from None
    problem = data_problem(data)
    if problem:
        raise TomlError(problem)
    return data


def _deep_line(text: str) -> int | None:
    """The first line where brackets nest deeper than :data:`MAX_DEPTH` (strings ignored)."""
    depth = 0
    quote = ""
    for number, line in enumerate(text.splitlines(), start=1):
        for char in line:
            if quote:
                quote = "" if char == quote else quote
            elif char in "\"'":
                quote = char
            elif char in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return number
            elif char in "]}":
                depth = max(0, depth - 1)
        quote = ""
    return None


#: TOML's integers are 64-bit; tomllib reads longer ones, nothing here needs them.
MAX_INT = 2**63 - 1


def data_problem(value: Any) -> str | None:
    """Why parsed data (a file's, or a plugin's mapping) is beyond what any field takes.

    Lists and tables nested deeper than :data:`MAX_DEPTH`, integers beyond 64
    bits: refused before validation, whose recursion and messages they would
    break. Walks iteratively, so nothing here can overflow the stack.
    """
    stack = [(value, 0, "")]
    while stack:
        item, level, where = stack.pop()
        if level > MAX_DEPTH:
            return (
                f"{where or 'data'}: lists or tables nested too deeply (at most {MAX_DEPTH} levels)"
            )
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
            return f"{where or 'value'}: {shown(item)} is too large (at most 64-bit integers)"
        if isinstance(item, Mapping):
            stack.extend(
                (child, level + 1, f"{where}.{key}" if where else str(key))
                for key, child in item.items()
            )
        elif isinstance(item, list | tuple):
            stack.extend((child, level + 1, f"{where}[{i}]") for i, child in enumerate(item))
    return None


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, raising ``ValueError`` with file, line and column on failure."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return parse_toml(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except TomlError as exc:
        raise ValueError(f"{path}: {exc}") from exc
