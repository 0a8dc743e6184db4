"""Errors a user can cause, each carrying enough to say what to fix.

Everything here derives from :class:`ServiceCycleError`; the CLI, the kiosk
and the survey page turn it into a message instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class ServiceCycleError(Exception):
    """A problem the user (or a plugin author) can fix; never a bug."""


class ConfigError(ServiceCycleError):
    """The site configuration file is unreadable or holds a bad value."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"bad configuration in {source}:\n{lines}")


class TemplateError(ServiceCycleError):
    """A cycle template (from a plugin or a file) does not validate."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid cycle template {source}:\n{lines}")


class PluginError(ServiceCycleError):
    """A plugin failed to load, or handed in something core refuses."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}")


class RatingError(ServiceCycleError):
    """A rating handed in by a caller has a bad field."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        from .text import shown

        super().__init__(f"rating field {field!r}: {shown(value)} is not allowed; {allowed}")


class StoreError(ServiceCycleError):
    """The data folder cannot be read or written as needed."""
