"""The hub's kiosk registry: enrolment codes, credentials, epochs and each kiosk's health.

Kept in one SQLite file in the hub's state folder (``hub.sqlite``), because
`hub enroll` and `hub revoke` run as their own processes beside `hub serve`
and must be seen by it at once: SQLite gives the locking and durability,
and a revoked credential is refused on the very next request.

Only hashes are kept. Codes and credentials are long random strings (not
passwords a person picks), so one SHA-256 is the right hash: a slow password
hash would cost every request without making a 256-bit secret any harder to
guess.

The schema is versioned (SQLite's ``user_version``): a registry made by an
older hub is brought up to date when it is opened (:data:`MIGRATIONS`), and
one made by a newer hub is refused rather than misread.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ServiceCycleError
from .settings import DesiredSettings

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

#: The schema :data:`SCHEMA` and :data:`MIGRATIONS` make (``PRAGMA user_version``).
SCHEMA_VERSION = 1
#: Statements that bring the schema from the version before to this one.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 1: settings set at the hub, per kiosk name of a site (they outlive an epoch), and
    # what each kiosk says it runs with.
    1: (
        "ALTER TABLE kiosks ADD COLUMN languages TEXT",
        "ALTER TABLE kiosks ADD COLUMN settings_version INTEGER",
        "ALTER TABLE kiosks ADD COLUMN settings_refused INTEGER",
        "ALTER TABLE kiosks ADD COLUMN settings_error TEXT",
        """CREATE TABLE IF NOT EXISTS kiosk_settings (
            site TEXT NOT NULL, kiosk TEXT NOT NULL, version INTEGER NOT NULL,
            cycle TEXT NOT NULL, moment TEXT NOT NULL, languages TEXT NOT NULL,
            changed_by TEXT NOT NULL, changed_at REAL NOT NULL,
            PRIMARY KEY (site, kiosk)
        )""",
    ),
}


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
    #: What the kiosk said it offers, and which of the hub's settings it runs with
    #: (None: its own), or refused and why. None from a kiosk too old to say.
    languages: tuple[str, ...] | None = None
    settings_version: int | None = None
    settings_refused: int | None = None
    settings_error: str | None = None
    #: What the hub sets for this kiosk name (None: the kiosk's own configuration).
    desired: DesiredSettings | None = None

    @property
    def name(self) -> str:
        return f"{self.site}/{self.kiosk}"

    @property
    def settings_state(self) -> str:
        """``local`` (the hub sets nothing), ``applied``, ``refused`` (the kiosk could not
        take them: :attr:`settings_error`) or ``pending`` (not picked up yet)."""
        if self.desired is None:
            return "local"
        if self.settings_version == self.desired.version:
            return "applied"
        if self.settings_refused == self.desired.version:
            return "refused"
        return "pending"

    @property
    def pending(self) -> bool:
        """The hub set settings the kiosk does not run with (yet)."""
        return self.settings_state in ("pending", "refused")

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
            languages=None if self.languages is None else list(self.languages),
            settings_version=self.settings_version,
            settings_error=self.settings_error if self.settings_state == "refused" else None,
            desired=None if self.desired is None else self.desired.to_wire(),
            settings_state=self.settings_state,
            pending=self.pending,
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
            self._migrate()
            self.path.chmod(0o600)
        except (OSError, sqlite3.Error) as exc:
            raise ServiceCycleError(f"cannot open the hub's registry {self.path}: {exc}") from exc
        self.lock = threading.Lock()

    def _migrate(self) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`, once, whichever process comes first."""
        (found,) = self.db.execute("PRAGMA user_version").fetchone()
        if found == SCHEMA_VERSION:
            return
        if found > SCHEMA_VERSION:
            self.db.close()
            raise ServiceCycleError(
                f"the hub's registry {self.path} was written by a newer servicecycle "
                f"(schema {found}; this one knows up to {SCHEMA_VERSION}): upgrade this one"
            )
        self.db.execute("BEGIN IMMEDIATE")  # `hub serve` and a `hub ...` command may race here
        try:
            (found,) = self.db.execute("PRAGMA user_version").fetchone()
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    self.db.execute(statement)
            if found < SCHEMA_VERSION:
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

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
                f"{_SELECT} WHERE k.credential = ?", (digest(credential),)
            ).fetchone()
        if row is None:
            raise EnrolmentError("unknown kiosk credential (enrol with `servicecycle join`)", 401)
        entry = _entry(row)
        if entry.revoked is not None:
            raise EnrolmentError(
                f"kiosk {entry.name} (epoch {entry.epoch}) was revoked; enrol it again", 403
            )
        return entry

    def heard(self, credential: str, **fields: Any) -> None:
        """Note what a kiosk said about itself on a request (contact time, clock, backlog...)."""
        counters = {k: fields.pop(k) for k in ("accepted", "duplicates", "refused") if k in fields}
        if isinstance(fields.get("languages"), list | tuple):
            fields["languages"] = json.dumps(list(fields["languages"]))
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
            rows = self.db.execute(f"{_SELECT} ORDER BY k.site, k.kiosk, k.epoch").fetchall()
        return [_entry(row) for row in rows]

    def live_kiosk(
        self, kiosk: str, site: str | None = None, sites: Iterable[str] | None = None
    ) -> KioskEntry:
        """The enrolled (not revoked) epoch of ``kiosk``, at ``site`` or the one site that has
        it, among ``sites`` if given; an error naming the enrolled kiosks otherwise."""
        allowed = None if sites is None else set(sites)
        live = [
            e for e in self.kiosks() if e.revoked is None and (allowed is None or e.site in allowed)
        ]
        found = [e for e in live if e.kiosk == kiosk and (site is None or e.site == site)]
        if not found:
            known = ", ".join(sorted({e.name for e in live}))
            raise ServiceCycleError(
                f"no enrolled kiosk {kiosk!r}"
                + (f" at site {site!r}" if site else "")
                + f"; enrolled: {known or '(none)'}"
            )
        at = sorted({e.site for e in found})
        if len(at) > 1:
            raise ServiceCycleError(
                f"kiosk {kiosk!r} is enrolled at sites {', '.join(at)}: say which (--site)"
            )
        return found[-1]

    # -- settings set at the hub -------------------------------------------------------

    def settings_of(self, site: str, kiosk: str) -> DesiredSettings | None:
        """What the hub sets for ``kiosk`` of ``site`` (None: its own configuration)."""
        with self.lock:
            row = self.db.execute(
                f"SELECT {_SETTINGS} FROM kiosk_settings s WHERE s.site = ? AND s.kiosk = ?",
                (site, kiosk),
            ).fetchone()
        return _settings(row)

    def set_settings(
        self,
        site: str,
        kiosk: str,
        cycle: str,
        moment: str,
        languages: tuple[str, ...],
        *,
        by: str,
        now: float | None = None,
    ) -> DesiredSettings:
        """Keep new settings for ``kiosk`` of ``site`` (checked by the caller): the next version."""
        now = time.time() if now is None else now
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO kiosk_settings "
                "(site, kiosk, version, cycle, moment, languages, changed_by, changed_at) "
                "VALUES (?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (site, kiosk) DO UPDATE SET "
                "version = version + 1, cycle = excluded.cycle, moment = excluded.moment, "
                "languages = excluded.languages, changed_by = excluded.changed_by, "
                "changed_at = excluded.changed_at",
                (site, kiosk, cycle, moment, json.dumps(list(languages)), by, now),
            )
            row = self.db.execute(
                f"SELECT {_SETTINGS} FROM kiosk_settings s WHERE s.site = ? AND s.kiosk = ?",
                (site, kiosk),
            ).fetchone()
        settings = _settings(row)
        assert settings is not None
        return settings


