"""HTTP between a kiosk and its hub: JSON over one POST, with the kiosk's clock on it.

The standard library's client is enough here (one request at a time, from a
background thread) and keeps core free of web frameworks. Every failure comes
back as a :class:`Reply` or a :class:`Unreachable`, so the caller decides
between retrying, setting aside and giving up, never a traceback.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any

#: The header a kiosk puts its own clock in (UNIX seconds), so the hub can measure its offset.
SENT_AT = "X-Servicecycle-Sent-At"
#: Paths of the hub's kiosk API.
JOIN_PATH = "/api/v1/join"
SHIP_PATH = "/api/v1/ship"


class Unreachable(Exception):
    """The hub did not answer: no route, refused, timed out, TLS failed."""


@dataclass
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    #: The hub's own time for the request (its ``Server-Timing`` header), in ms.
    server_ms: float | None = None

    @property
    def error(self) -> str:
        return str(self.body.get("error") or f"HTTP {self.status}")


def post(
    url: str,
    body: dict[str, Any],
    *,
    credential: str | None = None,
    timeout: float = 30.0,
    context: ssl.SSLContext | None = None,
    sent_at: float | None = None,
) -> Reply:
    """POST ``body`` as JSON; the reply's status and JSON body (or :class:`Unreachable`)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        SENT_AT: f"{time.time() if sent_at is None else sent_at:.3f}",
    }
    if credential:
        headers["Authorization"] = f"Bearer {credential}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return Reply(
                response.status,
                _json(response.read()),
                server_ms=_server_ms(response.headers.get("Server-Timing")),
            )
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(
                exc.code,
                _json(exc.read()),
                _retry_after(exc.headers.get("Retry-After")),
                _server_ms(exc.headers.get("Server-Timing")),
            )
    except (TimeoutError, urllib.error.URLError, OSError, ValueError, HTTPException) as exc:
        # HTTPException: the hub died mid-reply (IncompleteRead, RemoteDisconnected).
        reason = getattr(exc, "reason", exc)
        raise Unreachable(str(reason) or type(exc).__name__) from exc


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"error": raw[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"value": value}


def _server_ms(value: str | None) -> float | None:
    """The first ``dur`` of a Server-Timing header (``ship;dur=12.5``)."""
    match = re.search(r"dur=([0-9.]+)", value or "")
    try:
        return float(match.group(1)) if match else None
    except ValueError:
        return None


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
