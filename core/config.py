"""The site configuration: who this kiosk is, what it asks, where data lives.

Every setting has a default, so a fresh install runs with no file at all.
A file overrides what it names; unknown keys and bad values are refused with
the file, the key and what is allowed.
"""

from __future__ import annotations

import os
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from .alerting.config import NotifySettings
from .duration import Duration
from .errors import ConfigError
from .pin import check_hash
from .rating import NAME_PATTERN
from .reasons import Id
from .text import LanguageCode
from .validation import describe, read_toml

CONFIG_ENV = "SERVICECYCLE_CONFIG"
DATA_DIR_ENV = "SERVICECYCLE_DATA_DIR"
STORE_ENV = "SERVICECYCLE_STORE"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN.pattern)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Every day, unless the site says otherwise.
DEFAULT_HOURS = "07:00-23:00"
#: The longest ``[survey] keep_contact_days`` (100 years: "keep" is leaving it unset).
MAX_KEEP_DAYS = 36_500
_RANGE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$")


def _check_range(value: str) -> str:
    match = _RANGE.match(value)
    if not match:
        raise ValueError("use HH:MM-HH:MM, e.g. '08:00-17:30'")
    if value[:5] >= value[6:]:
        raise ValueError("the range must end after it starts (split ranges across midnight)")
    return value


OpeningRange = Annotated[str, AfterValidator(_check_range)]


class SiteSettings(BaseModel):
    """The place the service happens: a hotel, a hospital, a branch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name = "demo-site"
    name: str = Field("Demo site", min_length=1, max_length=80)
    timezone: str = "UTC"
    #: Opening hours per weekday, in the site's time zone; no entry means closed
    #: that day; an empty table (``opening_hours = {}``) means always open. The
    #: default is a lobby's day, so a kiosk is not "silent" every night.
    opening_hours: dict[Weekday, list[OpeningRange]] = Field(
        default_factory=lambda: {day: [DEFAULT_HOURS] for day in WEEKDAYS}
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "unknown time zone; use an IANA name such as 'Europe/Istanbul'"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open(self, weekday: int, at: time) -> bool:
        """Whether the site is open at local ``at`` on ``weekday`` (Monday is 0)."""
        if not self.opening_hours:
            return True
        for span in self.opening_hours.get(WEEKDAYS[weekday], []):  # type: ignore[call-overload]
            start, end = span.split("-")
            if start <= at.strftime("%H:%M") < end:
                return True
        return False


#: How often a kiosk in a fleet asks its hub when it has nothing to send (``kiosk.heartbeat``),
#: and the longest it may be: the hub's settings must reach a running kiosk within a minute.
HEARTBEAT = timedelta(seconds=15)
HEARTBEAT_MAX = timedelta(minutes=1)


class KioskSettings(BaseModel):
    """One terminal: which moment it asks about, in which languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name = "kiosk-1"
    #: Cycle to ask about; default: the hotel cycle if loaded, else the first one.
    cycle: Id | None = None
    #: Moment to ask about; default: the cycle's first critical moment.
    moment: Id | None = None
    languages: tuple[LanguageCode, ...] = Field(("en", "ms", "ru", "tr"), min_length=1)
    #: Face scale (4 or 5 points); default: the cycle's own scale.
    scale: Literal[4, 5] | None = None
    #: Ratings at or below this ask "what went wrong?" (default: 2).
    low_threshold: int = Field(2, ge=1, le=4)
    #: Ratings at or above this ask "what went well?"; 0 turns the question off
    #: (default: the top two points of the scale).
    high_threshold: int | None = Field(None, ge=0, le=5)
    #: Presses closer together than this are kept but flagged suspect.
    repeat_gap: Duration = timedelta(seconds=2)
    #: Seconds on the thank-you screen before the kiosk resets.
    thanks_seconds: float = Field(10.0, ge=2, le=300)
    #: Seconds without a touch on any other screen before the kiosk resets.
    idle_seconds: float = Field(30.0, ge=5, le=3600)
    #: The staff PIN, hashed (`servicecycle kiosk hash-pin`); unset means 0000 (demo only).
    pin_hash: str | None = None
    #: In a fleet: how often the kiosk asks its hub when it has nothing to send (1s to 1m).
    heartbeat: Duration = HEARTBEAT

    @field_validator("pin_hash")
    @classmethod
    def _pin_hash(cls, value: str | None) -> str | None:
        return None if value is None else check_hash(value)

    @field_validator("heartbeat")
    @classmethod
    def _heartbeat(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= HEARTBEAT_MAX:
            raise ValueError(
                "between 1s and 1m, so the hub's settings reach the kiosk within a minute"
            )
        return value


class SurveySettings(BaseModel):
    """Where the QR code on the thank-you screen points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: URL template; ``{token}`` is replaced by the rating's signed token, and
    #: ``{rating}``, ``{moment}``, ``{score}``, ``{cycle}``, ``{language}`` by the
    #: rating's fields (all URL-quoted), e.g. for an external survey tool's prefill.
    url: str = "http://127.0.0.1:8765/s/{token}"
    #: How long a survey link stays valid.
    token_ttl: Duration = timedelta(days=7)
    #: Days an answer keeps its comment and contact details; after that
    #: ``servicecycle answers prune`` erases them (the scores stay). Unset: kept.
    keep_contact_days: int | None = None

    @field_validator("keep_contact_days", mode="before")
    @classmethod
    def _whole_days(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_KEEP_DAYS:
            raise ValueError(
                f"a whole number of days from 1 to {MAX_KEEP_DAYS}, e.g. 90 "
                "(leave the key out to keep comments and contact details)"
            )
        return value

    @field_validator("url")
    @classmethod
    def _has_token(cls, value: str) -> str:
        from .survey import PLACEHOLDER, URL_PLACEHOLDERS

        if "{token}" not in value and "{rating}" not in value:
            raise ValueError(
                "the URL must contain {token} (or {rating}, to link answers back unsigned)"
            )
        unknown = sorted(set(PLACEHOLDER.findall(value)) - set(URL_PLACEHOLDERS))
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                f"allowed: {', '.join('{' + k + '}' for k in URL_PLACEHOLDERS)}"
            )
        if not value.startswith(("http://", "https://")):
            raise ValueError("the URL must start with http:// or https://")
        return value


class RulesSettings(BaseModel):
    """The site's changes to the alert rules (see docs/rules.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: More rule files; relative paths are taken from the config file's folder.
    files: tuple[Path, ...] = ()
    #: Rules written right here, as ``[[rules.add]]`` tables.
    add: tuple[dict[str, Any], ...] = ()
    #: Ids of plugin rules this site does not run.
    disable: tuple[str, ...] = ()
    #: Per rule id, fields to change: ``[rules.override."hotel.check-in-slow"] count = 5``.
    override: dict[str, dict[str, Any]] = {}


class StoreSettings(BaseModel):
    """Which store engine keeps the site's records (see docs/store.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``postgresql://user:password@host:port/db``; unset: the data folder (``data_dir``).
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _known_engine(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("empty; leave store.url out to keep ratings in the data folder")
        if "://" not in value:
            raise ValueError(
                "not a store URL (write postgresql://USER:PASSWORD@HOST:PORT/DATABASE; "
                "for a data folder set data_dir instead)"
            )
        return value


class WeeklyReport(BaseModel):
    """When the weekly report card is mailed to a site's managers: a weekday and a local time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``mon`` … ``sun``, as in ``opening_hours``.
    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    #: Site time, ``HH:MM``.
    time: str = "08:00"

    @field_validator("time")
    @classmethod
    def _clock(cls, value: str) -> str:
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and len(minute) == 2) or not (
            0 <= int(hour) <= 23 and 0 <= int(minute) <= 59
        ):
            raise ValueError(f"{value!r} is not a time of day; write HH:MM, e.g. 08:00")
        return f"{int(hour):02d}:{minute}"


