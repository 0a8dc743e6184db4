"""Delivery workers: one daemon thread per receiver, with retries and backoff.

A slow or hanging receiver (a webhook timing out) delays only its own
notifications. A retry is scheduled, not slept on, so a worker's queue stays
ordered by due time; the dispatcher sends at most one notification per group
and receiver at a time, which keeps a group's messages in order.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .journal import FAILED, RETRY, SENT, Journal
from .notification import DeliveryError, Notification, Notifier

log = logging.getLogger(__name__)

#: The longest wait a receiver's ``Retry-After`` can impose on one retry.
MAX_RETRY_AFTER = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (AWS's "Exponential Backoff and Jitter").

    The wait before attempt ``n + 1`` is uniform in ``[0, min(cap, base * 2**(n-1))]``:
    retries from many kiosks after an outage spread out instead of arriving together.
    A receiver's ``Retry-After`` is a floor, capped at :data:`MAX_RETRY_AFTER`.
    """

    max_attempts: int = 5
    base: float = 1.0
    cap: float = 60.0
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        wait = self.random() * ceiling
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        return wait


@dataclass(order=True)
class _Job:
    due: float
    order: int
    notification: Notification = field(compare=False)
    attempt: int = field(compare=False)  # the number of the next attempt


class DeliveryWorker:
    """Sends one receiver's notifications, recording every attempt in the journal."""

    def __init__(
        self,
        receiver: str,
        notifier: Notifier,
        policy: RetryPolicy,
        journal: Journal,
        on_done: Callable[[Notification, bool, str | None], None],
    ) -> None:
        self.receiver = receiver
        self.notifier = notifier
        self.policy = policy
        self.journal = journal
        self.on_done = on_done
        self._jobs: list[_Job] = []
        self._order = itertools.count()
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(
            target=self._run, name=f"servicecycle-notify-{receiver}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def put(self, notification: Notification, attempt: int = 1) -> None:
        """Queue a delivery; returns at once."""
        with self._cond:
            heapq.heappush(
                self._jobs, _Job(time.monotonic(), next(self._order), notification, attempt)
            )
            self._cond.notify_all()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._jobs and not self._busy

    def wait_idle(self, deadline: float) -> bool:
        """Wait (until the monotonic ``deadline``) for nothing queued and nothing in flight."""
        with self._cond:
            while self._jobs or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def stop(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if self._jobs and self._jobs[0].due <= time.monotonic():
                        break
                    wait = self._jobs[0].due - time.monotonic() if self._jobs else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                job = heapq.heappop(self._jobs)
                self._busy = True
            try:
                self._attempt(job)
            except Exception:  # never let one bad notification kill the worker
                log.exception("notifier %r: unexpected error while delivering", self.receiver)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        notification, attempt = job.notification, job.attempt
        retry_after = None
        try:
            self.notifier.send(notification)
        except DeliveryError as exc:
            error, retryable, retry_after = str(exc), exc.retryable, exc.retry_after
        except (TimeoutError, ConnectionError) as exc:
            error, retryable = f"{type(exc).__name__}: {exc}", True
        except Exception as exc:  # a plugin's notifier may fail any way it likes
            log.exception("notifier %r raised %s", self.receiver, type(exc).__name__)
            error, retryable = f"{type(exc).__name__}: {exc}", False
        else:
            self.journal.record(notification, SENT, attempt)
            log.info(
                "notified %s: %s %s (%d alerts)",
                self.receiver,
                notification.status,
                notification.group_key,
                len(notification.alerts),
            )
            self.on_done(notification, True, None)
            return
        if retryable and attempt < self.policy.max_attempts:
            delay = self.policy.delay(attempt, retry_after)
            self.journal.record(
                notification, RETRY, attempt, f"{error} (attempt {attempt}; next in {delay:.3g}s)"
            )
            log.warning(
                "notifier %r: attempt %d of %d failed: %s; retrying in %.3gs",
                self.receiver,
                attempt,
                self.policy.max_attempts,
                error,
                delay,
            )
            with self._cond:
                heapq.heappush(
                    self._jobs,
                    _Job(time.monotonic() + delay, next(self._order), notification, attempt + 1),
                )
            return
        why = "not worth retrying" if not retryable else f"after {attempt} attempts"
        log.error(
            "notifier %r: giving up on %s notification %s for %s (%s): %s",
            self.receiver,
            notification.status,
            notification.id,
            notification.group_key,
            why,
            error,
        )
        self.journal.record(notification, FAILED, attempt, error, permanent=not retryable)
        # a refusal (HTTP 4xx, a plugin's error) says the receiver itself must be fixed
        self.on_done(notification, False, None if retryable else error)
