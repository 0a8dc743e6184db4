"""The ``apprise`` notifier: one message to many services (Telegram, Teams, ntfy, ...).

Apprise is optional (``pip install 'servicecycle[apprise]'``) and imported only
when a receiver of this type is built. Apprise reports one yes/no for all its
URLs and logs the details itself (logger ``apprise``), so a failed delivery is
treated as worth retrying.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from .notification import FIRING, DeliveryError, Notification
from .render import DEFAULT_SUBJECT, body, check_template, subject
from .strict import StrictModel

INSTALL_HINT = "the apprise package is not installed: pip install 'servicecycle[apprise]'"


class AppriseSettings(StrictModel):
    urls: tuple[str, ...] = Field(min_length=1)
    title: Annotated[str, AfterValidator(check_template)] = DEFAULT_SUBJECT


class AppriseNotifier:
    def __init__(self, name: str, settings: AppriseSettings, zone: tzinfo | None) -> None:
        import apprise

        self.name = name
        self.settings = settings
        self._zone = zone
        self._apprise = apprise
        self._client = apprise.Apprise()
        for index, url in enumerate(settings.urls):
            if not self._client.add(url):
                scheme = urlsplit(url).scheme or "?"
                raise ValueError(
                    f"urls[{index}] (scheme {scheme!r}): apprise does not understand this URL"
                )

    def send(self, notification: Notification) -> None:
        kind = self._apprise.NotifyType
        ok = self._client.notify(
            title=subject(self.settings.title, notification),
            body=body(notification, self._zone),
            notify_type=kind.FAILURE if notification.status == FIRING else kind.SUCCESS,
        )
        if not ok:
            raise DeliveryError(
                "apprise could not deliver to at least one of its URLs (see the 'apprise' log)",
                retryable=True,
            )


def apprise_factory(name: str, timezone: tzinfo | None = None, **settings: Any) -> AppriseNotifier:
    options = AppriseSettings.model_validate(settings)
    try:
        import apprise  # noqa: F401
    except ImportError:
        raise ValueError(INSTALL_HINT) from None
    return AppriseNotifier(name, options, timezone)
