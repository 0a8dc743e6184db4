"""The follow-up survey page behind the kiosk's QR code, served on the premises.

``create_app(runtime)`` builds the ASGI app; ``servicecycle survey serve`` runs
it. Tokens, validation and storage are core's (``servicecycle.core.tokens``,
``servicecycle.core.answers``): this package only turns them into pages. See
docs/survey.md.
"""

from .app import create_app
from .server import DEFAULT_HOST, DEFAULT_PORT, make_server, serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "make_server", "serve"]
