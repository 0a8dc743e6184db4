"""Advisory file locks that coordinate processes sharing one data folder.

``flock`` locks belong to the open file and vanish when the process dies, so
a crashed kiosk never leaves the folder locked.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class LockTimeout(Exception):
    """The lock stayed held by another process for longer than we could wait."""


class FileLock:
    """One lock file; :meth:`hold` for a short section, :meth:`acquire` for a lifetime."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        # flock cannot tell two threads of one process apart (they share the fd):
        # a thread lock keeps this process's own threads out of each other's way.
        self._threads = threading.Lock()

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def acquire(self, exclusive: bool = True, timeout: float | None = None) -> bool:
        """Take the lock; ``timeout=0`` tries once, ``None`` waits for ever."""
        fd = self._open()
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        if timeout is None:
            fcntl.flock(fd, mode)
            return True
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.005)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @contextmanager
    def hold(self, exclusive: bool = True, timeout: float | None = 30.0) -> Iterator[None]:
        started = time.monotonic()
        if not self._threads.acquire(timeout=-1 if timeout is None else timeout):
            raise LockTimeout(str(self.path))
        try:
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
            if not self.acquire(exclusive, left):
                raise LockTimeout(str(self.path))
            try:
                yield
            finally:
                self.release()
        finally:
            self._threads.release()

    # -- an owner's note, for "who holds this?" messages ---------------------

    def write_owner(self, **details: Any) -> None:
        """Record who holds the lock (pid, host, start time) inside the lock file."""
        fd = self._open()
        note = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            **details,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(note).encode(), 0)

    def read_owner(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
