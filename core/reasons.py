"""Reasons a customer gives for a rating, and the default taxonomy.

The default negative reasons are the seven sins of service (Albrecht) and the
seven disasters of service time (Fessard): together they name most of what makes
a moment of truth go wrong. A cycle extends them with its own reasons, or
replaces them (``use_default_reasons = false``).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from .errors import TemplateError
from .text import Text
from .validation import describe, read_toml

ID_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"

#: A stable identifier: lowercase letters, digits and dashes, 1 to 40 characters.
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

Polarity = Literal["negative", "positive"]


class Reason(BaseModel):
    """Why a moment went the way it did, in the customer's words."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Id
    group: Id
    polarity: Polarity = "negative"
    label: Text
    description: Text = {}


class _Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reasons: tuple[Reason, ...]


@cache
def default_reasons() -> tuple[Reason, ...]:
    """The shipped taxonomy: seven sins, seven disasters of time, and praise."""
    resource = files(__package__) / "reasons.toml"
    source = str(resource)
    try:
        data = read_toml(resource)  # type: ignore[arg-type]
        return _Taxonomy.model_validate(data).reasons
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            raise TemplateError(source, describe(exc, _Taxonomy)) from exc
        raise TemplateError(source, [str(exc)]) from exc
