"""The alert book: every alert transition and acknowledgement, kept in the store.

A restart reads the book back, so a firing alert is neither lost nor
announced again; staff acknowledgements live here too. So do broken rules:
each start of the rule engine, the rules it could not load, and a rule's
first failure while running, so staff see them wherever alerts are shown.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..alert import Alert, AlertState
from ..errors import ServiceCycleError
from ..rating import format_time, new_rating_id, parse_time
from ..store import Store
from ..store.contract import SiteStore
from ..store.folder import site_store_of

TABLE = "alerts"


@dataclass(frozen=True)
class RuleFault:
    """A rule that is not working: refused when loading, or failing while running."""

    rule: str | None  # None when the problem is a whole file (malformed TOML, say)
    message: str
    at: datetime
    stage: str  # "load" or "run"

    def __str__(self) -> str:
        what = "not loaded" if self.stage == "load" else "failing"
        return f"rule {self.rule or '(file)'} {what}: {self.message}"


class AlertBook:
    def __init__(self, store: SiteStore | Store, site: str | None = None) -> None:
        """``site``: one site's book in a store many sites share (a hub's); None: all."""
        self.table = site_store_of(store).alerts
        self.site = site

    def _records(self) -> Iterable[dict[str, Any]]:
        records = self.table.records()
        if self.site is None:
            return records
        return (r for r in records if r.get("site", self.site) == self.site)

    def _stamp(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.site is not None:
            record["site"] = self.site
        return record

    def record_start(self, problems: Iterable[tuple[str | None, str]]) -> None:
        """The rule engine starts: earlier faults are forgotten, load problems noted."""
        now = datetime.now(UTC)
        self.table.append(
            self._stamp({"id": new_rating_id(now), "at": format_time(now), "event": "start"})
        )
        for rule, message in problems:
            self.record_fault(rule, message, stage="load")

    def record_fault(self, rule: str | None, message: str, *, stage: str = "run") -> None:
        now = datetime.now(UTC)
        self.table.append(
            self._stamp(
                {
                    "id": new_rating_id(now),
                    "at": format_time(now),
                    "event": "fault",
                    "rule": rule,
                    "message": message,
                    "stage": stage,
                }
            )
        )

    def faults(self) -> list[RuleFault]:
        """Rules broken since the rule engine last started."""
        found: dict[tuple[str | None, str], RuleFault] = {}
        for record in self._records():
            event = record.get("event")
            if event == "start":
                found.clear()
            elif event == "fault":
                fault = RuleFault(
                    record.get("rule"),
                    str(record.get("message", "")),
                    parse_time(record["at"]),
                    str(record.get("stage", "run")),
                )
                found.setdefault((fault.rule, fault.message), fault)
        return list(found.values())

    def _file(self, record: dict[str, Any]) -> None:
        """Append an event, and into what this process keeps of the book at once.

        A transition is filed at the alert's own time, which may be well before
        the newest event read (an alert the engine found in the history it
        replayed at a start): reading only what is newer would miss it.
        """
        self.table.append(record)
        kept = _CURRENT.get(self.table)
        if kept is not None:
            kept.apply([record])

    def record(self, alert: Alert, previous: AlertState | None) -> None:
        self._file(
            self._stamp(
                {
                    "id": new_rating_id(alert.since),
                    "at": format_time(alert.since),
                    "event": "state",
                    "fingerprint": alert.fingerprint,
                    "rule": alert.rule,
                    "key": [list(pair) for pair in alert.key],
                    "state": str(alert.state),
                    "previous": str(previous) if previous else None,
                    "severity": alert.severity,
                    "summary": alert.summary,
                    "response": alert.response,
                    "labels": alert.labels,
                    "values": alert.values,
                    "active_since": format_time(alert.active_since or alert.since),
                }
            )
        )

    def acknowledge(self, fingerprint: str, by: str, note: str = "") -> Alert:
        """Mark a pending or firing alert as seen by ``by``; repeats of it stop."""
        current = {a.fingerprint: a for a in self.current()}
        alert = current.get(fingerprint) or next(
            (a for a in current.values() if a.short_id == fingerprint), None
        )
        if alert is None:
            known = ", ".join(f"{a.short_id} ({fp})" for fp, a in sorted(current.items()))
            known = known or "(no alert is pending or firing)"
            raise ServiceCycleError(f"no pending or firing alert {fingerprint!r}; current: {known}")
        fingerprint = alert.fingerprint
        if not by.strip():
            raise ServiceCycleError("say who acknowledges the alert (a name or staff id)")
        now = datetime.now(UTC)
        self._file(
            self._stamp(
                {
                    "id": new_rating_id(now),
                    "at": format_time(now),
                    "event": "ack",
                    "fingerprint": fingerprint,
                    "by": by.strip(),
                    "note": note,
                }
            )
        )
        return _with(alert, acknowledged_by=by.strip())

    def current(self) -> list[Alert]:
        """Alerts whose latest transition left them pending or firing."""
        if self.site is None:
            return [alert for alerts in self.current_by_site().values() for alert in alerts]
        by_site = self.current_by_site()
        return list(by_site.get(self.site, [])) + (
            list(by_site.get(None, [])) if None in by_site else []
        )

    def current_by_site(self) -> dict[str | None, list[Alert]]:
        """Every site's current alerts (None: records with no site), kept between calls.

        The first call reads the whole book; later calls read only what was filed
        since (from a little before the newest time seen, :data:`OVERLAP`), as long
        as the table's :meth:`version` says something changed at all, and the
        whole book again every :data:`FULL_EVERY`. Reading a suffix again is
        harmless: every event sets or clears one alert's entry, so the entries end
        as if the book had been read once in order.
        """
        version = self.table.version() if hasattr(self.table, "version") else None
        kept = _CURRENT.get(self.table)
        now = time.monotonic()
        if version is None or kept is None or now - kept.full_at > FULL_EVERY:
            kept = _Current(full_at=now)
            kept.apply(self.table.records())
        elif kept.version != version:
            since = parse_time(kept.high) - OVERLAP if kept.high else None
            kept = kept.copy()
            kept.apply(self.table.records(since))
        kept.version = version
        if version is not None:
            _CURRENT[self.table] = kept
        return kept.by_site()

    def history(self, since: datetime | None = None) -> Iterable[dict[str, Any]]:
        return self.table.records(since)


#: table -> what was read of it: each book is read once, then only what is new.
_CURRENT: weakref.WeakKeyDictionary[Any, _Current] = weakref.WeakKeyDictionary()
#: Read again from this long before the newest time seen (records filed a little late).
OVERLAP = timedelta(minutes=10)
#: Seconds between whole readings of a book, whatever it says of itself.
FULL_EVERY = 600.0


@dataclass
class _Current:
    """The latest transition of every alert and its acknowledgement, as read so far."""

    full_at: float
    version: object = None
    high: str = ""  # the newest ``at`` read
    latest: dict[tuple[str | None, str], Alert] = field(default_factory=dict)
    acks: dict[tuple[str | None, str], str] = field(default_factory=dict)

    def copy(self) -> _Current:
        return _Current(self.full_at, self.version, self.high, dict(self.latest), dict(self.acks))

    def apply(self, records: Iterable[dict[str, Any]]) -> None:
        latest, acks, high = self.latest, self.acks, self.high
        for record in records:
            at = record.get("at", "")
            if isinstance(at, str) and at > high:
                high = at
            event = record.get("event")
            if event not in ("state", "ack"):
                continue
            key = (record.get("site"), record.get("fingerprint"))
            if event == "ack":
                acks[key] = record.get("by", "")  # type: ignore[index]
                continue
            alert = alert_from_record(record)
            latest[key] = alert  # type: ignore[index]
            if alert.state is AlertState.PENDING or record.get("previous") is None:
                acks.pop(key, None)  # type: ignore[arg-type]  # a new alert: unacknowledged
        self.high = high

    def by_site(self) -> dict[str | None, list[Alert]]:
        found: dict[str | None, list[Alert]] = {}
        for key, alert in self.latest.items():
            if alert.state is not AlertState.RESOLVED:
                found.setdefault(key[0], []).append(
                    _with(alert, acknowledged_by=self.acks.get(key))
                )
        return found


def alert_from_record(record: dict[str, Any]) -> Alert:
    return Alert(
        rule=record["rule"],
        key=tuple((k, v) for k, v in record["key"]),
        state=AlertState(record["state"]),
        severity=record["severity"],
        summary=record["summary"],
        since=parse_time(record["at"]),
        response=record.get("response", ""),
        active_since=parse_time(record.get("active_since") or record["at"]),
        labels=record.get("labels", {}),
        values=record.get("values", {}),
    )


def _with(alert: Alert, **changes: Any) -> Alert:
    from dataclasses import replace

    return replace(alert, **changes)
