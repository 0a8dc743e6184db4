"""The hooks a servicecycle plugin can implement.

Collection hooks receive a ``register`` callback so core knows which plugin
gave what, and can refuse one plugin's bad data without losing the others'.
Event hooks are called once per event, each plugin isolated from the others.
Every hook here is documented in ``docs/hooks.md`` (a test keeps it so).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from .alert import Alert, AlertState
    from .cycle import Cycle
    from .rating import Rating

hookspec = pluggy.HookspecMarker("servicecycle")
hookimpl = pluggy.HookimplMarker("servicecycle")


@hookspec
def register_cycles(register: Callable[[Cycle | Mapping[str, Any]], None]) -> None:
    """Register service-cycle templates.

    Call ``register`` once per cycle with a :class:`~servicecycle.core.Cycle`,
    or with a mapping shaped like a cycle TOML file (see :func:`load_cycle`).
    Core validates each cycle; a bad one is reported with the plugin's name
    and skipped, and the plugin's other cycles still load.
    """


@hookspec
def register_rules(register: Callable[[Any], None]) -> None:
    """Register alert rules.

    Call ``register`` with a :class:`~servicecycle.core.Rule`, a mapping shaped
    like one ``[[rules]]`` table, a :class:`~servicecycle.core.PythonRule`, or
    the path of a rules TOML file (``importlib.resources.files(__name__) / "rules.toml"``).
    Each rule is validated on its own: a bad one is reported with the plugin's
    name, the file and line, and the other rules still load.
    """


@hookspec
def register_notifiers(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register alert delivery channels by type name.

    Call ``register(type_name, factory)``. A receiver in the site's ``[notify]``
    configuration with ``type = type_name`` is built by calling
    ``factory(name=..., **settings)``; the object returned must have a
    ``send(notification)`` method (see :class:`servicecycle.core.Notifier`).
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``servicecycle`` command-line tool.

    ``cli`` is the top-level :class:`click.Group`; decorate new commands with
    ``@cli.command()``.
    """


@hookspec
def rating_recorded(rating: Rating) -> None:
    """Called after a rating has been durably stored.

    The rating is already safe when this runs: an exception here is logged
    against the plugin and never undoes the recording.
    """


@hookspec
def alert_changed(alert: Alert, previous: AlertState | None) -> None:
    """Called when an alert moves between states (pending, firing, resolved).

    ``previous`` is ``None`` for a new alert. Use it to mirror alerts into
    another system; to deliver notifications, register a notifier instead.
    """


@hookspec(firstresult=True)
def survey_url(rating: Rating, token: str) -> str | None:
    """Return the follow-up survey URL a kiosk's QR code points to for ``rating``.

    ``token`` is the signed, single-use token for this rating; put it in the
    URL. Return ``None`` to leave the choice to other plugins or to the
    site's configured URL. The first non-``None`` answer wins.
    """
