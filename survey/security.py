"""The survey server's defences: headers, CSRF, body limits, rate limits, quiet logs.

The page is public (a phone anywhere can open it) and runs next to patient
or bank-customer data, so every response is locked down by default: no
script at all, no framing, no referrer (the token is in the URL), nothing
cached, and no detail of the server in any error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicecycle.core import MAX_COMMENT, MAX_CONTACT

log = logging.getLogger(__name__)
access_log = logging.getLogger("servicecycle.survey.access")

#: The largest request body accepted: a full comment and contact of 4-byte characters
#: (emoji), each percent-encoded to 12 bytes, plus 8 KiB for the stages and the form's
#: own fields. Limits on text are in characters, as documented; this only bounds bytes.
MAX_BODY = (MAX_COMMENT + MAX_CONTACT) * 12 + 8 * 1024

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
        "interest-cohort=(), browsing-topics=()"
    ),
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: Survey pages carry a token and personal answers: never kept by any cache.
NO_STORE = "no-store"
#: Stylesheet and face pictures: the same for everybody.
STATIC_CACHE = "public, max-age=86400"


def is_static(path: str) -> bool:
    return path.startswith("/static/")


def with_security_headers(headers: MutableHeaders, path: str) -> None:
    """Set the security headers (and the cache policy for ``path``) on a response."""
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    headers["Cache-Control"] = STATIC_CACHE if is_static(path) else NO_STORE
    if "server" in headers:
        del headers["server"]


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` and the cache policy to every response.

    ``overrides``: headers another app of ours sets differently (the console
    runs its own script, so its content security policy allows it).
    """

    def __init__(self, app: ASGIApp, overrides: dict[str, str] | None = None) -> None:
        self.app = app
        self.overrides = overrides or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                with_security_headers(headers, scope.get("path", ""))
                for name, value in self.overrides.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- CSRF -------------------------------------------------------------------

CSRF_COOKIE = "sc_csrf"
CSRF_FIELD = "csrf"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22}$")


class Csrf:
    """Per-page form tokens: ``HMAC(key, survey token, browser nonce)``.

    The nonce sits in a ``SameSite=Strict``, ``HttpOnly`` cookie; the hidden
    form field carries the MAC. A cross-site form post gets no cookie, and a
    field copied from another survey or another browser does not verify. The
    key is derived from the site's survey secret, so every worker process and
    a restarted server accept the pages the others served.
    """

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"servicecycle-survey-csrf", hashlib.sha256).digest()

    @staticmethod
    def nonce(existing: str | None) -> str:
        """The browser's nonce: kept if well-formed (several tabs stay valid), else new."""
        if existing and _NONCE.match(existing):
            return existing
        return secrets.token_urlsafe(16)

    def field(self, survey_token: str, nonce: str) -> str:
        mac = hmac.new(self._key, f"{survey_token}\x00{nonce}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def check(self, survey_token: str, nonce: str | None, field: str | None) -> bool:
        if not nonce or not field or not _NONCE.match(nonce) or len(field) > 100:
            return False
        # bytes, not str: compare_digest refuses non-ASCII text (a forged field may hold any)
        return hmac.compare_digest(self.field(survey_token, nonce).encode(), field.encode())

    @staticmethod
    def set_cookie(response: Response, request: Request, nonce: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            max_age=24 * 3600,
            path=str(request.scope.get("app_root_path", request.scope.get("root_path", ""))) or "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


# -- request bodies -------------------------------------------------------------


class PayloadTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, "payload too large")


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before reading;
    a chunked or lying body is cut off as it streams, so memory stays bounded.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "bad content-length")
        if int(declared) > limit:
            raise PayloadTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge()
    return bytes(body)


# -- rate limiting ----------------------------------------------------------------


class RateLimiter:
    """A token bucket per client address: ``per_minute`` requests, refilled evenly.

    In memory, per process: enough for one site's survey server. Memory stays
    bounded: beyond ``max_clients`` addresses the least recently seen go first.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.rate = per_minute / 60.0
        self.capacity = float(burst or per_minute)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str) -> float:
        """0 when ``client`` may go ahead (a token is taken), else seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait


class RateLimitMiddleware:
    """Refuses a client over its rate with 429 and ``Retry-After`` (static files are free)."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter | None,
        reject: Callable[[Request, int], Awaitable[Response]],
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limiter is None or is_static(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limiter.check(client[0] if client else "unknown")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        log.info("rate limit: %s must wait %d s", client[0] if client else "unknown", seconds)
        response = await self.reject(Request(scope, receive), seconds)
        response.headers["Retry-After"] = str(seconds)
        await response(scope, receive, send)


# -- logging ----------------------------------------------------------------------

_TOKEN_PATH = re.compile(r"(/s/)([^/?#]{4})[^/?#]*")


def redact(path: str) -> str:
    """A path fit for a log: a survey token is cut to its first 4 characters."""
    return _TOKEN_PATH.sub(r"\1\2…", path)


@dataclass
class AccessLogMiddleware:
    """One log line per request, without the token (a live credential) in it.

    Replaces uvicorn's access log, which would write every token in full.
    """

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            client = scope.get("client")
            access_log.info(
                '%s "%s %s" %d %.0fms',
                client[0] if client else "-",
                scope.get("method", "-"),
                redact(scope.get("path", "")),
                status,
                (time.perf_counter() - started) * 1000,
            )
