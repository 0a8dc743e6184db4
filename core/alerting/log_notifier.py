"""The ``log`` notifier: one JSON line per notification, appended and fsynced.

The default receiver: every site has an audit trail of what would have been
sent, even with no network at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .notification import DeliveryError, Notification
from .strict import StrictModel

DEFAULT_FILE = "alerts.jsonl"


class LogSettings(StrictModel):
    """``path``: the file; relative paths are taken from the data folder."""

    path: Path | None = None


class LogNotifier:
    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def send(self, notification: Notification) -> None:
        line = json.dumps(notification.payload(), ensure_ascii=False, default=str) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                view = memoryview(line.encode("utf-8"))
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:  # a full disk may clear: worth another try
            raise DeliveryError(
                f"cannot append to {self.path}: {exc.strerror or exc}", retryable=True
            ) from exc


def log_factory(name: str, data_dir: Path | str | None = None, **settings: object) -> LogNotifier:
    """Build a ``log`` receiver; ``data_dir`` is the store's folder (passed by the dispatcher)."""
    options = LogSettings.model_validate(settings)
    path = options.path
    if path is None or not path.is_absolute():
        if data_dir is None:
            raise ValueError(
                "path: give an absolute path, or a data folder for the default "
                f"<data_dir>/{DEFAULT_FILE}"
            )
        path = Path(data_dir) / (path or DEFAULT_FILE)
    return LogNotifier(name, path.expanduser())
