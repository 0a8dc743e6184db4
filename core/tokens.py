"""Signed survey tokens: the link from a QR code back to exactly one rating.

A token carries the rating id and an expiry, signed with HMAC-SHA256 under a
per-site secret that is created on first use and readable by its owner only.
It cannot be guessed or altered, names one rating, and stops working when it
expires; the survey page makes it single-use by accepting one answer per rating.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ServiceCycleError

SECRET_FILE = "survey.key"
DEFAULT_TTL = 7 * 24 * 3600  # a week to answer a follow-up survey
_SIGNATURE = 16  # bytes of HMAC kept: 128 bits
#: id (16 bytes) + expiry (4) + signature, in unpadded URL-safe base64: 48 characters.
TOKEN_LENGTH = -(-(16 + 4 + _SIGNATURE) * 4 // 3)
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}")


class TokenError(ServiceCycleError):
    """A token that is malformed, forged, tampered with, or expired."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind  # "malformed" | "forged" | "expired"
        super().__init__(message)


@dataclass(frozen=True)
class TokenClaims:
    rating_id: str
    expires: int  # unix seconds


class SurveyTokens:
    """Issue and verify tokens with this site's secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ServiceCycleError("the survey secret must be at least 32 bytes")
        self._secret = secret

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> SurveyTokens:
        return cls(load_or_create_secret(Path(data_dir) / "secrets" / SECRET_FILE))

    def issue(self, rating_id: str, ttl: int = DEFAULT_TTL, now: float | None = None) -> str:
        try:
            raw_id = bytes.fromhex(rating_id)
        except ValueError:
            raise ServiceCycleError(f"rating id {rating_id!r} is not hexadecimal") from None
        if len(raw_id) != 16:
            raise ServiceCycleError(f"rating id {rating_id!r} is not 32 hex digits")
        expires = int((now if now is not None else time.time()) + ttl)
        body = raw_id + struct.pack(">I", expires)
        return _b64(body + self._sign(body))

    def verify(self, token: str, now: float | None = None) -> TokenClaims:
        """The claims of a valid token; :class:`TokenError` says why any other is refused.

        A token is exactly the characters :meth:`issue` writes: Python's base64
        decoder would skip others (a stray ``.`` or ``!!``), so they are refused first.
        """
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise TokenError("malformed", "this link is not a survey link")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body, signature = raw[:20], raw[20:]
        if not hmac.compare_digest(signature, self._sign(body)):
            raise TokenError("forged", "this survey link is not valid")
        (expires,) = struct.unpack(">I", body[16:])
        if (now if now is not None else time.time()) > expires:
            raise TokenError("expired", "this survey link has expired")
        return TokenClaims(body[:16].hex(), expires)

    def derived_key(self, purpose: str) -> bytes:
        """A key for another use (form CSRF tokens...), derived so the secret is never reused as is."""
        return hmac.new(
            self._secret, b"servicecycle-key\x00" + purpose.encode(), hashlib.sha256
        ).digest()

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, b"servicecycle-survey\x00" + body, hashlib.sha256).digest()[
            :_SIGNATURE
        ]


def load_or_create_secret(path: Path) -> bytes:
    """Read the site secret, creating it (owner-only) on first use."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        secret = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it meanwhile
            return load_or_create_secret(path)
        try:
            os.write(fd, secret)
            os.fsync(fd)
        finally:
            os.close(fd)
        return secret
    except OSError as exc:
        raise ServiceCycleError(f"cannot read the survey secret {path}: {exc.strerror}") from exc
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ServiceCycleError(
            f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
        )
    if len(data) < 32:
        raise ServiceCycleError(f"{path} is shorter than 32 bytes: not a survey secret")
    return data


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
