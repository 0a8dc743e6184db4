"""Finding, loading and calling plugins, one at a time.

Plugins are found through the ``servicecycle`` entry-point group (the built-in
industry plugins too). Each is loaded and called in isolation: a plugin that
fails to import, raises in a hook or hands in bad data is recorded as a
:class:`PluginProblem` under its own name, and every other plugin still works.

Hooks are called through pluggy (``pm.hook.<name>``), so call order, ``tryfirst``,
``trylast``, ``firstresult`` and pluggy's tracing are exactly pluggy's. Isolation
is put into each implementation when its plugin is registered, not into a call
loop of our own; hook wrappers are refused (see :meth:`PluginHost.add`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
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
        """Register a plugin object under ``name`` (tests and embedders use this).

        A plugin with a hook wrapper (``wrapper=True`` or ``hookwrapper=True``) is
        refused: a wrapper runs around every other plugin's implementations and can
        replace or swallow their results and exceptions, which is what per-plugin
        isolation rules out. Every other implementation is isolated (:meth:`_isolate`).
        """
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy refuses bad signatures and dupes
            self.report(name, "load", _explain(exc))
            return
        callers = self.pm.get_hookcallers(plugin) or []
        impls = [
            (caller.name, impl)
            for caller in callers
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin
        ]
        wrappers = sorted({hook for hook, impl in impls if impl.wrapper or impl.hookwrapper})
        if wrappers:
            self.pm.unregister(plugin, name)
            for hook in wrappers:
                self.report(
                    name,
                    "load",
                    f"hook {hook!r} is a hook wrapper (wrapper=True or hookwrapper=True); "
                    "servicecycle calls each plugin on its own and does not support "
                    "wrappers, so the plugin is not loaded",
                )
            return
        for hook, impl in impls:
            # pluggy read the argument names at registration and looks ``function`` up
            # on every call, so swapping it keeps the signature and the call order.
            impl.function = self._isolate(name, hook, impl.function)
        module = getattr(plugin, "__name__", type(plugin).__module__)
        hooks = []
        for caller in callers:
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

    def call_each(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call ``hook`` on every plugin; the non-``None`` results, in call order."""
        return self._caller(hook, firstresult=False)(**kwargs)

    def collect(self, hook: str, register_for: Callable[[str], Callable[..., None]]) -> None:
        """Call a collection hook, handing each plugin its own ``register`` callback.

        It is one pluggy call, so order and tracing stay pluggy's; each implementation
        receives ``register_for(its plugin's name)`` so core knows who registered what,
        even when a plugin keeps the callback and calls it later.
        """
        self._caller(hook, firstresult=False)(register=_PerPlugin(register_for))

    def first(self, hook: str, **kwargs: Any) -> Any:
        """The first non-``None`` answer to a ``firstresult`` hook (failures skipped)."""
        return self._caller(hook, firstresult=True)(**kwargs)

    def _caller(self, hook: str, *, firstresult: bool) -> pluggy.HookCaller:
        """pluggy's caller for ``hook``, refusing the wrong kind of call.

        A ``firstresult`` hook answers one value and any other hook a list, so a
        call of the wrong kind would hand its caller the wrong shape, silently.
        """
        caller = getattr(self.pm.hook, hook, None)
        if caller is None or caller.spec is None:
            raise ValueError(f"no hook named {hook!r}; known hooks: {', '.join(self.hook_names)}")
        if bool(caller.spec.opts.get("firstresult")) != firstresult:
            kind, call = ("not a", "call_each()") if firstresult else ("a", "first()")
            raise ValueError(f"{hook!r} is {kind} firstresult hook; call it with {call}")
        return caller

    def _isolate(self, plugin: str, hook: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` reporting its own failure under ``plugin`` and answering ``None``.

        pluggy drops ``None`` results and lets the next implementation answer a
        ``firstresult`` call, so a failing plugin neither stops the others nor answers
        for them, however the hook is called (``pm.hook.<name>`` directly too). Only
        ``Exception`` is caught: ``KeyboardInterrupt`` and ``SystemExit`` still stop.
        """

        @wraps(function)
        def isolated(*args: Any, **kwargs: Any) -> Any:
            args = tuple(_bound(value, plugin) for value in args)
            kwargs = {key: _bound(value, plugin) for key, value in kwargs.items()}
            try:
                return function(*args, **kwargs)
            except Exception as exc:  # a plugin's failure is its own
                self.report(plugin, hook, _explain(exc), exc=exc)
                return None

        return isolated

    def note(self, plugin: str, kind: str, item: str) -> None:
        """Remember that ``plugin`` registered ``item`` of ``kind``."""
        info = self.infos.get(plugin)
        if info is not None:
            info.registered.setdefault(kind, []).append(item)

    def report(
        self, plugin: str, stage: str, message: str, *, exc: BaseException | None = None
    ) -> None:
        """Record a problem of ``plugin`` and log it (with ``exc``'s traceback, if given)."""
        problem = PluginProblem(plugin, stage, message)
        self.problems.append(problem)
        log.warning("%s", problem, exc_info=exc)


@dataclass(frozen=True)
class _PerPlugin:
    """A hook argument each implementation receives as ``bind(its plugin's name)``."""

    bind: Callable[[str], Any]

    def __repr__(self) -> str:  # what pluggy's tracing shows for the argument
        return f"<one per plugin from {getattr(self.bind, '__qualname__', self.bind)}>"


def _bound(value: Any, plugin: str) -> Any:
    return value.bind(plugin) if isinstance(value, _PerPlugin) else value


def _explain(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
