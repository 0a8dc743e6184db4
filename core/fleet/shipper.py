"""Shipping a kiosk's ratings to its hub: the kiosk's own store is the outbox.

The shipper follows the local change feed from a durable cursor
(``outbox/cursor.json``), sends what it finds in batches, and moves the cursor
only after the hub answered that it committed them — so a cut line, a lost
reply or a killed hub means sending again, which the hub takes as a no-op
(it is idempotent on the rating id, like Kafka's idempotent producer). Taps
never wait for any of this: they are durable in the data folder first.

- network errors, 5xx and 429 are retried with exponential backoff and full
  jitter, never sooner than the hub's ``Retry-After``;
- a record the hub refuses is set aside (``outbox/set-aside.jsonl``) with the
  reason, counted for staff and the hub, and the records behind it go on;
- a refused credential (revoked) stops shipping, keeping every record here.

With nothing to send it still asks the hub every :data:`HEARTBEAT` seconds
(``kiosk.heartbeat``), so the hub knows it is there, and the settings the hub's
reply carries (what the kiosk asks, see :mod:`.settings`) reach it within that
time: they are kept in ``hub-settings.json`` and handed to ``on_settings``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import HEARTBEAT as KIOSK_HEARTBEAT
from ..errors import ServiceCycleError, StoreError
from ..rating import format_time, utc_now
from ..store.contract import Change, ChangeFeed, Cursor
from ..store.store import write_atomic, write_synced
from .membership import Membership, load_membership, membership_path
from .settings import DesiredSettings, load_settings, save_settings
from .wire import Unreachable, post

log = logging.getLogger(__name__)

OUTBOX = "outbox"
#: Records sent at most in one request.
BATCH = 500
#: Seconds between looks at the feed when all is shipped (about a second of taps per batch).
INTERVAL = 1.0
#: Seconds between requests when there is nothing to send, so the hub knows the kiosk is there
#: and its settings reach the kiosk (``kiosk.heartbeat``: 15 s unless set, at most 60).
HEARTBEAT = KIOSK_HEARTBEAT.total_seconds()
#: Backoff after failures: first delay and the cap (seconds).
BACKOFF_FIRST, BACKOFF_CAP = 1.0, 60.0
#: How long a refused (revoked) kiosk waits before asking again.
REFUSED_WAIT = 300.0
#: Changes counted per look when working out how many records wait.
COUNT_STEP = 20_000


class ShipperBusy(ServiceCycleError):
    """Another shipper (the kiosk's thread, another `ship`) ships this data folder now."""


@dataclass
class ShipStatus:
    """What staff see on the PIN menu and `ship` prints."""

    connected: bool | None = None  # None: not tried yet
    offline_since: float | None = None
    last_contact: float | None = None
    waiting: int = 0
    shipped: int = 0
    set_aside: int = 0
    refused: bool = False  # the hub refused this kiosk's credential (revoked)
    last_error: str = ""


@dataclass
class StepResult:
    sent: int = 0
    set_aside: int = 0
    more: bool = False  # a full batch went: there may be more at once
    failed: bool = False


class Shipper:
    """Ship one data folder's change feed to the hub this kiosk joined."""

    def __init__(
        self,
        feed: ChangeFeed,
        data_dir: Path,
        *,
        source: Path | None = None,
        about: Callable[[], dict[str, Any]] = dict,
        batch: int = BATCH,
        interval: float = INTERVAL,
        heartbeat: float = HEARTBEAT,
        timeout: float = 30.0,
        version: str = "",
        clock: Callable[[], float] = time.time,
        on_settings: Callable[[DesiredSettings], None] | None = None,
    ) -> None:
        """``data_dir`` holds the membership and the outbox; ``source`` (default: the same
        folder) is the folder whose records ship, e.g. a replaced kiosk's old one.
        ``on_settings`` is called (on the shipper's thread) with settings the hub sent
        that differ from the last ones, once they are kept in the data folder."""
        self.feed = feed
        self.data_dir = Path(data_dir)
        self.outbox = self.data_dir / OUTBOX
        self.outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = "cursor.json"
        if source is not None and Path(source).resolve() != self.data_dir.resolve():
            name = f"cursor-{abs(hash(str(Path(source).resolve()))):x}.json"
        self.cursor_path = self.outbox / name
        self.set_aside_path = self.outbox / "set-aside.jsonl"
        self.about = about
        self.batch_limit = self.batch = batch
        self.interval, self.heartbeat, self.timeout = interval, heartbeat, timeout
        self.version = version
        self.clock = clock  # this machine's clock, told to the hub with every request
        self.status = ShipStatus(set_aside=self._count_set_aside())
        self.member: Membership | None = None
        self._member_stamp: float | None = None
        self.cursor: Cursor | None = self._load_cursor()
        self._failures = 0
        self._counted_cursor: Cursor | None = self.cursor
        self._counted = self._acked = 0
        self._lock_fd: int | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()  # report_soon(): cut the wait short
        self._report = False
        self._thread: threading.Thread | None = None
        self.on_settings = on_settings
        #: The last settings the hub sent (kept in ``hub-settings.json``), None: none yet.
        self.settings: DesiredSettings | None = load_settings(self.data_dir)

    # -- the loop ------------------------------------------------------------------------

    def start(self) -> None:
        """Ship in a background thread until :meth:`stop`."""
        self.take_lock()
        self._thread = threading.Thread(target=self._run, name="servicecycle-ship", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
        self.release_lock()

    def report_soon(self) -> None:
        """Tell the hub about this kiosk at the next step, not at the next heartbeat
        (e.g. once new settings are in force, so `hub kiosks` shows them at once)."""
        self._report = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.step_delay()
            if not self._stop.is_set():
                self._wake.wait(delay)
                self._wake.clear()

    def step_delay(self) -> float:
        """One step; how long to wait before the next."""
        try:
            result = self.step()
        except (StoreError, OSError) as exc:  # the local store: retried, never a dead thread
            log.warning("shipping paused: %s", exc)
            self.status.last_error = str(exc)
            return self._backoff(None)
        except Exception:
            log.exception("shipping failed; retrying")
            return self._backoff(None)
        if result.failed:
            return REFUSED_WAIT if self.status.refused else self._backoff(self._retry_after)
        return 0.0 if result.more else self.interval

    def drain(self, deadline: float | None = None) -> StepResult:
        """Ship until nothing waits (``ship --once``); stops at the first failure."""
        total = StepResult()
        while True:
            result = self.step()
            total.sent += result.sent
            total.set_aside += result.set_aside
            if result.failed:
                total.failed = True
                return total
            if not result.more or (deadline is not None and time.monotonic() > deadline):
                return total

    # -- one step --------------------------------------------------------------------------

    def step(self) -> StepResult:
        """Send one batch (or a heartbeat); never raises for the network or the hub."""
        member = self._membership()
        if member is None:
            self.status.connected, self.status.last_error = False, "not joined to a hub"
            return StepResult(failed=True)
        changes = self.feed.changes(self.cursor, limit=self.batch)
        self._count_waiting(changes)
        now = time.time()
        if (
            not changes
            and not self._report
            and self.status.last_contact
            and now - self.status.last_contact < self.heartbeat
        ):
            return StepResult()
        return self._send(member, changes)

    def _send(self, member: Membership, changes: list[Change]) -> StepResult:
        self._retry_after = None
        self._report = False
        body = {
            "about": {**self.about(), **self._about()},
            "changes": [{"kind": c.kind, "rating": c.rating.to_record()} for c in changes],
        }
        try:
            reply = post(
                member.ship_url,
                body,
                credential=member.credential,
                timeout=self.timeout,
                sent_at=self.clock(),
            )
        except Unreachable as exc:
            return self._failed(f"hub unreachable: {exc}")
        if reply.status == 200 and not _is_answer(reply.body):
            # A captive portal or a proxy answering for the hub: nothing was committed.
            return self._failed(
                "the reply is not the hub's answer (a proxy or a Wi-Fi login page?)"
            )
        if reply.status == 200:
            refused = reply.body.get("refused") or []
            by_index = {r.get("index"): r for r in refused if isinstance(r, dict)}
            for index, change in enumerate(changes):
                if index in by_index:
                    self._set_aside(change, str(by_index[index].get("error", "refused")))
            self._advance(changes)
            self._connected()
            self._take_settings(reply.body.get("settings"))
            full = bool(changes) and len(changes) >= self.batch
            self.batch = min(self.batch_limit, self.batch * 2)
            return StepResult(sent=len(changes) - len(by_index), set_aside=len(by_index), more=full)
        if reply.status in (401, 403):
            self.status.refused = True
            return self._failed(f"the hub refused this kiosk: {reply.error}")
        if reply.status == 429 or reply.status >= 500:
            self._retry_after = reply.retry_after
            return self._failed(f"the hub is busy or down ({reply.status}): {reply.error}")
        # Any other refusal of the whole batch: narrow it down to the record at fault.
        if len(changes) > 1:
            self.batch = max(1, len(changes) // 2)
            return StepResult(more=True)
        if changes:
            self._set_aside(changes[0], f"HTTP {reply.status}: {reply.error}")
            self._advance(changes)
            return StepResult(set_aside=1, more=True)
        return self._failed(f"the hub refused the request ({reply.status}): {reply.error}")

    _retry_after: float | None = None

    def _take_settings(self, data: object) -> None:
        """Settings in the hub's reply: kept and handed on when they changed. No field (an
        older hub, or none set for this kiosk) keeps the last ones."""
        if data is None:
            return
        settings = DesiredSettings.from_wire(data)
        if settings is None or settings == self.settings:
            return
        log.info("settings from the hub: %s, by %s", settings.describe(), settings.changed_by)
        try:
            save_settings(self.data_dir, settings)
        except OSError as exc:  # in force now all the same; a restart falls back to the last kept
            log.warning("settings from the hub not kept in %s: %s", self.data_dir, exc)
        self.settings = settings
        if self.on_settings is not None:
            try:
                self.on_settings(settings)
            except Exception:
                log.exception("settings from the hub could not be handed on")

    # -- what the hub and staff are told ---------------------------------------------------

    def _about(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "backlog": self.status.waiting,
            "set_aside": self.status.set_aside,
            "offline_since": self.status.offline_since,
        }

    def _connected(self) -> None:
        status = self.status
        if status.connected is False:
            log.info("connected to the hub again; %d record(s) wait", status.waiting)
        status.connected, status.offline_since, status.refused = True, None, False
        status.last_contact, status.last_error = time.time(), ""
        self._failures = 0

    def _failed(self, message: str) -> StepResult:
        status = self.status
        if status.connected is not False:
            log.warning("shipping to the hub paused: %s", message)
        if status.offline_since is None:
            status.offline_since = time.time()
        status.connected, status.last_error = False, message
        self._failures += 1
        return StepResult(failed=True)

    def _backoff(self, retry_after: float | None) -> float:
        ceiling = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(self._failures, 16))
        delay = random.uniform(BACKOFF_FIRST, max(BACKOFF_FIRST, ceiling))  # full jitter
        return max(delay, retry_after or 0.0)

    def _count_waiting(self, batch: list[Change]) -> None:
        """What waits, given this step's ``batch``: exactly that when it is all there is;
        beyond a full batch, counted on from where the last count stopped, a step at a time
        (a long backlog is not read whole every second)."""
        if len(batch) < self.batch:
            self._counted_cursor = batch[-1].cursor if batch else self.cursor
            self._counted = self._acked + len(batch)
        else:
            if self._acked > self._counted:
                self._counted_cursor, self._counted = self.cursor, self._acked
            found = self.feed.changes(self._counted_cursor, limit=COUNT_STEP)
            if found:
                self._counted_cursor = found[-1].cursor
                self._counted += len(found)
        self.status.waiting = max(0, self._counted - self._acked)

    # -- durable state ---------------------------------------------------------------------

    def _advance(self, changes: list[Change]) -> None:
        if not changes:
            return
        self.cursor = changes[-1].cursor
        data = {"cursor": self.cursor, "at": format_time(utc_now())}
        write_atomic(self.cursor_path, (json.dumps(data) + "\n").encode(), mode=0o600)
        self._acked += len(changes)
        self.status.shipped += len(changes)
        self.status.waiting = max(0, self._counted - self._acked)

    def _load_cursor(self) -> Cursor | None:
        try:
            return str(json.loads(self.cursor_path.read_text(encoding="utf-8"))["cursor"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ServiceCycleError(
                f"{self.cursor_path} is damaged ({exc}); remove it to ship everything again "
                "(the hub keeps each rating once)"
            ) from exc

    def _set_aside(self, change: Change, error: str) -> None:
        line = {
            "at": format_time(utc_now()),
            "error": error,
            "kind": change.kind,
            "rating": change.rating.to_record(),
        }
        log.warning("the hub refused rating %s; set aside: %s", change.rating.id, error)
        fd = os.open(self.set_aside_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        write_synced(fd, (json.dumps(line, ensure_ascii=False) + "\n").encode())
        self.status.set_aside += 1

    def _count_set_aside(self) -> int:
        try:
            with self.set_aside_path.open("rb") as handle:
                return sum(1 for _ in handle)
        except FileNotFoundError:
            return 0

    def _membership(self) -> Membership | None:
        path = membership_path(self.data_dir)
        try:
            stamp = path.stat().st_mtime
        except FileNotFoundError:
            self.member = None
            return None
        if stamp != self._member_stamp:  # joined again (a new epoch): use the new credential
            self.member, self._member_stamp = load_membership(self.data_dir), stamp
            self.status.refused = False
            self._failures = 0
        return self.member

    def take_lock(self) -> None:
        """One shipper per outbox: a second is refused (:class:`ShipperBusy`)."""
        fd = os.open(self.outbox / "ship.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ShipperBusy(
                f"another shipper ships {self.data_dir} now (the kiosk, or `servicecycle ship`)"
            ) from None
        self._lock_fd = fd

    def release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _is_answer(body: dict[str, Any]) -> bool:
    """Whether a 200's body is a hub's account of the batch (only then does the cursor move)."""
    return isinstance(body.get("accepted"), int) and isinstance(body.get("refused"), list)
