"""What a site's configuration leaves undone before a real kiosk goes into a real lobby.

None of these stop anything: a kiosk with a loopback survey address still
records every tap. They are what `config check` warns about, what the kiosk
logs at start and shows staff in the PIN menu, so the gap is seen on day one
rather than found by a guest whose phone cannot open the QR code.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .alerting.config import DEFAULT_RECEIVER
from .config import Config

if TYPE_CHECKING:
    from .plugins import PluginHost

#: Host names that always mean "this machine" — the guest's phone, once scanned.
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


@dataclass(frozen=True)
class SiteWarning:
    """One thing to fix before guests and staff rely on the kiosk."""

    key: str  # the configuration key to change, e.g. "survey.url"
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def unreachable_host(url: str) -> str | None:
    """The host of ``url`` if a guest's phone cannot reach it (loopback, unspecified,
    link-local, ``*.localhost``), else ``None``.

    Private addresses (``192.168.x.y``) are fine: that is the guest Wi-Fi case.
    """
    try:
        host = urlsplit(url.replace("{", "").replace("}", "")).hostname
    except ValueError:
        return None
    if not host:
        return None
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return host
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified or address.is_link_local:
        return host
    return None


def survey_link_warning(config: Config) -> SiteWarning | None:
    """A warning when the QR code's address points at the guest's own phone."""
    host = unreachable_host(config.survey.url)
    if host is None:
        return None
    return SiteWarning(
        "survey.url",
        f"the QR code points at {host} ({config.survey.url}), which on a guest's phone is "
        "the phone itself: set [survey] url to the survey server's address on the guest "
        "Wi-Fi (e.g. http://192.168.1.20:8765/s/{token}) or to a public name behind a "
        "reverse proxy (see docs/survey.md)",
    )


def receiver_warning(config: Config) -> SiteWarning | None:
    """A warning when firing alerts reach only the log file and the PIN menu."""
    if any(name != DEFAULT_RECEIVER for name in config.notify.receivers):
        return None
    return SiteWarning(
        "notify.receivers",
        "no receiver is set, so a firing alert reaches only the log and the kiosk's staff "
        "menu: add an e-mail or webhook receiver under [notify.receivers] "
        "(see docs/notifications.md)",
    )


def readiness_warnings(
    config: Config, plugins: PluginHost | None = None, *, in_fleet: bool = False
) -> list[SiteWarning]:
    """Every warning for ``config``, in the order staff should fix them.

    With ``plugins``, a plugin that makes the survey links (``survey_url``) makes
    the address in ``[survey] url`` moot, and it is not warned about; so does a
    hub's ``[hub] public_url``. A kiosk joined to a hub (``in_fleet``) neither
    makes its links nor notifies: both are the hub's, and its configuration's.
    """
    if in_fleet:
        return []
    links_elsewhere = config.hub.public_url is not None or (
        plugins is not None and any("survey_url" in info.hooks for info in plugins.infos.values())
    )
    found = (
        None if links_elsewhere else survey_link_warning(config),
        receiver_warning(config),
    )
    return [warning for warning in found if warning is not None]
