"""The alert book: every alert transition and acknowledgement, kept in the store.

A restart reads the book back, so a firing alert is neither lost nor
announced again; staff acknowledgements live here too. So do broken rules:
each start of the rule engine, the rules it could not load, and a rule's
first failure while running, so staff see them wherever alerts are shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
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

    def record(self, alert: Alert, previous: AlertState | None) -> None:
        self.table.append(
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
        self.table.append(
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
        latest: dict[str, Alert] = {}
        acks: dict[str, str] = {}
        for record in self._records():
            fingerprint = record.get("fingerprint")
            event = record.get("event")
            if event == "ack":
                acks[fingerprint] = record.get("by", "")
                continue
            if event != "state":
                continue
            alert = alert_from_record(record)
            latest[fingerprint] = alert
            if alert.state is AlertState.PENDING or record.get("previous") is None:
                acks.pop(fingerprint, None)  # a new alert starts unacknowledged
        return [
            _with(alert, acknowledged_by=acks.get(fp))
            for fp, alert in latest.items()
            if alert.state is not AlertState.RESOLVED
        ]

    def history(self, since: datetime | None = None) -> Iterable[dict[str, Any]]:
        return self.table.records(since)


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
