"""The hub's ASGI app: ``/api/v1/join`` and ``/api/v1/ship`` for kiosks, the survey pages for guests.

Every refusal is a JSON ``{"error": ...}`` with a status a kiosk acts on:
400 malformed, 401 unknown credential, 403 revoked, 409 a code for another
kiosk, 413 too large, 429 too fast (with Retry-After), 503 the store is down
(with Retry-After). No traceback ever leaves the hub.
"""

from __future__ import annotations

import json
import logging
import math
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from servicecycle.console import create_console
from servicecycle.core import Hub
from servicecycle.survey import create_app as create_survey_app
from servicecycle.survey.security import RateLimiter

log = logging.getLogger(__name__)

#: The header a kiosk puts its own clock in (UNIX seconds).
SENT_AT = "x-servicecycle-sent-at"
#: Join attempts per minute per client address (codes are not for guessing).
JOIN_RATE = 30


class TooLarge(Exception):
    pass


def error(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


#: Bytes of a too-large body read (and dropped) so the sender hears the 413 at all.
DRAIN = 64_000_000


async def read_json(request: Request, limit: int) -> object:
    """The request's JSON body; :class:`TooLarge` past ``limit`` bytes, which are never kept.

    The rest of a too-large body is read and dropped (up to :data:`DRAIN`):
    a client still sending when the answer comes sees a broken pipe, not
    the 413 that tells it to send less.
    """
    body = bytearray()
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen <= limit:
            body += chunk
        elif seen > DRAIN:
            break
    if seen > limit:
        raise TooLarge
    return json.loads(body)


def create_app(
    hub: Hub, *, survey: bool = True, console: bool = True, survey_rate_limit: int | None = 30
) -> Starlette:
    """The hub for ``hub``: its kiosk API, the console at ``/console`` and the survey pages."""
    settings = hub.settings
    per_kiosk = RateLimiter(settings.rate_limit, burst=max(10, settings.rate_limit // 6))
    joins = RateLimiter(JOIN_RATE)

    async def body_of(request: Request) -> object | Response:
        if "json" not in request.headers.get("content-type", ""):
            return error(415, "send the body as application/json")
        try:
            return await read_json(request, settings.max_body)
        except TooLarge:
            return error(413, f"request body over {settings.max_body} bytes; send smaller batches")
        except (ValueError, UnicodeDecodeError) as exc:
            return error(400, f"the body is not JSON: {exc}")

    async def join(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        wait = joins.check(client)
        if wait:
            return error(429, "too many enrolment attempts; wait and try again", wait)
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        answer = await run_in_threadpool(hub.join, body)
        return JSONResponse(answer.body, status_code=answer.status)

    async def ship(request: Request) -> Response:
        began = time.perf_counter()
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return error(401, "send the kiosk's credential as 'Authorization: Bearer ...'")
        credential = credential.strip()
        wait = per_kiosk.check(credential[-16:])
        if wait:
            return error(429, "too many requests from this kiosk; slow down", wait)
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        sent = request.headers.get(SENT_AT)
        try:
            sent_at = float(sent) if sent else None
            if sent_at is not None and not math.isfinite(sent_at):
                sent_at = None
        except ValueError:
            sent_at = None
        answer = await run_in_threadpool(hub.ship, credential, body, sent_at)
        response = JSONResponse(answer.body, status_code=answer.status)
        # The hub's own time, body read and queueing included: what a slow reply cost here.
        took = (time.perf_counter() - began) * 1000
        response.headers["Server-Timing"] = f"ship;dur={took:.1f}"
        if answer.retry_after:
            response.headers["Retry-After"] = str(answer.retry_after)
        return response

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "sites": len(hub.chain.sites)})

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, "no such page on this hub")

    async def failed(request: Request, exc: Exception) -> Response:
        log.error("hub request failed: %s: %s", type(exc).__name__, exc)
        return error(500, "the hub failed on this request; it is logged")

    routes: list[Route | Mount] = [
        Route("/api/v1/join", join, methods=["POST"]),
        Route("/api/v1/ship", ship, methods=["POST"]),
        Route("/api/v1/health", health, methods=["GET"]),
    ]
    if console:
        routes.append(Mount("/console", app=create_console(hub.runtime, hub.state_dir, hub.chain)))
    if survey:
        routes.append(Mount("/", app=create_survey_app(hub.runtime, rate_limit=survey_rate_limit)))
    return Starlette(
        debug=False,
        routes=routes,
        exception_handlers={404: not_found, Exception: failed},
    )
