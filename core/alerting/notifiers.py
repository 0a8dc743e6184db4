"""Which notifier types exist: the built-in four plus what plugins register.

A factory is called as ``factory(name=..., **settings)``, where ``settings``
are the receiver's keys other than the ones every receiver has
(:data:`COMMON_KEYS`). Two context values are passed only to factories whose
signature names them: ``data_dir`` (the store's folder) and ``timezone`` (the
site's ``tzinfo``). Any other factory signature keeps working unchanged.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, ServiceCycleError
from ..plugins import PluginHost
from .apprise_notifier import AppriseSettings, apprise_factory
from .email_notifier import EmailSettings, email_factory
from .log_notifier import LogSettings, log_factory
from .notification import Notifier
from .webhook_notifier import WebhookSettings, webhook_factory

NotifierFactory = Callable[..., Notifier]

#: Settings of the built-in types, checked strictly when the configuration is read.
BUILTIN_SETTINGS: dict[str, type[BaseModel]] = {
    "log": LogSettings,
    "webhook": WebhookSettings,
    "email": EmailSettings,
    "apprise": AppriseSettings,
}
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")


def builtin_notifiers() -> dict[str, NotifierFactory]:
    """The notifier types servicecycle itself provides."""
    return {
        "log": log_factory,
        "webhook": webhook_factory,
        "email": email_factory,
        "apprise": apprise_factory,
    }


def collect_notifiers(host: PluginHost) -> dict[str, NotifierFactory]:
    """Built-in types plus each plugin's ``register_notifiers``; bad ones reported per plugin."""
    factories = builtin_notifiers()
    origin = dict.fromkeys(factories, "servicecycle")

    def register_for(plugin: str) -> Callable[[str, NotifierFactory], None]:
        def register(type_name: str, factory: NotifierFactory) -> None:
            if not isinstance(type_name, str) or not _TYPE_NAME.match(type_name):
                host.report(
                    plugin,
                    "register_notifiers",
                    f"type name {type_name!r}: use 1-64 lowercase letters, digits, '.', '-' "
                    "or '_', starting with a letter",
                )
                return
            if type_name in factories:
                host.report(
                    plugin,
                    "register_notifiers",
                    f"notifier type {type_name!r} is already registered by {origin[type_name]!r}",
                )
                return
            if not callable(factory):
                host.report(
                    plugin,
                    "register_notifiers",
                    f"notifier type {type_name!r}: the factory must be callable, "
                    f"not {type(factory).__name__}",
                )
                return
            factories[type_name] = factory
            origin[type_name] = plugin
            host.note(plugin, "notifiers", type_name)

        return register

    host.collect("register_notifiers", register_for)
    return factories


def build_notifier(
    receiver: str,
    type_name: str,
    factory: NotifierFactory,
    settings: Mapping[str, Any],
    *,
    data_dir: Path | None = None,
    timezone: tzinfo | None = None,
    source: str = "[notify]",
) -> Notifier:
    """Call one factory; any failure becomes a :class:`ConfigError` naming the receiver."""
    where = f"notify.receivers.{receiver}"
    kwargs = dict(settings)
    accepted = _parameters(factory)
    if "data_dir" in accepted:
        kwargs["data_dir"] = data_dir
    if "timezone" in accepted:
        kwargs["timezone"] = timezone
    try:
        notifier = factory(name=receiver, **kwargs)
    except ValidationError as exc:
        problems = []
        for item in exc.errors(include_url=False):
            path = ".".join(str(p) for p in item["loc"])
            problems.append(f"{where}.{path}: {item['msg'].removeprefix('Value error, ')}")
        raise ConfigError(source, problems) from None
    except (ServiceCycleError, ValueError, TypeError, OSError) as exc:
        raise ConfigError(source, [f"{where} (type {type_name!r}): {exc}"]) from None
    except Exception as exc:  # a plugin's factory may fail any way it likes
        raise ConfigError(
            source, [f"{where} (type {type_name!r}): {type(exc).__name__}: {exc}"]
        ) from None
    if not callable(getattr(notifier, "send", None)):
        raise ConfigError(
            source,
            [f"{where} (type {type_name!r}): the factory returned an object without send()"],
        )
    return notifier


def _parameters(factory: Callable[..., Any]) -> set[str]:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }
