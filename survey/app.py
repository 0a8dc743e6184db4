"""The survey web app: Starlette routes, middleware and error pages, built by one factory.

``create_app(runtime)`` returns a plain ASGI application, so any ASGI server
can run it; ``servicecycle survey serve`` runs it with uvicorn (see
:func:`serve`), alone or behind a reverse proxy.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from servicecycle.core import Runtime, SurveyTokens

from .pages import SurveyPages
from .security import (
    MAX_BODY,
    AccessLogMiddleware,
    Csrf,
    RateLimiter,
    RateLimitMiddleware,
    SecurityHeadersMiddleware,
    with_security_headers,
)
from .strings import DEFAULT_LANGUAGE, Strings, accepted_languages

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
#: Requests per minute per client address, by default.
DEFAULT_RATE_LIMIT = 30
#: What each HTTP error the framework raises is shown as.
_HTTP_KINDS = {404: "not_found", 413: "too_large"}


def create_app(
    runtime: Runtime,
    *,
    rate_limit: int | None = DEFAULT_RATE_LIMIT,
    strings: Strings | None = None,
    max_body: int = MAX_BODY,
) -> Starlette:
    """The survey app for one site.

    ``rate_limit`` is requests per minute per client address (``None`` or 0
    turns it off, e.g. when the reverse proxy limits instead). The survey
    secret in the data folder signs both the links and the forms' CSRF
    tokens, so the kiosk, this app and its restarts all agree.
    """
    tokens = SurveyTokens.for_data_dir(runtime.data_dir)
    _ = runtime.site_store  # open it now: the lazy opening is not thread-safe
    templates = Jinja2Templates(
        env=jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
    )
    pages = SurveyPages(
        runtime,
        tokens,
        Csrf(tokens.derived_key("csrf")),
        strings or Strings.load(),
        templates,
        max_body=max_body,
    )

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        kind = _HTTP_KINDS.get(status, "bad_request" if status < 500 else "error")
        response = pages.message(request, kind, status, _browser_languages(request))
        allow = (getattr(exc, "headers", None) or {}).get("Allow")
        if allow:  # a 405 says which methods the page takes
            response.headers["Allow"] = allow
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        """Never a traceback: the detail goes to the server log, the customer gets a page."""
        log.error("survey page failed: %s: %s", type(exc).__name__, exc)
        try:
            response = pages.message(request, "error", 500, _browser_languages(request))
        except Exception:  # the page itself failed: fall back to plain text
            response = PlainTextResponse("Internal Server Error", status_code=500)
        # This handler runs outside the middleware stack: add the headers here.
        with_security_headers(response.headers, request.url.path)
        return response

    async def rate_limited(request: Request, seconds: int) -> Response:
        return pages.message(request, "rate", 429, _browser_languages(request), seconds=seconds)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    limiter = RateLimiter(rate_limit) if rate_limit else None
    app = Starlette(
        debug=False,
        routes=[
            Route("/s/{token}", pages.survey, methods=["GET", "POST"], name="survey"),
            Route("/s/{token}/thanks", pages.thanks, methods=["GET"], name="thanks"),
            Route("/healthz", health, methods=["GET"], name="health"),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(SecurityHeadersMiddleware),
            Middleware(RateLimitMiddleware, limiter=limiter, reject=rate_limited),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.state.pages = pages
    app.state.limiter = limiter
    return app


def _browser_languages(request: Request) -> list[str]:
    return [*accepted_languages(request.headers.get("accept-language")), DEFAULT_LANGUAGE]
