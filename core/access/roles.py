"""Roles and what each lets a user do, over which sites of the chain."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..fleet.chain import Chain


class Role(StrEnum):
    ADMIN = "admin"  # everything, every site; manages users
    MANAGER = "manager"  # a region's or a site's reports, alerts, kiosks and follow-ups
    STAFF = "staff"  # one site's alerts and follow-ups


ROLES = tuple(role.value for role in Role)

#: What each role may do (on the sites it may see).
ABILITIES: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"alerts", "act", "followups", "comments", "reports", "kiosks", "users"}),
    Role.MANAGER: frozenset({"alerts", "act", "followups", "comments", "reports", "kiosks"}),
    Role.STAFF: frozenset({"alerts", "act", "followups"}),
}


@dataclass(frozen=True)
class User:
    """A console user as the pages see them (never their password hash)."""

    name: str
    role: Role
    site: str | None = None  # staff, or a manager of one site
    region: str | None = None  # a manager of a region
    email: str | None = None  # where the weekly report card goes (managers and admins)
    language: str = "en"  # the language of their report card and e-mail

    def can(self, ability: str) -> bool:
        return ability in ABILITIES[self.role]

    def sites(self, chain: Chain) -> list[str]:
        """The sites this user may see, in the chain's order (none if their site is gone)."""
        if self.role is Role.ADMIN:
            return list(chain.sites)
        if self.region is not None:
            return list(chain.regions.get(self.region, []))
        return [self.site] if self.site in chain.sites else []

    def may_see(self, chain: Chain, site: str) -> bool:
        return site in self.sites(chain)

    @property
    def scope(self) -> str:
        """Where the role holds, in words: 'all sites', 'region asia', 'site grand-kl'."""
        if self.role is Role.ADMIN:
            return "all sites"
        return f"region {self.region}" if self.region is not None else f"site {self.site}"
