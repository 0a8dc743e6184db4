"""The hub's kiosk registry: enrolment codes, credentials, epochs and each kiosk's health.

Kept in one SQLite file in the hub's state folder (``hub.sqlite``), because
`hub enroll` and `hub revoke` run as their own processes beside `hub serve`
and must be seen by it at once: SQLite gives the locking and durability,
and a revoked credential is refused on the very next request.

Only hashes are kept. Codes and credentials are long random strings (not
passwords a person picks), so one SHA-256 is the right hash: a slow password
hash would cost every request without making a 256-bit secret any harder to
guess.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ServiceCycleError

FILE = "hub.sqlite"
#: Letters and digits nobody misreads when typing a code from a screen.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CREDENTIAL_PREFIX = "sck1."

SCHEMA = """
CREATE TABLE IF NOT EXISTS codes (
    hash TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL,
    made REAL NOT NULL, expires REAL NOT NULL, used REAL
);
CREATE TABLE IF NOT EXISTS kiosks (
    credential TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL,
    epoch INTEGER NOT NULL, enrolled REAL NOT NULL, revoked REAL,
    last_contact REAL, clock_offset REAL, backlog INTEGER, version TEXT,
    cycle TEXT, moment TEXT, offline_since REAL,
    accepted INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0, set_aside INTEGER NOT NULL DEFAULT 0,
    last_refusal TEXT,
    UNIQUE (site, kiosk, epoch)
);
"""


class EnrolmentError(ServiceCycleError):
    """A code that is unknown, used or expired; a credential that is unknown or revoked."""

    def __init__(self, message: str, status: int = 403) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class KioskEntry:
    """One enrolled kiosk (one epoch of a kiosk name) and what the hub last heard of it."""

    site: str
    kiosk: str
    epoch: int
    enrolled: float
    revoked: float | None
    last_contact: float | None
    clock_offset: float | None
    backlog: int | None
    version: str | None
    cycle: str | None
    moment: str | None
    offline_since: float | None
    accepted: int
    duplicates: int
    refused: int
    set_aside: int
    last_refusal: str | None

    @property
    def name(self) -> str:
        return f"{self.site}/{self.kiosk}"

    def to_json(self, region: str | None, tolerance: float) -> dict[str, Any]:
        """As `hub kiosks --json` and the console show it (times in ISO 8601, UTC)."""
        data: dict[str, Any] = {
            "site": self.site,
            "region": region,
            "kiosk": self.kiosk,
            "epoch": self.epoch,
            "state": "revoked"
            if self.revoked
            else ("enrolled" if self.last_contact else "never seen"),
        }
        for name in ("enrolled", "revoked", "last_contact", "offline_since"):
            value = getattr(self, name)
            data[name] = datetime.fromtimestamp(value, UTC).isoformat() if value else None
        data.update(
            clock_offset_seconds=None if self.clock_offset is None else round(self.clock_offset, 3),
            clock_flagged=self.clock_offset is not None and abs(self.clock_offset) > tolerance,
            backlog=self.backlog,
            version=self.version,
            cycle=self.cycle,
            moment=self.moment,
            accepted=self.accepted,
            duplicates=self.duplicates,
            refused=self.refused,
            set_aside=self.set_aside,
            last_refusal=self.last_refusal,
        )
        return data


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normal_code(code: str) -> str:
    """A code as typed (any case, dashes, spaces) in the form it was made."""
    return "".join(c for c in code.upper() if c.isalnum())


class KioskRegistry:
    """Enrol, authenticate, revoke and keep the health of a hub's kiosks."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / FILE
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            self.path.chmod(0o600)
        except (OSError, sqlite3.Error) as exc:
            raise ServiceCycleError(f"cannot open the hub's registry {self.path}: {exc}") from exc
        self.lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self.lock, self.db:
            return self.db.execute(sql, args)

    # -- enrolment ---------------------------------------------------------------------

    def new_code(self, site: str, kiosk: str, ttl: float, now: float | None = None) -> str:
        """A one-time code (shown once, kept as a hash) for ``kiosk`` of ``site``."""
        now = time.time() if now is None else now
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
        self._write(
            "INSERT INTO codes (hash, site, kiosk, made, expires) VALUES (?, ?, ?, ?, ?)",
            (digest(raw), site, kiosk, now, now + ttl),
        )
        return "-".join(raw[i : i + 4] for i in range(0, 12, 4))

    def code_for(self, code: str) -> tuple[str, str] | None:
        """The site and kiosk a code enrols (None: no such code), without spending it."""
        with self.lock:
            row = self.db.execute(
                "SELECT site, kiosk FROM codes WHERE hash = ?", (digest(normal_code(code)),)
            ).fetchone()
        return (row[0], row[1]) if row else None

    def join(self, code: str, now: float | None = None) -> tuple[str, KioskEntry]:
        """Spend ``code`` once: a new epoch of its kiosk and that epoch's credential.

        Earlier epochs of the same kiosk name are revoked: one machine ships
        under a name at a time.
        """
        now = time.time() if now is None else now
        hashed = digest(normal_code(code))
        credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
        with self.lock, self.db:
            row = self.db.execute(
                "SELECT site, kiosk, expires, used FROM codes WHERE hash = ?", (hashed,)
            ).fetchone()
            if row is None:
                raise EnrolmentError("unknown enrolment code (make one with `hub enroll`)")
            site, kiosk, expires, used = row
            if used is not None:
                raise EnrolmentError("this enrolment code was used already; make a new one")
            if expires <= now:
                raise EnrolmentError("this enrolment code has expired; make a new one")
            self.db.execute("UPDATE codes SET used = ? WHERE hash = ?", (now, hashed))
            (epoch,) = self.db.execute(
                "SELECT COALESCE(MAX(epoch), 0) + 1 FROM kiosks WHERE site = ? AND kiosk = ?",
                (site, kiosk),
            ).fetchone()
            self.db.execute(
                "UPDATE kiosks SET revoked = ? WHERE site = ? AND kiosk = ? AND revoked IS NULL",
                (now, site, kiosk),
            )
            self.db.execute(
                "INSERT INTO kiosks (credential, site, kiosk, epoch, enrolled) VALUES (?, ?, ?, ?, ?)",
                (digest(credential), site, kiosk, epoch, now),
            )
        entry = self.authenticate(credential)
        return credential, entry

    def revoke(self, site: str | None, kiosk: str, now: float | None = None) -> list[KioskEntry]:
        """Refuse the live credential(s) of ``kiosk`` from now on; returns what was revoked."""
        now = time.time() if now is None else now
        live = [e for e in self.kiosks() if e.kiosk == kiosk and e.revoked is None]
        if site is not None:
            live = [e for e in live if e.site == site]
        sites = sorted({e.site for e in live})
        if not live:
            known = ", ".join(sorted({e.name for e in self.kiosks() if e.revoked is None}))
            raise ServiceCycleError(
                f"no enrolled kiosk {kiosk!r}"
                + (f" at site {site!r}" if site else "")
                + f"; enrolled: {known or '(none)'}"
            )
        if len(sites) > 1:
            raise ServiceCycleError(
                f"kiosk {kiosk!r} is enrolled at sites {', '.join(sites)}: say which with --site"
            )
        self._write(
            "UPDATE kiosks SET revoked = ? WHERE site = ? AND kiosk = ? AND revoked IS NULL",
            (now, sites[0], kiosk),
        )
        return live

    # -- requests ----------------------------------------------------------------------

    def authenticate(self, credential: str) -> KioskEntry:
        """The live kiosk this credential belongs to; :class:`EnrolmentError` otherwise."""
        with self.lock:
            row = self.db.execute(
                f"SELECT {_COLUMNS} FROM kiosks WHERE credential = ?", (digest(credential),)
            ).fetchone()
        if row is None:
            raise EnrolmentError("unknown kiosk credential (enrol with `servicecycle join`)", 401)
        entry = KioskEntry(*row)
        if entry.revoked is not None:
            raise EnrolmentError(
                f"kiosk {entry.name} (epoch {entry.epoch}) was revoked; enrol it again", 403
            )
        return entry

    def heard(self, credential: str, **fields: Any) -> None:
        """Note what a kiosk said about itself on a request (contact time, clock, backlog...)."""
        counters = {k: fields.pop(k) for k in ("accepted", "duplicates", "refused") if k in fields}
        sets = [f"{name} = ?" for name in fields] + [f"{n} = {n} + ?" for n in counters]
        if not sets:
            return
        self._write(
            f"UPDATE kiosks SET {', '.join(sets)} WHERE credential = ?",
            (*fields.values(), *counters.values(), digest(credential)),
        )

    def kiosks(self) -> list[KioskEntry]:
        """Every kiosk epoch ever enrolled, by site, kiosk and epoch."""
        with self.lock:
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM kiosks ORDER BY site, kiosk, epoch"
            ).fetchall()
        return [KioskEntry(*row) for row in rows]


_COLUMNS = (
    "site, kiosk, epoch, enrolled, revoked, last_contact, clock_offset, backlog, version, "
    "cycle, moment, offline_since, accepted, duplicates, refused, set_aside, last_refusal"
)
