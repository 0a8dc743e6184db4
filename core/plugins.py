"""Finding, loading and calling plugins, one at a time.

Plugins are found through the ``servicecycle`` entry-point group (the built-in
industry plugins too). Each is loaded and called in isolation: a plugin that
fails to import, raises in a hook or hands in bad data is recorded as a
:class:`PluginProblem` under its own name, and every other plugin still works.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "servicecycle"
#: Comma-separated plugin names; when set, only these plugins load ("" loads none).
LOAD_PLUGINS_ENV = "SERVICECYCLE_LOAD_PLUGINS"


@dataclass
class PluginInfo:
    """What is known about one loaded plugin."""

    name: str
    module: str
    version: str | None = None
    distribution: str | None = None
    hooks: list[str] = field(default_factory=list)
    #: What the plugin registered, by kind: ``{"cycles": ["hotel-guest"]}``.
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that failed somewhere, and why, in words for an operator."""

    plugin: str
    stage: str  # "load", "register_cycles", "rating_recorded", ...
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} ({self.stage}): {self.message}"


def allowed_plugins(environ: dict[str, str] | None = None) -> set[str] | None:
    """The plugin names ``SERVICECYCLE_LOAD_PLUGINS`` allows, or ``None`` for all."""
    value = (os.environ if environ is None else environ).get(LOAD_PLUGINS_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


class PluginHost:
    """The pluggy manager plus what core learnt while loading and calling plugins."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.problems: list[PluginProblem] = []

    # -- loading -------------------------------------------------------------

    @classmethod
    def discover(cls, only: set[str] | None = None) -> PluginHost:
        """Load every plugin of the entry-point group (or those ``only`` names).

        ``only`` defaults to what ``SERVICECYCLE_LOAD_PLUGINS`` says.
        """
        host = cls()
        allowed = allowed_plugins() if only is None else only
        seen: set[str] = set()
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if allowed is not None and ep.name not in allowed:
                continue
            if ep.name in seen:
                host.report(ep.name, "load", "another installed plugin already uses this name")
                continue
            seen.add(ep.name)
            host._load_entry_point(ep)
        return host

    def _load_entry_point(self, ep: EntryPoint) -> None:
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            self.report(ep.name, "load", f"cannot import {ep.value}: {_explain(exc)}")
            return
        dist = getattr(ep, "dist", None)
        self.add(
            plugin,
            ep.name,
            version=dist.version if dist else None,
            distribution=dist.name if dist else None,
        )

    def add(
        self,
        plugin: ModuleType | object,
        name: str,
        *,
        version: str | None = None,
        distribution: str | None = None,
    ) -> None:
        """Register a plugin object under ``name`` (tests and embedders use this)."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy refuses unknown hooks, bad signatures, dupes
            self.report(name, "load", _explain(exc))
            return
        module = getattr(plugin, "__name__", type(plugin).__module__)
        hooks = []
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.spec is None:  # pluggy accepts unknown names; a typo is the usual cause
                known = ", ".join(self.hook_names)
                self.report(name, "load", f"unknown hook {caller.name!r}; known hooks: {known}")
            else:
                hooks.append(caller.name)
        hooks.sort()
        self.infos[name] = PluginInfo(name, module, version, distribution, hooks)

    def _spec_names(self) -> set[str]:
        return {
            name
            for name in dir(self.pm.hook)
            if not name.startswith("_") and getattr(self.pm.hook, name).spec is not None
        }

    @property
    def hook_names(self) -> list[str]:
        """Every hook a plugin may implement."""
        return sorted(self._spec_names())

    def remove(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)

    # -- calling -------------------------------------------------------------

    def implementations(self, hook: str) -> Iterator[tuple[str, Callable[..., Any], list[str]]]:
        """``(plugin name, function, argument names)`` for each implementation of ``hook``."""
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            yield impl.plugin_name, impl.function, list(impl.argnames)

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of ``hook`` on its own, isolating failures.

        Returns ``(plugin, result)`` for each plugin that returned normally.
        ``kwargs`` values that are callables taking a plugin name can be bound
        per plugin with :meth:`collect` instead.
        """
        results = []
        for plugin, function, argnames in self.implementations(hook):
            try:
                results.append((plugin, function(**{a: kwargs[a] for a in argnames})))
            except Exception as exc:
                self.report(plugin, hook, _explain(exc))
                log.exception("plugin %r failed in hook %s", plugin, hook)
        return results

    def collect(self, hook: str, register_for: Callable[[str], Callable[..., None]]) -> None:
        """Call a collection hook, handing each plugin its own ``register`` callback."""
        for plugin, function, argnames in self.implementations(hook):
            kwargs = {"register": register_for(plugin)}
            try:
                function(**{a: kwargs[a] for a in argnames})
            except Exception as exc:
                self.report(plugin, hook, _explain(exc))

    def first(self, hook: str, **kwargs: Any) -> Any:
        """The first non-``None`` answer to a ``firstresult`` hook (failures skipped)."""
        for plugin, function, argnames in reversed(list(self.implementations(hook))):
            try:
                result = function(**{a: kwargs[a] for a in argnames})
            except Exception as exc:
                self.report(plugin, hook, _explain(exc))
                log.exception("plugin %r failed in hook %s", plugin, hook)
                continue
            if result is not None:
                return result
        return None

    def note(self, plugin: str, kind: str, item: str) -> None:
        """Remember that ``plugin`` registered ``item`` of ``kind``."""
        info = self.infos.get(plugin)
        if info is not None:
            info.registered.setdefault(kind, []).append(item)

    def report(self, plugin: str, stage: str, message: str) -> None:
        problem = PluginProblem(plugin, stage, message)
        self.problems.append(problem)
        log.warning("%s", problem)


def _explain(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
