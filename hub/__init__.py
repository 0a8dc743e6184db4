"""The hub's web front-end: the kiosk API and the survey pages, on one address.

Requests only: who a kiosk is, what is stored and what rules make of it are
decided by :class:`servicecycle.core.Hub`.
"""

from .app import create_app
from .server import serve

__all__ = ["create_app", "serve"]
