"""The manager's console: a web view of alerts for the people each site trusts.

Mounted by the hub at ``/console`` (see docs/console.md). Every page goes
through :class:`servicecycle.core.AlertDesk`, which checks the signed-in
user may see the site; the console itself holds no business logic.
"""

from .app import create_console

__all__ = ["create_console"]
