"""Turn pydantic's validation errors into lines a person can act on.

Each line names the field path as it appears in the file (``stages[2].moments[0].target``),
the offending value, and what is allowed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError


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
            lines.append(f"{path} = {item['input']!r}: {message}")
    return lines


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, raising ``ValueError`` with file, line and column on failure."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: malformed TOML: {exc}") from exc
