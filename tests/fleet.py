"""Real hubs and kiosks on loopback for the fleet tests: a hub process, a TCP proxy, kiosks.

- :class:`HubProcess` runs ``servicecycle hub serve`` as its own process (killable
  with SIGKILL, restartable on the same port and data folder);
- :class:`Proxy` sits between kiosks and the hub and can cut the line, or let
  requests through and drop the replies (a lost acknowledgement);
- :class:`Kiosk` is a kiosk's data folder with its recorder and its shipper.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from servicecycle.core import RatingFilter, Runtime
from servicecycle.core.fleet import Shipper, join

CLI = str(Path(sys.executable).with_name("servicecycle"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hub_config(
    path: Path,
    *,
    sites: dict[str, list[str]] | None = None,
    hook: str | None = None,
    store: str | None = None,
    extra: str = "",
) -> Path:
    """A hub's site file: one region with ``sites`` (id -> kiosks), a webhook receiver."""
    sites = sites or {"grand-kl": ["lobby", "checkout"]}
    lines = ["[hub]", 'public_url = "https://feedback.example.com"', 'chain = "grand"']
    lines += ["", "[[hub.regions]]", 'id = "asia"']
    for site, kiosks in sites.items():
        lines += [
            "",
            "[[hub.regions.sites]]",
            f'id = "{site}"',
            'timezone = "Asia/Kuala_Lumpur"',
            f"kiosks = {json.dumps(kiosks)}",
            "opening_hours = {}",
        ]
    if store:
        lines += ["", "[store]", f'url = "{store}"']
    if hook:
        lines += [
            "",
            "[notify.receivers.hook]",
            'type = "webhook"',
            f'url = "{hook}"',
            'timeout = "2s"',
            "",
            "[[notify.routes]]",
            'receiver = "hook"',
            'group_wait = "0s"',
            'group_by = ["alertname", "site"]',
        ]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def kiosk_config(path: Path, site: str, kiosk: str) -> Path:
    path.write_text(
        f'[site]\nid = "{site}"\ntimezone = "Asia/Kuala_Lumpur"\nopening_hours = {{}}\n\n'
        f'[kiosk]\nid = "{kiosk}"\ncycle = "hotel-guest"\nmoment = "check-in-wait"\n'
    )
    return path


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    if check and done.returncode != 0:
        raise AssertionError(f"servicecycle {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done


class HubProcess:
    """``servicecycle hub serve`` in its own process."""

    def __init__(self, config: Path, data_dir: Path, port: int | None = None) -> None:
        self.config, self.data_dir = config, data_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = data_dir.parent / f"hub-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base(self) -> list[str]:
        return ["--config", str(self.config), "--data-dir", str(self.data_dir)]

    def start(self, timeout: float = 30.0) -> HubProcess:
        handle = self.log.open("a")
        self.proc = subprocess.Popen(
            [CLI, *self.base(), "hub", "serve", "--port", str(self.port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the hub exited:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/api/v1/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"the hub did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def enroll(self, site: str, kiosk: str) -> str:
        return cli(*self.base(), "hub", "enroll", "--site", site, "--kiosk", kiosk).stdout.strip()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return cli(*self.base(), *args, check=check)

    def kiosks(self) -> list[dict[str, Any]]:
        return json.loads(self.cli("hub", "kiosks", "--json", "--all").stdout)["kiosks"]

    def alerts(self) -> list[dict[str, Any]]:
        return json.loads(self.cli("alerts", "list", "--json").stdout)


class Proxy:
    """A TCP proxy on loopback: ``cut()`` the line, or ``drop_replies`` (a lost ack)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.down = False
        self.drop_replies = False
        self.dropped = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.down = True
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self.cut()
        self.server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if replies and self.drop_replies:
                    self.dropped += 1
                    break  # the hub answered (so it committed); the kiosk never hears it
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


class Kiosk:
    """A kiosk's data folder: record into it, join a hub, ship."""

    def __init__(self, root: Path, site: str, name: str) -> None:
        self.dir = root / f"{site}-{name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = kiosk_config(root / f"{site}-{name}.toml", site, name)
        self.runtime = Runtime.open(self.config, data_dir=self.dir)
        self.site, self.name = site, name
        self.shipper: Shipper | None = None

    def join(self, hub_url: str, code: str) -> None:
        join(self.dir, hub_url, code, site=self.site, kiosk=self.name)
        self.shipper = Shipper(self.runtime.site_store.changes, self.dir, timeout=5)

    def tap(self, score: int, *, moment: str = "check-in-wait", ago: float = 0.0, **fields: Any):
        at = datetime.now(UTC) - timedelta(seconds=ago)
        return self.runtime.recorder.record(
            site=self.site,
            kiosk=self.name,
            cycle="hotel-guest",
            moment=moment,
            score=score,
            language="en",
            at=at,
            **fields,
        )

    def ship(self, deadline: float = 30.0) -> int:
        """Ship until nothing waits; the number of records the hub took."""
        assert self.shipper is not None
        result = self.shipper.drain(time.monotonic() + deadline)
        return result.sent

    def ids(self) -> set[str]:
        return {
            r.id for r in self.runtime.site_store.ratings.query(RatingFilter(include_suspect=True))
        }

    def close(self) -> None:
        self.runtime.close()


def hub_ids(hub: HubProcess) -> list[str]:
    """Every rating id in the hub's store, duplicates kept (read from a separate process)."""
    runtime = Runtime.open(hub.config, data_dir=hub.data_dir)
    try:
        where = RatingFilter(include_suspect=True)
        return [r.id for r in runtime.site_store.ratings.query(where)]
    finally:
        runtime.close()
