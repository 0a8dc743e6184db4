"""The staff PIN: stored hashed, checked in constant time, wrong guesses slowed down."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from .errors import ServiceCycleError

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 200_000
#: Wrong PINs allowed before the pad locks; each further one doubles the wait.
FREE_TRIES = 3
FIRST_LOCK = 30.0
LONGEST_LOCK = 15 * 60.0


def hash_pin(pin: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<hash>``, for the config's ``kiosk.pin_hash``."""
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise ServiceCycleError("a PIN is 4 to 12 digits")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"{ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def check_hash(encoded: str) -> str:
    """Validate the shape of a stored hash (for the config loader)."""
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM or not parts[1].isdigit():
        raise ValueError(
            "not a PIN hash; make one with `servicecycle kiosk hash-pin` "
            "(it looks like pbkdf2_sha256$200000$...$...)"
        )
    return encoded


class PinLocked(ServiceCycleError):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"too many wrong PINs; try again in {int(seconds) + 1} s")


class PinGuard:
    """Checks PINs against the stored hash, and locks after repeated wrong ones."""

    def __init__(self, encoded: str, clock: Callable[[], float] = time.monotonic) -> None:
        _, iterations, salt, digest = check_hash(encoded).split("$")
        self._iterations = int(iterations)
        self._salt = base64.urlsafe_b64decode(salt + "=" * (-len(salt) % 4))
        self._digest = base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4))
        self._clock = clock
        self.failures = 0
        self.locked_until = 0.0

    def check(self, pin: str) -> bool:
        """True for the right PIN; raises :class:`PinLocked` while locked."""
        now = self._clock()
        if now < self.locked_until:
            raise PinLocked(self.locked_until - now)
        candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), self._salt, self._iterations)
        if hmac.compare_digest(candidate, self._digest):
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= FREE_TRIES:
            wait = min(FIRST_LOCK * 2 ** (self.failures - FREE_TRIES), LONGEST_LOCK)
            self.locked_until = now + wait
        return False


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
