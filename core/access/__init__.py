"""Who may see what: console users, their roles, and their signed-in sessions.

A role is granted over a part of the chain (admin: all of it; a manager: a
region or a site; staff: one site). Everything a console page shows is
filtered through :meth:`User.sites`, so a page of site A cannot leak site B.
"""

from .desk import SILENCE_CHOICES, AlertDesk, Forbidden, KioskDesk, SiteAlert
from .followups import FollowUp, FollowUpDesk
from .reports import CALENDAR, PERIODS, ReportDesk, ReportQueryError, ReportScope
from .roles import ROLES, Role, User
from .sessions import Session, SessionBook
from .users import AccessError, UserBook
from .weekly import WeeklyMail

__all__ = [
    "CALENDAR",
    "PERIODS",
    "ROLES",
    "SILENCE_CHOICES",
    "AccessError",
    "AlertDesk",
    "FollowUp",
    "FollowUpDesk",
    "Forbidden",
    "KioskDesk",
    "ReportDesk",
    "ReportQueryError",
    "ReportScope",
    "Role",
    "Session",
    "SessionBook",
    "SiteAlert",
    "User",
    "UserBook",
    "WeeklyMail",
]
