"""A pydantic base for ``[notify]`` settings that names unknown keys and what is allowed.

``core.validation.describe`` can list allowed keys only for models it can reach
through field annotations; receivers live in a dict and change shape with their
``type``, so these models report unknown keys themselves, one error per key,
each at its own path (``notify.receivers.pager.timeot``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The keys a settings table accepts, as written in the file (aliases)."""
    return sorted(field.alias or name for name, field in model.model_fields.items())


def unknown_key_errors(
    data: Mapping[str, Any], allowed: Iterable[str], what: str = ""
) -> list[InitErrorDetails]:
    """One 'unknown key' error per key of ``data`` not in ``allowed``."""
    allowed = sorted(allowed)
    text = ", ".join(allowed)
    errors: list[InitErrorDetails] = []
    for key in data:
        if key not in allowed:
            errors.append(
                {
                    "type": PydanticCustomError(
                        "unknown_key",
                        "unknown key{what}; allowed keys: {allowed}",
                        {"allowed": text, "what": what},
                    ),
                    "loc": (str(key),),
                    "input": data[key],
                }
            )
    return errors


def raise_errors(title: str, errors: list[InitErrorDetails]) -> None:
    """Raise collected errors as one ``ValidationError`` (pydantic nests their paths)."""
    if errors:
        raise ValidationError.from_exception_data(title, errors)


def custom_error(loc: tuple[str | int, ...], value: Any, message: str) -> InitErrorDetails:
    """An error at ``loc`` whose message is shown as written."""
    return {
        "type": PydanticCustomError("notify_setting", "{message}", {"message": message}),
        "loc": loc,
        "input": value,
    }


def carried(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[InitErrorDetails]:
    """The errors of ``error`` in a form that can be raised again, under ``prefix``.

    Each keeps its type name and message, so ``describe`` reads them as before.
    """
    return [
        {
            "type": PydanticCustomError(item["type"], "{message}", {"message": item["msg"]}),
            "loc": (*prefix, *item["loc"]),
            "input": item.get("input"),
        }
        for item in error.errors(include_url=False)
    ]


class StrictModel(BaseModel):
    """Frozen settings that refuse unknown keys, naming every key that is allowed."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    @model_validator(mode="wrap")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        if not isinstance(data, Mapping):
            return handler(data)
        allowed = set(allowed_keys(cls)) | set(cls.model_fields)
        errors = unknown_key_errors(data, allowed_keys(cls))
        known = {k: v for k, v in data.items() if k in allowed}
        if not errors:
            return handler(known)
        try:
            handler(known)
        except ValidationError as exc:
            errors.extend(carried(exc))
        raise_errors(cls.__name__, errors)
        raise AssertionError("unreachable")  # raise_errors raised
