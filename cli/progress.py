"""A progress bar for long reads, drawn without a thread of its own.

Rich's bar normally redraws from a background thread. Reading a long history
forks worker processes (``servicecycle.core.reports.parallel``), which is only
safe while the process has a single thread, so this bar is redrawn from the
progress calls themselves, at most ten times a second.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from servicecycle.core import printable

#: Files to read before a bar is worth showing.
SHOW_FROM = 30


class FileBar:
    """A transient bar on ``console``, started on the first call: ``bar(done, total)``.

    ``unit`` is what is counted: ``files`` (the default), or ``bytes`` (shown as
    sizes, for reading one big file); no bar is drawn below ``show_from`` of them.
    """

    def __init__(
        self, label: str, console: Console, show_from: int = SHOW_FROM, unit: str = "files"
    ) -> None:
        self.label = label
        self.console = console
        self.show_from = show_from
        self.unit = unit
        self.progress: Progress | None = None
        self.task: object = None
        self.drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            counted: list[ProgressColumn] = (
                [DownloadColumn()]
                if self.unit == "bytes"
                else [MofNCompleteColumn(), TextColumn(printable(self.unit), markup=False)]
            )
            self.progress = Progress(
                TextColumn(printable(self.label), style="bold", markup=False),
                BarColumn(),
                *counted,
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
                disable=total < self.show_from,
                auto_refresh=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        now = time.monotonic()
        redraw = done >= total or now - self.drawn >= 0.1
        if redraw:
            self.drawn = now
        self.progress.update(self.task, completed=done, refresh=redraw)  # type: ignore[arg-type]

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __enter__(self) -> FileBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
