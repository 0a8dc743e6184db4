"""The ``webhook`` notifier: the Alertmanager-style JSON payload, POSTed to a URL.

Built on the standard library's ``urllib``: one small POST every few minutes
needs no connection pool nor async client, and a kiosk image stays free of an
HTTP stack to patch. ``send`` makes one attempt and classifies the failure so
the dispatcher knows whether to try again: timeouts, connection errors, 5xx and
429 may pass (429 and 503 carry ``Retry-After``, which is honoured); any other
4xx, a redirect, or a TLS certificate problem will not, and is not retried.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from ..duration import PositiveDuration
from ..text import shown
from .notification import DeliveryError, Notification
from .strict import StrictModel

#: Headers the notifier sets itself; configuring them is refused.
RESERVED_HEADERS = ("content-type", "idempotency-key", "content-length")
USER_AGENT = "servicecycle-notifier/1"


class WebhookSettings(StrictModel):
    url: str
    timeout: PositiveDuration = timedelta(seconds=5)
    headers: dict[str, str] = Field(default_factory=dict)
    #: PEM file of the certificate authority for an internal https endpoint.
    ca_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the URL must start with http:// or https://")
        return value

    @field_validator("headers")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(
                    f"header {shown(name)} is set by servicecycle and cannot be configured"
                )
            if (
                not name
                or any(c in name for c in ":\r\n ")
                or any(c in v for v in value.values() for c in "\r\n")
            ):
                raise ValueError(
                    f"header {shown(name)}: names without ':' or spaces, one-line values"
                )
        return value


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A POST that gets redirected is a wrong URL: say so instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` if absent or odd."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class WebhookNotifier:
    def __init__(self, name: str, settings: WebhookSettings) -> None:
        self.name = name
        self.settings = settings
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        self._opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=context)
        )

    def send(self, notification: Notification) -> None:
        url = self.settings.url
        body = json.dumps(notification.payload(), ensure_ascii=False, default=str).encode()
        headers = {
            "User-Agent": USER_AGENT,
            **self.settings.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": notification.idempotency_key,
        }
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        timeout = self.settings.timeout.total_seconds()
        try:
            with self._opener.open(request, timeout=timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise _http_failure(url, exc) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise DeliveryError(
                    f"{url}: TLS certificate not trusted ({reason.verify_message}); "
                    "set ca_file to the certificate authority's PEM file",
                    retryable=False,
                ) from None
            if isinstance(reason, TimeoutError):
                raise DeliveryError(
                    f"{url}: no answer within {timeout:g}s", retryable=True
                ) from None
            raise DeliveryError(f"{url}: cannot connect ({reason})", retryable=True) from None
        except TimeoutError:
            raise DeliveryError(f"{url}: no answer within {timeout:g}s", retryable=True) from None
        except (ConnectionError, OSError) as exc:
            raise DeliveryError(f"{url}: connection failed ({exc})", retryable=True) from None


def _http_failure(url: str, exc: urllib.error.HTTPError) -> DeliveryError:
    status = exc.code
    try:
        detail = exc.read(300).decode("utf-8", "replace").strip()
    except (OSError, AttributeError):
        detail = ""
    detail = f": {detail}" if detail else ""
    if status == 429 or status >= 500:
        retry_after = retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
        return DeliveryError(
            f"{url} answered {status} {exc.reason}{detail}", retryable=True, retry_after=retry_after
        )
    if 300 <= status < 400:
        where = exc.headers.get("Location", "?") if exc.headers else "?"
        return DeliveryError(
            f"{url} answered {status} (redirect to {where}); set url to the final address",
            retryable=False,
        )
    return DeliveryError(
        f"{url} answered {status} {exc.reason}{detail}; not retried: fix the receiver "
        "or its settings",
        retryable=False,
    )


def webhook_factory(name: str, **settings: object) -> WebhookNotifier:
    return WebhookNotifier(name, WebhookSettings.model_validate(settings))
