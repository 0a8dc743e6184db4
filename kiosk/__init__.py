"""The Textual kiosk: talks to servicecycle.core only.

:class:`KioskApp` runs one :class:`servicecycle.core.KioskSession`; see
docs/kiosk.md for what customers and staff see, and how to set a kiosk up.
"""

from .app import KioskApp

__all__ = ["KioskApp"]
