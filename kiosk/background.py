"""Where the kiosk's calls into core run: one thread of their own, one call at a time.

A durable write waits for fsync, and the store's write lock may be held by
another process for a while; neither may freeze the screen. Every call that
touches the data folder (open, tap, reasons, survey link, today's figures)
therefore runs on this single thread, in the order it was asked for: a tap
can never overtake the store being opened, nor two taps each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class StoreThread:
    """Run callables on one worker thread and await their results from the UI."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-store")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Await ``function(*args)`` run on the store thread; its exception is re-raised here."""
        return await asyncio.wrap_future(self._pool.submit(function, *args))

    def close(self) -> None:
        """Finish the call in progress (a write is never cut short); drop queued ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)
