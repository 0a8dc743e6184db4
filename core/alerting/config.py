"""The ``[notify]`` section: receivers, routes and quiet hours.

With no ``[notify]`` at all, alerts go to one receiver, ``log``, which appends
JSON lines to ``<data_dir>/alerts.jsonl``. A receiver named ``log`` of that
type always exists unless the file defines its own ``log``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ..duration import Duration, PositiveDuration
from ..text import shown
from .matchers import Matchers
from .notifiers import BUILTIN_SETTINGS
from .quiet import QuietHours
from .strict import (
    StrictModel,
    allowed_keys,
    carried,
    custom_error,
    raise_errors,
    unknown_key_errors,
)

ReceiverName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")]
DEFAULT_RECEIVER = "log"
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


class ReceiverConfig(StrictModel):
    """One receiver: a notifier ``type`` plus that type's settings.

    Built-in types are checked key by key; a plugin's type passes its settings
    through to the plugin's factory, which checks them when the dispatcher starts.
    """

    model_config = ConfigDict(
        extra="allow", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    #: Tell the receiver when its alerts resolve.
    send_resolved: bool = True
    #: Attempts per notification (the first one included) before it is recorded as failed.
    max_attempts: int = Field(5, ge=1, le=100)
    #: Backoff before the 2nd attempt; doubles each time (with full jitter) up to ``backoff_max``.
    backoff: Duration = timedelta(seconds=1)
    backoff_max: Duration = timedelta(minutes=1)

    @model_validator(mode="wrap")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        if not isinstance(data, Mapping):
            return handler(data)
        kind = data.get("type")
        settings_model = BUILTIN_SETTINGS.get(kind) if isinstance(kind, str) else None
        if settings_model is None:  # a plugin's type: its factory checks the rest
            return handler(data)
        common = set(allowed_keys(cls))
        own = set(allowed_keys(settings_model))
        errors = unknown_key_errors(data, common | own, f" for a {kind} receiver")
        specific = {k: v for k, v in data.items() if k in own}
        try:
            settings_model.model_validate(specific)
        except ValidationError as exc:
            errors.extend(carried(exc))
        kept = {k: _hide(v) if k in _secret_keys(settings_model) else v for k, v in data.items()}
        try:
            result = handler({k: v for k, v in kept.items() if k in common | own})
        except ValidationError as exc:
            errors.extend(carried(exc))
        else:
            if not errors:
                return result
        raise_errors(cls.__name__, errors)
        raise AssertionError("unreachable")  # raise_errors raised

    @property
    def settings(self) -> dict[str, Any]:
        """The type's own settings, as handed to the notifier factory."""
        return dict(self.model_extra or {})


def _secret_keys(model: type[BaseModel]) -> set[str]:
    """Settings typed ``SecretStr``: kept masked so ``config show`` never prints them."""
    return {
        field.alias or name
        for name, field in model.model_fields.items()
        if SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))
    }


def _hide(value: Any) -> Any:
    return SecretStr(value) if isinstance(value, str) else value


def _check_group_by(value: tuple[str, ...]) -> tuple[str, ...]:
    if value == ("...",):
        return value
    for name in value:
        if name == "...":
            raise ValueError("'...' (group by every label) must be the only entry")
        if not _LABEL.match(name):
            raise ValueError(f"{shown(name)} is not a label name")
    return value


class Route(StrictModel):
    """Which alerts go to which receiver, grouped how, and how often."""

    matchers: Matchers = ()
    receiver: ReceiverName
    #: Labels whose values make a group; ``["..."]`` makes one group per alert.
    group_by: Annotated[tuple[str, ...], AfterValidator(_check_group_by)] = ("alertname", "site")
    group_wait: Duration = timedelta(seconds=30)
    group_interval: PositiveDuration = timedelta(minutes=5)
    repeat_interval: PositiveDuration = timedelta(hours=4)
    quiet_hours: tuple[str, ...] = ()
    continue_: bool = Field(False, alias="continue")


class NotifySettings(StrictModel):
    """The whole ``[notify]`` section."""

    receivers: dict[ReceiverName, ReceiverConfig] = Field(default_factory=dict)
    routes: tuple[Route, ...] = (Route(receiver=DEFAULT_RECEIVER),)
    quiet_hours: dict[ReceiverName, QuietHours] = Field(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _references_exist(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        result = handler(data)
        if not isinstance(result, NotifySettings):
            return result
        receivers = sorted(result.all_receivers)
        errors = []
        for index, route in enumerate(result.routes):
            if route.receiver not in result.all_receivers:
                errors.append(
                    custom_error(
                        ("routes", index, "receiver"),
                        route.receiver,
                        f"unknown receiver; receivers: {', '.join(receivers)}",
                    )
                )
            for name in route.quiet_hours:
                if name not in result.quiet_hours:
                    known = ", ".join(sorted(result.quiet_hours)) or "(none defined)"
                    errors.append(
                        custom_error(
                            ("routes", index, "quiet_hours"),
                            name,
                            f"no [notify.quiet_hours.{name}]; defined: {known}",
                        )
                    )
        raise_errors(cls.__name__, errors)
        return result

    @property
    def all_receivers(self) -> dict[str, ReceiverConfig]:
        """The receivers in force: the default ``log`` plus those in the file."""
        return {DEFAULT_RECEIVER: ReceiverConfig(type="log"), **self.receivers}
