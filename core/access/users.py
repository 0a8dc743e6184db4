"""Console users: names, roles and argon2id password hashes, in the hub's state folder.

SQLite, like the kiosk registry beside it (``console.sqlite``): `hub user add`
runs as its own process while the console serves, and must be seen at once.
Passwords are hashed with argon2id (argon2-cffi's defaults, rehashed on sign-in
when those defaults grow). Failed sign-ins are counted per name in the same
file, so a guess-a-password run is slowed for every worker process alike.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import ServiceCycleError
from .roles import ROLES, Role, User

FILE = "console.sqlite"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
#: Failed sign-ins for one name within ``FAILURE_WINDOW`` seconds before it must wait.
MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY COLLATE NOCASE, role TEXT NOT NULL, site TEXT, region TEXT,
    hash TEXT NOT NULL, created REAL NOT NULL, changed REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (name TEXT NOT NULL COLLATE NOCASE, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_by_name ON failures (name, at);
CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, csrf TEXT NOT NULL,
    created REAL NOT NULL, seen REAL NOT NULL
);
"""


class AccessError(ServiceCycleError):
    """A user mistake about users (a bad name, role or password), or a refused sign-in."""

    def __init__(self, message: str, *, wait: float = 0.0) -> None:
        self.wait = wait  # seconds until a throttled name may try again
        super().__init__(message)


def open_db(state_dir: Path) -> sqlite3.Connection:
    path = Path(state_dir) / FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(users)")}
        for column in ("email", "language"):  # added with the weekly report card
            if column not in columns:
                db.execute(f"ALTER TABLE users ADD COLUMN {column} TEXT")
        path.chmod(0o600)
    except (OSError, sqlite3.Error) as exc:
        raise ServiceCycleError(f"cannot open the console's users {path}: {exc}") from exc
    return db


