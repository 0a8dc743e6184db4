"""The hub: what `servicecycle hub serve` does, with no web framework in it.

The web front-end (``servicecycle.hub``) turns requests into calls of
:class:`Hub` and its answers into responses; everything it decides — who a
kiosk is, what goes into the store, what the rules make of it — is here.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ServiceCycleError, StoreError
from ..runtime import Runtime
from ..tokens import SECRET_FILE, load_or_create_secret
from .alerting import HubAlerting
from .chain import Chain
from .ingest import Ingest
from .registry import EnrolmentError, KioskRegistry
from .settings import MAX_LANGUAGES, SettingsChange, change_settings

log = logging.getLogger(__name__)

#: Seconds a kiosk is told to wait when the store is down.
STORE_DOWN_RETRY = 5


@dataclass
class Answer:
    """An HTTP-shaped answer: a status and a JSON body (and a Retry-After, maybe)."""

    status: int
    body: dict[str, Any]
    retry_after: int | None = None


def state_dir(runtime: Runtime) -> Path:
    """Where the hub keeps its registry: ``hub/`` in the data folder."""
    return runtime.data_dir / "hub"


class Hub:
    """Enrolment, ingest, clocks and rules for every kiosk and site of a chain."""

    def __init__(self, runtime: Runtime, *, public_url: str | None = None) -> None:
        self.runtime = runtime
        self.chain = Chain(runtime.config)
        settings = runtime.config.hub
        self.settings = settings
        self.public_url = (public_url or settings.public_url or "").rstrip("/")
        self.state_dir = state_dir(runtime)
        self.registry = KioskRegistry(self.state_dir)
        self._ingest: Ingest | None = None
        self.tolerance = settings.clock_tolerance.total_seconds()
        self._offsets: dict[tuple[str, str], float] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._pending_lock = threading.Lock()
        self.alerting: HubAlerting | None = None

    @property
    def ingest(self) -> Ingest:
        """Opened on first use: enrolling a kiosk needs no store."""
        if self._ingest is None:
            self._ingest = Ingest(self.runtime.site_store, self.runtime.catalogue)
        return self._ingest

    # -- enrolment ---------------------------------------------------------------------

    def enroll(self, site: str, kiosk: str, ttl: float | None = None) -> str:
        """A one-time code for ``kiosk`` of ``site`` (`hub enroll`)."""
        self.chain.check_kiosk(site, kiosk)
        from ..rating import NAME_PATTERN

        if not NAME_PATTERN.match(kiosk):
            raise ServiceCycleError(
                f"kiosk name {kiosk!r}: use 1-64 letters, digits, '.', '-' or '_'"
            )
        ttl = self.settings.code_ttl.total_seconds() if ttl is None else ttl
        return self.registry.new_code(site, kiosk, ttl)

    def join(self, body: object) -> Answer:
        """A kiosk spends its code: its credential, and where its QR codes point."""
        if not isinstance(body, dict) or not isinstance(body.get("code"), str):
            return Answer(400, {"error": 'send JSON {"code": CODE, "site": ..., "kiosk": ...}'})
        code_for = self.registry.code_for(body["code"])
        if code_for is not None:
            site, kiosk = code_for
            asked = (body.get("site"), body.get("kiosk"))
            if asked != (site, kiosk):
                return Answer(
                    409,
                    {
                        "error": f"this code enrols site {site!r} kiosk {kiosk!r}, but the kiosk "
                        f"is configured as site {asked[0]!r} kiosk {asked[1]!r}: set [site] id "
                        "and [kiosk] id on the kiosk to match (the code is still unused)"
                    },
                )
        try:
            credential, entry = self.registry.join(body["code"])
        except EnrolmentError as exc:
            return Answer(exc.status, {"error": str(exc)})
        log.info("kiosk %s enrolled (epoch %d)", entry.name, entry.epoch)
        secret = load_or_create_secret(self.runtime.data_dir / "secrets" / SECRET_FILE)
        return Answer(
            200,
            {
                "site": entry.site,
                "kiosk": entry.kiosk,
                "epoch": entry.epoch,
                "credential": credential,
                "survey_url": self.survey_url(),
                "survey_secret": base64.b64encode(secret).decode(),
            },
        )

    def survey_url(self) -> str:
        return (
            f"{self.public_url}/s/{{token}}" if self.public_url else self.runtime.config.survey.url
        )

    # -- ingest ------------------------------------------------------------------------

    def ship(self, credential: str, body: object, sent_at: float | None) -> Answer:
        """One batch from a kiosk; 200 with what became of each record, or why not."""
        received = time.time()
        try:
            entry = self.registry.authenticate(credential)
        except EnrolmentError as exc:
            return Answer(exc.status, {"error": str(exc)})
        if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
            return Answer(400, {"error": 'send JSON {"about": {...}, "changes": [...]}'})
        changes = body["changes"]
        try:
            result = self.ingest.take(entry.site, entry.kiosk, changes)
        except StoreError as exc:
            log.warning("ingest paused, the store is unavailable: %s", exc)
            return Answer(
                503,
                {"error": f"the hub's store is unavailable; retry later ({exc})"},
                STORE_DOWN_RETRY,
            )
        offset = None if sent_at is None else sent_at - received
        key = (entry.site, entry.kiosk)
        if offset is not None and abs(offset) > self.tolerance:
            if key not in self._offsets:
                log.warning("kiosk %s's clock is off by %+.0f s", entry.name, offset)
            self._offsets[key] = offset
        else:
            self._offsets.pop(key, None)
        about = body.get("about") if isinstance(body.get("about"), dict) else {}
        self._heard(credential, entry.name, received, offset, about, result)
        answer = result.to_json()
        answer["clock_offset"] = offset
        if entry.desired is not None:  # what this kiosk should ask (old kiosks ignore it)
            answer["settings"] = entry.desired.to_wire()
        return Answer(200, answer)

    def _heard(
        self, credential: str, name: str, at: float, offset: float | None, about: dict, result: Any
    ) -> None:
        fields: dict[str, Any] = {"last_contact": at, "clock_offset": offset}
        for key, kind in (("version", str), ("cycle", str), ("moment", str)):
            if isinstance(about.get(key), kind):
                fields[key] = about[key][:80]
        for key in ("backlog", "set_aside"):
            value = about.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                fields[key] = value
        since = about.get("offline_since")
        fields["offline_since"] = since if isinstance(since, int | float) else None
        fields.update(_settings_heard(about))
        if result.refused:
            fields["last_refusal"] = str(result.refused[-1].get("error", ""))[:300]
            log.warning("kiosk %s: %d record(s) refused", name, len(result.refused))
        with self._pending_lock:
            pending = self._pending.setdefault(
                credential, {"accepted": 0, "duplicates": 0, "refused": 0}
            )
            pending.update(fields)
            pending["accepted"] += result.accepted
            pending["duplicates"] += result.duplicates
            pending["refused"] += len(result.refused)

    def set_kiosk_settings(
        self,
        kiosk: str,
        *,
        site: str | None = None,
        cycle: str | None = None,
        moment: str | None = None,
        languages: Sequence[str] | str | None = None,
        by: str,
    ) -> SettingsChange:
        """Set what ``kiosk`` asks (`hub kiosk-set`); it picks it up at its next contact."""
        if site is not None:
            self.chain.site(site)
        return change_settings(
            self.registry,
            self.runtime.catalogue,
            kiosk,
            site=site,
            sites=self.chain.sites,
            cycle=cycle,
            moment=moment,
            languages=languages,
            by=by,
        )

    def flush(self) -> None:
        """Write what kiosks said about themselves (once a second, not per request)."""
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for credential, fields in pending.items():
            self.registry.heard(credential, **fields)

    def offset(self, site: str, kiosk: str) -> float | None:
        return self._offsets.get((site, kiosk))

    # -- rules -------------------------------------------------------------------------

    def start_rules(self, dispatcher: object | None = None, notify: Any = None) -> HubAlerting:
        def kiosks(site: str) -> list[str]:
            return sorted(
                {e.kiosk for e in self.registry.kiosks() if e.site == site and e.revoked is None}
            )

        self.alerting = HubAlerting(
            self.runtime,
            self.chain,
            dispatcher=dispatcher,
            kiosks=kiosks,
            offsets=self.offset,
            notify=notify,
        )
        self.alerting.start()
        return self.alerting

    def close(self) -> None:
        self.flush()
        if self.alerting is not None:
            self.alerting.close()
        self.registry.close()


def _version(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**62:
        return value
    return None


def _settings_heard(about: dict[str, Any]) -> dict[str, Any]:
    """What a kiosk said of the hub's settings: the languages it offers, the version it runs
    with and the one it refused (and why). Nothing from a kiosk too old to say."""
    fields: dict[str, Any] = {}
    languages = about.get("languages")
    if (
        isinstance(languages, list)
        and 0 < len(languages) <= MAX_LANGUAGES
        and all(isinstance(lang, str) for lang in languages)
    ):
        fields["languages"] = [lang[:35] for lang in languages]
    said = about.get("settings")
    if isinstance(said, dict):
        fields["settings_version"] = _version(said.get("applied"))
        fields["settings_refused"] = _version(said.get("refused"))
        error = said.get("error")
        fields["settings_error"] = str(error)[:300] if isinstance(error, str) else None
    return fields
