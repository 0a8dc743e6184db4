"""Shared pieces for the alerting tests: a clock, alerts, a real HTTP server, a real store.

No test lives here; the other ``test_alerting_*`` modules import from it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from servicecycle.core import Alert, AlertState, Store
from servicecycle.core.alerting import Dispatcher, NotifySettings, builtin_notifiers

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday; 17:00 in Kuala Lumpur


class Clock:
    """Injected time: moves only when a test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def alert(
    rule: str = "checkout-wait",
    state: AlertState = AlertState.FIRING,
    *,
    site: str = "grand-kl",
    moment: str = "check-out-wait",
    severity: str = "critical",
    since: datetime = T0,
    labels: dict[str, str] | None = None,
    acknowledged_by: str | None = None,
) -> Alert:
    return Alert(
        rule=rule,
        key=(("site", site), ("moment", moment)),
        state=state,
        severity=severity,
        summary=f"{rule}: guests wait too long at {moment}",
        since=since,
        response="duty manager opens a second counter",
        active_since=since - timedelta(minutes=5),
        labels=labels or {},
        values={"mean": 2.1, "count": 7},
        acknowledged_by=acknowledged_by,
    )


def resolved(a: Alert, at: datetime) -> Alert:
    return a.moved_to(AlertState.RESOLVED, at)


def settings(**notify: Any) -> NotifySettings:
    return NotifySettings.model_validate(notify)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "data") as s:
        yield s


@pytest.fixture
def make_dispatcher(store: Store, clock: Clock) -> Iterator[Any]:
    """Build dispatchers on the shared store and clock; all closed at the end."""
    made: list[Dispatcher] = []

    def make(notify: NotifySettings | None = None, **kwargs: Any) -> Dispatcher:
        kwargs.setdefault("clock", clock)
        factories = kwargs.pop("factories", None) or builtin_notifiers()
        tz = kwargs.pop("timezone", "Asia/Kuala_Lumpur")
        dispatcher = Dispatcher(notify or NotifySettings(), factories, store, tz, **kwargs)
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.close(timeout=1)


# -- a real HTTP receiver ------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class Receiver:
    """What the test HTTP server does with the next requests, and what it got."""

    url: str
    requests: list[Request] = field(default_factory=list)
    #: One action per coming request: (status, headers) or ("sleep", seconds); then 200.
    plan: list[tuple[Any, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *actions: tuple[Any, Any]) -> None:
        with self.lock:
            self.plan.extend(actions)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.requests


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        receiver = self.server.receiver  # type: ignore[attr-defined]
        with receiver.lock:
            receiver.requests.append(
                Request(self.path, dict(self.headers), json.loads(raw or b"{}"), time.monotonic())
            )
            action = receiver.plan.pop(0) if receiver.plan else (200, {})
        if action[0] == "sleep":
            receiver.release.wait(action[1])
            action = (200, {})
        status, headers = action
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            body = b'{"error":"planned"}' if status >= 400 else b"{}"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


@pytest.fixture
def http_receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.block_on_close = False
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    server.receiver = receiver  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()
