"""The fleet: kiosks that ship their ratings to a hub, and the hub that takes them.

Kiosk side: :mod:`.membership` (`servicecycle join`), :mod:`.shipper` (the
outbox). Hub side: :mod:`.registry` (enrolment and credentials), :mod:`.ingest`
(idempotent batches), :mod:`.chain` (regions and sites), :mod:`.alerting`
(one rule engine per site), tied together by :class:`.hub.Hub`.
See docs/fleet.md.
"""

from .chain import Chain
from .hub import Answer, Hub
from .membership import Membership, join, load_membership
from .registry import KioskEntry, KioskRegistry
from .shipper import Shipper, ShipperBusy, ShipStatus

__all__ = [
    "Answer",
    "Chain",
    "Hub",
    "KioskEntry",
    "KioskRegistry",
    "Membership",
    "ShipStatus",
    "Shipper",
    "ShipperBusy",
    "join",
    "load_membership",
]
