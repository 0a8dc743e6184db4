"""Kiosk screens, one per step of the customer's and the staff's paths."""

from .attract import AttractScreen
from .out_of_service import OutOfServiceScreen
from .pin import PinScreen
from .reasons import ReasonsScreen
from .staff import StaffScreen
from .thanks import ThanksScreen
from .too_small import TooSmallScreen

__all__ = [
    "AttractScreen",
    "OutOfServiceScreen",
    "PinScreen",
    "ReasonsScreen",
    "StaffScreen",
    "ThanksScreen",
    "TooSmallScreen",
]
