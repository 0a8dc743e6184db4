"""Signed-in sessions, kept on the server: a browser holds only a random token.

The token's SHA-256 is stored (like the kiosk credentials), with the user's
name, a CSRF secret for the session's forms, and when it was made and last
used. A session ends after ``IDLE`` without a request or ``LIFETIME`` after
sign-in, whichever comes first; removing a user or changing their password
ends their sessions at once (:class:`~.users.UserBook`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .roles import User
from .users import open_db, user_of

IDLE = 30 * 60
LIFETIME = 12 * 3600


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    created: float

    def csrf_ok(self, field: str | None) -> bool:
        return bool(field) and hmac.compare_digest(self.csrf.encode(), str(field).encode())


class SessionBook:
    """Start, find and end sessions."""

    def __init__(
        self,
        state_dir: Path,
        *,
        idle: float = IDLE,
        lifetime: float = LIFETIME,
        clock: Any = time.time,
    ) -> None:
        self.db = open_db(state_dir)
        self.lock = threading.Lock()
        self.idle, self.lifetime, self.clock = idle, lifetime, clock

    def close(self) -> None:
        self.db.close()

    def start(self, user: User) -> str:
        """A new session for ``user``: the token for the browser's cookie."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO sessions (token, name, csrf, created, seen) VALUES (?, ?, ?, ?, ?)",
                (_digest(token), user.name, secrets.token_urlsafe(24), now, now),
            )
            self.db.execute(
                "DELETE FROM sessions WHERE seen < ? OR created < ?",
                (now - self.idle, now - self.lifetime),
            )
        return token

    def find(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its last use moved to now), or None."""
        if not token or len(token) > 100:
            return None
        now = self.clock()
        key = _digest(token)
        with self.lock, self.db:
            row = self.db.execute(
                "SELECT s.csrf, s.created, s.seen, u.name, u.role, u.site, u.region, u.email, "
                "u.language "
                "FROM sessions s JOIN users u ON u.name = s.name WHERE s.token = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            csrf, created, seen, *who = row
            if seen < now - self.idle or created < now - self.lifetime:
                self.db.execute("DELETE FROM sessions WHERE token = ?", (key,))
                return None
            self.db.execute("UPDATE sessions SET seen = ? WHERE token = ?", (now, key))
        return Session(user_of(who), csrf, created)

    def end(self, token: str | None) -> None:
        if token:
            with self.lock, self.db:
                self.db.execute("DELETE FROM sessions WHERE token = ?", (_digest(token),))