COLUMNS = "name, role, site, region, email, language"
#: Languages a user's report card may be written in (the report card's own list).
LANGUAGES = ("en", "ms", "ru", "tr")
EMAIL = re.compile(r"[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


def user_of(row: Any) -> User:
    name, role, site, region, email, language = row[:6]
    return User(name, Role(role), site, region, email or None, language or "en")


def check_contact(email: str | None, language: str) -> tuple[str | None, str]:
    """A user's e-mail address and language, or :class:`AccessError` saying what is allowed."""
    email = (email or "").strip() or None
    if email is not None and not EMAIL.fullmatch(email):
        raise AccessError(f"e-mail {email!r} is not an address; write e.g. ana@hotel.example")
    if language not in LANGUAGES:
        raise AccessError(f"language {language!r} is not one of: {', '.join(LANGUAGES)}")
    return email, language


def check_password(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccessError(f"the password must have at most {MAX_PASSWORD} characters")
    if password.strip().lower() == name.lower():
        raise AccessError("the password must not be the user's name")


class UserBook:
    """Add, list, remove and check the console's users."""

    def __init__(self, state_dir: Path, *, clock: Any = time.time) -> None:
        self.db = open_db(state_dir)
        self.lock = threading.Lock()
        self.clock = clock
        self.hasher = PasswordHasher()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> UserBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- managing users ---------------------------------------------------------------

    def add(
        self,
        name: str,
        role: str,
        password: str,
        *,
        site: str | None = None,
        region: str | None = None,
        email: str | None = None,
        language: str = "en",
    ) -> User:
        """A new user; the role's scope checked (sites and regions by the caller's chain)."""
        user = self.check(name, role, site, region)
        check_password(name, password)
        email, language = check_contact(email, language)
        now = self.clock()
        try:
            with self.lock, self.db:
                self.db.execute(
                    "INSERT INTO users (name, role, site, region, hash, created, changed, "
                    "email, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        user.role.value,
                        site,
                        region,
                        self.hasher.hash(password),
                        now,
                        now,
                        email,
                        language,
                    ),
                )
        except sqlite3.IntegrityError:
            raise AccessError(
                f"user {name!r} exists already (`hub user passwd` changes a password)"
            ) from None
        return replace(user, email=email, language=language)

    def set_contact(self, name: str, *, email: str | None, language: str) -> User:
        """Where a user's weekly report card goes and in which language (``email=None``: none)."""
        email, language = check_contact(email, language)
        with self.lock, self.db:
            changed = self.db.execute(
                "UPDATE users SET email = ?, language = ? WHERE name = ?", (email, language, name)
            ).rowcount
        found = self.get(name) if changed else None
        if found is None:
            raise AccessError(self._unknown(name))
        return found

    @staticmethod
    def check(name: str, role: str, site: str | None = None, region: str | None = None) -> User:
        """The user these would make, or :class:`AccessError` naming what is wrong."""
        if not NAME.fullmatch(name):
            raise AccessError(
                f"user name {name!r} is not allowed: 1 to 64 letters, digits, '.', '_', "
                "'-' or '@', starting with a letter or digit"
            )
        try:
            chosen = Role(role)
        except ValueError:
            raise AccessError(f"role {role!r} is not one of: {', '.join(ROLES)}") from None
        if site is not None and region is not None:
            raise AccessError("give a user a site or a region, not both")
        if chosen is Role.ADMIN and (site or region):
            raise AccessError("an admin sees every site: give no --site or --region")
        if chosen is Role.STAFF and not site:
            raise AccessError("staff belong to one site: give --site")
        if chosen is Role.MANAGER and not (site or region):
            raise AccessError("a manager manages a site or a region: give --site or --region")
        return User(name, chosen, site, region)

    def get(self, name: str) -> User | None:
        with self.lock:
            row = self.db.execute(f"SELECT {COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        return user_of(row) if row else None

    def users(self) -> list[User]:
        with self.lock:
            rows = self.db.execute(f"SELECT {COLUMNS} FROM users ORDER BY name").fetchall()
        return [user_of(r) for r in rows]

    def remove(self, name: str) -> None:
        """Remove a user and end their sessions at once."""
        with self.lock, self.db:
            gone = self.db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
            self.db.execute("DELETE FROM sessions WHERE name = ?", (name,))
        if not gone:
            raise AccessError(self._unknown(name))

    def set_password(self, name: str, password: str) -> None:
        """A new password; every session of the user ends (sign in again)."""
        check_password(name, password)
        with self.lock, self.db:
            changed = self.db.execute(
                "UPDATE users SET hash = ?, changed = ? WHERE name = ?",
                (self.hasher.hash(password), self.clock(), name),
            ).rowcount
            self.db.execute("DELETE FROM sessions WHERE name = ?", (name,))
        if not changed:
            raise AccessError(self._unknown(name))

    _dummy_hash: str | None = None

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("not anybody's password")
        return self._dummy_hash

    def _unknown(self, name: str) -> str:
        known = ", ".join(u.name for u in self.users()) or "none yet"
        return f"no user {name!r}; the users: {known}"

    # -- signing in -------------------------------------------------------------------

    def verify(self, name: str, password: str) -> User:
        """The user if ``password`` is theirs; :class:`AccessError` otherwise (or throttled).

        The error never says whether the name exists.
        """
        now = self.clock()
        with self.lock:
            times = [
                r[0]
                for r in self.db.execute(
                    "SELECT at FROM failures WHERE name = ? AND at > ? ORDER BY at",
                    (name, now - FAILURE_WINDOW),
                )
            ]
            row = self.db.execute(
                f"SELECT {COLUMNS}, hash FROM users WHERE name = ?", (name,)
            ).fetchone()
        if len(times) >= MAX_FAILURES:
            wait = times[-MAX_FAILURES] + FAILURE_WINDOW - now
            raise AccessError(
                f"too many failed sign-ins for this name; try again in {max(1, round(wait / 60))} "
                "min",
                wait=wait,
            )
        try:
            if len(password) > MAX_PASSWORD:
                raise VerifyMismatchError
            # An unknown name costs the same hash as a known one: the time tells nothing.
            self.hasher.verify(row[-1] if row else self._dummy(), password)
            if row is None:
                raise VerifyMismatchError
        except (VerificationError, InvalidHashError):
            with self.lock, self.db:
                self.db.execute("INSERT INTO failures (name, at) VALUES (?, ?)", (name, now))
                self.db.execute("DELETE FROM failures WHERE at < ?", (now - FAILURE_WINDOW,))
            raise AccessError("wrong name or password") from None
        with self.lock, self.db:
            self.db.execute("DELETE FROM failures WHERE name = ?", (name,))
            if self.hasher.check_needs_rehash(row[-1]):
                self.db.execute(
                    "UPDATE users SET hash = ? WHERE name = ?", (self.hasher.hash(password), name)
                )
        return user_of(row)