_COLUMNS = (
    "site, kiosk, epoch, enrolled, revoked, last_contact, clock_offset, backlog, version, "
    "cycle, moment, offline_since, accepted, duplicates, refused, set_aside, last_refusal, "
    "languages, settings_version, settings_refused, settings_error"
)
_SETTINGS = "s.version, s.cycle, s.moment, s.languages, s.changed_by, s.changed_at"
_SELECT = (
    "SELECT "
    + ", ".join(f"k.{c.strip()}" for c in _COLUMNS.split(","))
    + f", {_SETTINGS} FROM kiosks k "
    "LEFT JOIN kiosk_settings s ON s.site = k.site AND s.kiosk = k.kiosk"
)
_KIOSK_FIELDS = len(_COLUMNS.split(","))
_LANGUAGES = [c.strip() for c in _COLUMNS.split(",")].index("languages")


def _languages(text: str | None) -> tuple[str, ...] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return tuple(str(v) for v in value) if isinstance(value, list) else None


def _settings(row: tuple[Any, ...] | None) -> DesiredSettings | None:
    if row is None or row[0] is None:
        return None
    version, cycle, moment, languages, by, at = row
    return DesiredSettings(version, cycle, moment, _languages(languages) or (), by, at)


def _entry(row: tuple[Any, ...]) -> KioskEntry:
    fields = list(row[:_KIOSK_FIELDS])
    fields[_LANGUAGES] = _languages(fields[_LANGUAGES])
    return KioskEntry(*fields, desired=_settings(row[_KIOSK_FIELDS:]))
