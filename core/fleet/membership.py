"""A kiosk's membership of a hub: what `servicecycle join` leaves in the data folder.

``hub.json`` (owner-only) holds the hub's address, this kiosk's site, name,
epoch and credential, and the address guests' phones reach the hub's survey
pages at. The hub's survey secret goes beside the kiosk's own
(``secrets/survey.key``), so the links the kiosk signs open on the hub.
A kiosk with this file ships its ratings and leaves notifying to the hub.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ServiceCycleError
from ..store.store import write_atomic
from ..tokens import SECRET_FILE
from .wire import JOIN_PATH, Unreachable, post

FILE = "hub.json"


@dataclass(frozen=True)
class Membership:
    hub: str
    site: str
    kiosk: str
    epoch: int
    credential: str
    survey_url: str
    joined: float

    @property
    def ship_url(self) -> str:
        from .wire import SHIP_PATH

        return self.hub + SHIP_PATH


def membership_path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE


def load_membership(data_dir: Path) -> Membership | None:
    """This kiosk's membership, or None for a kiosk on its own."""
    path = membership_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Membership(**{k: data[k] for k in Membership.__dataclass_fields__})
    except (FileNotFoundError, NotADirectoryError):  # no data folder yet: the store says why
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ServiceCycleError(
            f"{path} is not a hub membership ({exc}); join again with `servicecycle join`"
        ) from exc


def join(
    data_dir: Path, hub_url: str, code: str, *, site: str, kiosk: str, timeout: float = 30.0
) -> Membership:
    """Spend an enrolment code at the hub; keep the credential it gives, owner-only."""
    hub_url = hub_url.strip().rstrip("/")
    if not hub_url.startswith(("http://", "https://")):
        raise ServiceCycleError(f"hub address {hub_url!r} must start with https:// (or http://)")
    try:
        reply = post(
            hub_url + JOIN_PATH,
            {"code": code, "site": site, "kiosk": kiosk},
            timeout=timeout,
        )
    except Unreachable as exc:
        raise ServiceCycleError(f"cannot reach the hub at {hub_url}: {exc}") from exc
    if reply.status != 200:
        raise ServiceCycleError(f"the hub at {hub_url} refused the code: {reply.error}")
    body: dict[str, Any] = reply.body
    try:
        member = Membership(
            hub=hub_url,
            site=str(body["site"]),
            kiosk=str(body["kiosk"]),
            epoch=int(body["epoch"]),
            credential=str(body["credential"]),
            survey_url=str(body["survey_url"]),
            joined=time.time(),
        )
        secret = base64.b64decode(body["survey_secret"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ServiceCycleError(f"the hub at {hub_url} answered something else: {exc}") from exc
    data_dir = Path(data_dir)
    (data_dir / "secrets").mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(data_dir / "secrets" / SECRET_FILE, secret, mode=0o600)
    write_atomic(
        membership_path(data_dir),
        (json.dumps(asdict(member), indent=2) + "\n").encode(),
        mode=0o600,
    )
    return member