class FleetSite(SiteSettings):
    """One site of a chain, as its hub knows it: ``[site]``'s fields and its own rules."""

    #: Shown in reports; default: the site's id.
    name: str | None = Field(None, min_length=1, max_length=80)  # type: ignore[assignment]
    #: Languages this site's kiosks offer; empty: each kiosk's own.
    languages: tuple[LanguageCode, ...] = ()
    #: Kiosk names this site may enrol; empty: any name.
    kiosks: tuple[Name, ...] = ()
    #: This site's changes to the rules, added to the file's own ``[rules]``.
    rules: RulesSettings = RulesSettings()
    #: When this site's managers get their weekly report card (default: ``[hub]``'s).
    weekly_report: WeeklyReport | None = None

    @field_validator("kiosks")
    @classmethod
    def _unique_kiosks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        twice = sorted({k for k in value if value.count(k) > 1})
        if twice:
            raise ValueError(f"kiosk(s) listed twice: {', '.join(twice)}")
        return value


class Region(BaseModel):
    """A group of sites a regional manager looks after."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    name: str | None = Field(None, min_length=1, max_length=80)
    sites: tuple[FleetSite, ...] = Field((), min_length=1)


class HubSettings(BaseModel):
    """``[hub]``: where guests' phones reach the hub, and the chain's regions and sites.

    With no regions written, the hub serves the file's own ``[site]`` alone
    (region ``default``), so one hotel needs nothing more.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The address guests' phones reach the hub at; kiosks' QR codes point here.
    public_url: str | None = None
    #: The chain's id, the top of the hierarchy.
    chain: Name = "chain"
    regions: tuple[Region, ...] = ()
    #: Largest ingest request body, in bytes.
    max_body: int = Field(4_000_000, ge=10_000, le=64_000_000)
    #: Ingest requests per minute per kiosk.
    rate_limit: int = Field(600, ge=1, le=1_000_000)
    #: A kiosk whose clock is further off than this is flagged.
    clock_tolerance: Duration = timedelta(minutes=2)
    #: How long an enrolment code from `hub enroll` stays valid.
    code_ttl: Duration = timedelta(hours=24)
    #: The ``email`` receiver (``[notify.receivers.NAME]``) whose server sends the weekly
    #: report card to each manager's own address; unset: no weekly e-mail.
    report_receiver: str | None = None
    #: When the weekly report card is sent, in each site's own time (a site may differ).
    weekly_report: WeeklyReport = WeeklyReport()

    @field_validator("public_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or value[-3:] == "://":
            raise ValueError("the hub's public address must start with https:// (or http://)")
        return value

    @model_validator(mode="after")
    def _each_site_once(self) -> HubSettings:
        regions: set[str] = set()
        seen: dict[str, str] = {}
        for region in self.regions:
            if region.id in regions:
                raise ValueError(f"region {region.id!r} is described twice")
            regions.add(region.id)
            for site in region.sites:
                if site.id in seen:
                    raise ValueError(
                        f"site {site.id!r} is in region {seen[site.id]!r} and in {region.id!r}"
                    )
                seen[site.id] = region.id
        return self


class Config(BaseModel):
    """A whole site configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Folder for ratings and alerts; relative paths are taken from the config file.
    data_dir: Path | None = None
    site: SiteSettings = SiteSettings()
    kiosk: KioskSettings = KioskSettings()
    survey: SurveySettings = SurveySettings()
    rules: RulesSettings = RulesSettings()
    notify: NotifySettings = NotifySettings()
    store: StoreSettings = StoreSettings()
    hub: HubSettings = HubSettings()

    _source: str = PrivateAttr("embedded defaults")

    @model_validator(mode="after")
    def _report_receiver(self) -> Config:
        name = self.hub.report_receiver
        if name is None:
            return self
        mail = sorted(k for k, r in self.notify.receivers.items() if r.type == "email")
        if name not in mail:
            known = ", ".join(mail) or 'none (add one with type = "email")'
            raise ValueError(
                f"hub.report_receiver = {name!r}: not an email receiver of [notify.receivers]; "
                f"email receivers: {known}"
            )
        return self

    @property
    def source(self) -> str:
        """Where this configuration came from: a file path, or "embedded defaults"."""
        return self._source


def load_config(path: Path | str | None = None) -> Config:
    """Read the site configuration.

    ``path`` defaults to ``$SERVICECYCLE_CONFIG``; with neither, the embedded
    defaults are used. Raises :class:`ConfigError` naming the file and key.
    """
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = read_toml(path)
    except ValueError as exc:
        raise ConfigError(str(path), [str(exc)]) from exc
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), describe(exc, Config)) from exc
    if config.data_dir is not None and not config.data_dir.is_absolute():
        config = config.model_copy(update={"data_dir": (path.parent / config.data_dir).resolve()})
    if config.rules.files:
        files = tuple((path.parent / f).resolve() for f in config.rules.files)
        config = config.model_copy(
            update={"rules": config.rules.model_copy(update={"files": files})}
        )
    if any(site.rules.files for region in config.hub.regions for site in region.sites):
        config = config.model_copy(update={"hub": _hub_files_from(config.hub, path.parent)})
    config._source = str(path)
    return config


def _hub_files_from(hub: HubSettings, folder: Path) -> HubSettings:
    """The hub's sites with their rule files taken from the config file's folder."""

    def site(s: FleetSite) -> FleetSite:
        files = tuple((folder / f).resolve() for f in s.rules.files)
        return s.model_copy(update={"rules": s.rules.model_copy(update={"files": files})})

    regions = tuple(
        r.model_copy(update={"sites": tuple(site(s) for s in r.sites)}) for r in hub.regions
    )
    return hub.model_copy(update={"regions": regions})


def resolve_store_url(config: Config, override: str | None = None) -> str | None:
    """The store URL: explicit ``--store``, ``$SERVICECYCLE_STORE``, config; None: the folder."""
    chosen = override or os.environ.get(STORE_ENV) or config.store.url
    return chosen or None


def resolve_data_dir(config: Config, override: Path | str | None = None) -> Path:
    """The data folder: explicit override, ``$SERVICECYCLE_DATA_DIR``, config, then default."""
    chosen = override or os.environ.get(DATA_DIR_ENV) or config.data_dir
    if chosen:
        return Path(chosen).expanduser()
    return Path(platformdirs.user_data_dir("servicecycle", appauthor=False))
