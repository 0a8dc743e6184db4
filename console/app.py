"""The console's routes: sign in and out, the alerts page, acting on an alert.

Sessions live on the server (:class:`~servicecycle.core.SessionBook`); the
browser holds a random token in an ``HttpOnly``, ``SameSite=Strict`` cookie.
Every form carries the session's CSRF token, the sign-in form a token bound
to a nonce cookie. The page works without JavaScript; with it, a small
script of our own fetches the alert list every few seconds.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import servicecycle.reportcard as reportcard
from servicecycle.core import (
    SILENCE_CHOICES,
    AccessError,
    AlertDesk,
    Chain,
    FollowUpDesk,
    Forbidden,
    KioskDesk,
    ReportDesk,
    ReportQueryError,
    Runtime,
    ServiceCycleError,
    Session,
    SessionBook,
    UserBook,
    printable,
)
from servicecycle.survey.security import (
    Csrf,
    RateLimiter,
    SecurityHeadersMiddleware,
    read_body,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "sc_console"
LOGIN_NONCE = "sc_console_login"
#: Failed sign-ins per minute from one client address before it must wait (each name
#: is throttled too, by the user book, across processes).
LOGIN_FAILURES = 20
MAX_FORM = 16 * 1024
#: Alerts on one page of the list (firing first, newest first); the rest on the next pages.
ALERTS_PER_PAGE = 100


def create_console(runtime: Runtime, state_dir: Path, chain: Chain | None = None) -> Starlette:
    """The console for ``runtime``'s sites; users and sessions in ``state_dir``."""

    def moment_name(cycle_id: str, moment_id: str) -> str:
        cycle = runtime.catalogue.cycles.get(cycle_id)
        found = cycle.find_moment(moment_id) if cycle is not None else None
        return found[1].label("en", cycle.languages[0]) if found and cycle else moment_id

    chain = chain or Chain(runtime.config)
    users = UserBook(state_dir)
    sessions = SessionBook(state_dir)
    desk = AlertDesk(runtime, chain)
    kiosk_desk = KioskDesk(runtime, chain, state_dir)
    followup_desk = FollowUpDesk(runtime, chain)
    report_desk = ReportDesk(runtime, chain)
    # Sign-in forms made before a restart expire with it (they ask to sign in again).
    login_csrf = Csrf(secrets.token_bytes(32))
    failures = RateLimiter(LOGIN_FAILURES)
    blocked: dict[str, float] = {}  # client address -> monotonic time it may try again
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(HERE / "templates"),
                jinja2.PackageLoader("servicecycle.reportcard", "templates"),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["printable"] = printable
    env.globals["moment_name"] = moment_name
    reportcard.install(env)

    def page(request: Request, name: str, code: int = 200, **context: Any) -> Response:
        root = request.scope.get("root_path", "")
        html = env.get_template(name).render(
            root=root, static=lambda f: f"{root}/static/{f}", chain=chain, **context
        )
        return HTMLResponse(html, status_code=code)

    def secure(request: Request) -> bool:
        return request.url.scheme == "https"

    def cookie(
        request: Request, response: Response, name: str, value: str, max_age: int | None = None
    ) -> None:
        """A cookie for the console's path only, out of scripts' and other sites' reach."""
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=request.scope.get("root_path", "") or "/",
            httponly=True,
            samesite="strict",
            secure=secure(request),
        )

    def session_of(request: Request) -> Session | None:
        return sessions.find(request.cookies.get(SESSION_COOKIE))

    async def form_of(request: Request) -> dict[str, str]:
        raw = await read_body(request, MAX_FORM)
        try:
            parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            raise HTTPException(400, "the form is not readable") from None
        return {k: v[0] for k, v in parsed.items()}

    def to_login(request: Request) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/login", status_code=303)

    # -- signing in ------------------------------------------------------------------

    def login_page(request: Request, error: str = "", status: int = 200) -> Response:
        nonce = Csrf.nonce(request.cookies.get(LOGIN_NONCE))
        response = page(
            request, "login.html", status, error=error, csrf=login_csrf.field("login", nonce)
        )
        cookie(request, response, LOGIN_NONCE, nonce, max_age=3600)
        return response

    async def login(request: Request) -> Response:
        if request.method == "GET":
            if session_of(request) is not None:
                return RedirectResponse(f"{request.scope.get('root_path', '')}/", status_code=303)
            return login_page(request)
        client = request.client.host if request.client else "unknown"
        wait = blocked.get(client, 0.0) - time.monotonic()
        form = await form_of(request)
        if wait > 0:
            response = login_page(request, "Too many sign-in attempts; wait a minute.", 429)
            response.headers["Retry-After"] = str(max(1, round(wait)))
            return response
        if not login_csrf.check("login", request.cookies.get(LOGIN_NONCE), form.get("csrf")):
            return login_page(request, "The form expired; sign in again.", 403)
        try:
            user = users.verify(form.get("name", ""), form.get("password", ""))
        except AccessError as exc:
            log.warning("console sign-in refused from %s: %s", client, exc)
            if len(blocked) > 10_000:
                blocked.clear()
            if pause := failures.check(client):
                blocked[client] = time.monotonic() + pause
            status = 429 if exc.wait else 401
            return login_page(request, str(exc), status)
        log.info("console: %s signed in from %s", user.name, client)
        response = RedirectResponse(f"{request.scope.get('root_path', '')}/", status_code=303)
        cookie(request, response, SESSION_COOKIE, sessions.start(user))
        return response

    async def logout(request: Request) -> Response:
        session = session_of(request)
        form = await form_of(request)
        if session is not None:
            if not session.csrf_ok(form.get("csrf")):
                raise HTTPException(403, "the form expired; reload the page")
            sessions.end(request.cookies.get(SESSION_COOKIE))
        response = to_login(request)
        response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path", "") or "/")
        return response

    # -- alerts ------------------------------------------------------------------------

    def wanted_sites(request: Request) -> list[str] | None:
        """``?site=S`` as a choice of sites; the desks refuse one the user may not see."""
        site = request.query_params.get("site")
        return [site] if site else None

    def signed_in(request: Request) -> Session | Response:
        """The request's session, or the way to the sign-in page."""
        return session_of(request) or to_login(request)

    async def posted(request: Request) -> tuple[Session, dict[str, str]] | Response:
        """The session and its form, its CSRF token checked (403 when it is not its own)."""
        session = session_of(request)
        if session is None:
            return to_login(request)
        form = await form_of(request)
        if not session.csrf_ok(form.get("csrf")):
            raise HTTPException(403, "the form expired; reload the page")
        return session, form

    def listing(request: Request, template: str, session: Session, **items: Any) -> Response:
        """A page of one site or all the user's sites, with what every page shows."""
        return page(
            request,
            template,
            session=session,
            user=session.user,
            site=request.query_params.get("site") or None,
            visible=session.user.sites(chain),
            notice=request.query_params.get("done", ""),
            **items,
        )

    def unsigned() -> Response:
        return JSONResponse({"error": "sign in first"}, status_code=401)

    def done(request: Request, path: str, text: str) -> Response:
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}{path}?done={quote(text)}", status_code=303)

    async def alerts(request: Request) -> Response:
        session = signed_in(request)
        if not isinstance(session, Session):
            return session
        started = time.perf_counter()
        found = desk.alerts(session.user, wanted_sites(request))
        try:
            number = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            raise HTTPException(400, "page must be a whole number (1, 2, ...)") from None
        pages = max(1, -(-len(found) // ALERTS_PER_PAGE))
        number = min(number, pages)
        shown = found[(number - 1) * ALERTS_PER_PAGE : number * ALERTS_PER_PAGE]
        name = "alert_list.html" if request.query_params.get("part") == "list" else "alerts.html"
        response = listing(
            request,
            name,
            session,
            alerts=shown,
            total=len(found),
            firing=sum(1 for item in found if item.alert.state.value == "firing"),
            page_number=number,
            pages=pages,
            first=(number - 1) * ALERTS_PER_PAGE + 1,
            periods=list(SILENCE_CHOICES),
        )
        response.headers["Server-Timing"] = (
            f"alerts;dur={(time.perf_counter() - started) * 1000:.1f}"
        )
        return response

    async def kiosks(request: Request) -> Response:
        session = signed_in(request)
        if not isinstance(session, Session):
            return session
        found = kiosk_desk.kiosks(session.user, wanted_sites(request))
        return listing(request, "kiosks.html", session, kiosks=found, cycles=cycle_choices())

    def cycle_choices() -> list[tuple[str, str, list[tuple[str, str]]]]:
        """Every cycle with its moments, named, for the kiosk settings form."""
        return [
            (
                cycle.id,
                cycle.name.get("en") or cycle.id,
                [(m.id, m.label("en", cycle.languages[0])) for _, m in cycle.moments()],
            )
            for cycle in runtime.catalogue.cycles.values()
        ]

    async def kiosk_settings(request: Request) -> Response:
        got = await posted(request)
        if isinstance(got, Response):
            return got
        session, form = got
        site, kiosk = request.path_params["site"], request.path_params["kiosk"]
        moment = form.get("moment") or None
        cycle = form.get("cycle") or None
        if moment and "/" in moment:  # the form's choice is cycle/moment
            cycle, moment = moment.split("/", 1)
        entry = kiosk_desk.configure(
            session.user,
            kiosk,
            site=site,
            cycle=cycle,
            moment=moment,
            languages=form.get("languages") or None,
        )
        log.info("console: %s set %s/%s to %s", session.user.name, site, kiosk, entry.desired)
        version = entry.desired.version if entry.desired is not None else "?"
        return done(request, "/kiosks", f"{kiosk} at {site}: settings v{version} sent")

    async def followups(request: Request) -> Response:
        session = signed_in(request)
        if not isinstance(session, Session):
            return session
        found = followup_desk.followups(session.user, wanted_sites(request))
        return listing(request, "followups.html", session, followups=found)

    async def followup_step(request: Request) -> Response:
        got = await posted(request)
        if isinstance(got, Response):
            return got
        session, form = got
        site, answer = request.path_params["site"], request.path_params["answer"]
        if request.path_params["step"] == "erase":
            if form.get("confirm") != "yes":
                raise HTTPException(400, "tick the box to confirm the guest asked for it")
            erased = followup_desk.erase(session.user, site, answer)
            log.info("console: %s erased answer %s at %s", session.user.name, answer, site)
            fields = ", ".join(erased.erasure.fields) or "nothing left"
            return done(request, "/followups", f"answer {answer[:8]} erased ({fields})")
        step = followup_desk.step(session.user, site, answer, request.path_params["step"])
        log.info("console: %s %s follow-up %s at %s", session.user.name, step.state, answer, site)
        return done(request, "/followups", f"follow-up {step.state}")

    async def kiosks_json(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return unsigned()
        return JSONResponse(kiosk_desk.kiosks(session.user, wanted_sites(request)))

    async def alerts_json(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return unsigned()
        found = desk.alerts(session.user, wanted_sites(request))
        return JSONResponse([{"site": item.site, **item.alert.to_json()} for item in found])

    async def act(request: Request) -> Response:
        got = await posted(request)
        if isinstance(got, Response):
            return got
        session, form = got
        site, fingerprint = request.path_params["site"], request.path_params["alert"]
        action = request.path_params["action"]
        if action == "ack":
            alert = desk.acknowledge(session.user, site, fingerprint, form.get("note", ""))
            text = f"acknowledged {alert.short_id}"
        elif action == "silence":
            silence = desk.silence(
                session.user, site, fingerprint, form.get("period", ""), form.get("note", "")
            )
            text = f"silenced until {silence.ends_at:%Y-%m-%d %H:%M} UTC"
        else:
            raise HTTPException(404, "no such action")
        log.info("console: %s %s at %s", session.user.name, text, site)
        return done(request, "/", text)

    # -- the report card -------------------------------------------------------------

    def report_query(request: Request, session: Session) -> tuple[Any, Any, str, dict[str, str]]:
        """The scope, period and language a report page or download asks for."""
        user = session.user
        scopes = report_desk.scopes(user)
        if not user.can("reports") or not scopes:
            raise Forbidden(f"{user.name} ({user.role.value}) may not see reports")
        q = request.query_params
        chosen = {
            "scope": q.get("scope")
            or (f"site:{q['site']}" if q.get("site") else "")
            or f"{scopes[0].kind}{':' + scopes[0].id if scopes[0].id else ''}",
            "period": q.get("period") or "30d",
            "since": q.get("since", ""),
            "until": q.get("until", ""),
            "lang": q.get("lang") or "en",
        }
        if chosen["lang"] not in reportcard.languages():
            raise ReportQueryError(
                f"lang {chosen['lang']!r} is not a language reports are written in; "
                f"allowed: {', '.join(reportcard.languages())}"
            )
        scope = report_desk.scope(user, chosen["scope"])
        period = report_desk.period(scope, chosen["period"], chosen["since"], chosen["until"])
        return scope, period, chosen["lang"], chosen

    async def report(request: Request) -> Response:
        session = signed_in(request)
        if not isinstance(session, Session):
            return session
        scope, period, lang, chosen = report_query(request, session)
        started = time.perf_counter()
        built = report_desk.build(session.user, scope, period, lang)
        body = reportcard.context(built, lang, site_names=report_desk.site_names())
        response = page(
            request,
            "report.html",
            session=session,
            user=session.user,
            scopes=report_desk.scopes(session.user),
            chosen=chosen,
            query=request.url.query,
            languages=reportcard.languages(),
            periods=["7d", "30d", "90d", "365d", "this-month", "last-month", "this-year",
                     "last-year", "custom"],
            **body,
        )  # fmt: skip
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"report;dur={elapsed:.1f}"
        return response

    async def report_file(request: Request) -> Response:
        session = signed_in(request)
        if not isinstance(session, Session):
            return session
        fmt = request.path_params["fmt"]
        if fmt not in ("csv", "json", "html"):
            raise HTTPException(404, "reports download as csv, json or html")
        scope, period, lang, _ = report_query(request, session)
        built = report_desk.build(session.user, scope, period, lang)
        if fmt == "csv":
            text, media = report_desk.as_csv(built), "text/csv; charset=utf-8"
        elif fmt == "json":
            text, media = report_desk.as_json(built), "application/json"
        else:
            names = report_desk.site_names()
            text = reportcard.render_document(built, lang, site_names=names)
            media = "text/html; charset=utf-8"
        dates = period.label().replace(" – ", "_").replace(" ", "T").replace(":", "")
        name = f"report-{scope.id or chain.id}-{dates}.{fmt}"
        return Response(
            text,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def report_css(request: Request) -> Response:
        return Response(reportcard.CSS, media_type="text/css; charset=utf-8")

    # -- errors --------------------------------------------------------------------------

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "") or "error"
        return page(request, "message.html", status, status=status, message=str(detail))

    async def refused(request: Request, exc: Exception) -> Response:
        status = 403 if isinstance(exc, Forbidden) else 400
        return page(request, "message.html", status, status=status, message=str(exc))

    async def failed(request: Request, exc: Exception) -> Response:
        log.error("console request failed: %s: %s", type(exc).__name__, exc)
        return page(
            request, "message.html", 500, status=500, message="The console failed; it is logged."
        )

    return Starlette(
        routes=[
            Route("/", alerts, methods=["GET"]),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/api/alerts", alerts_json, methods=["GET"]),
            Route("/kiosks", kiosks, methods=["GET"]),
            Route("/followups", followups, methods=["GET"]),
            Route("/followups/{site}/{answer}/{step}", followup_step, methods=["POST"]),
            Route("/api/kiosks", kiosks_json, methods=["GET"]),
            Route("/kiosks/{site}/{kiosk}/settings", kiosk_settings, methods=["POST"]),
            Route("/alerts/{site}/{alert}/{action}", act, methods=["POST"]),
            Route("/report", report, methods=["GET"]),
            Route("/report/download.{fmt}", report_file, methods=["GET"]),
            Route("/static/report.css", report_css, methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(SecurityHeadersMiddleware, overrides=CONSOLE_HEADERS)],
        exception_handlers={
            HTTPException: http_error,
            ServiceCycleError: refused,
            Exception: failed,
        },
    )


#: Where the console's headers differ from the survey's: it runs its own script (and
#: nothing else's), and nothing it serves is cached.
CONSOLE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "Cache-Control": "no-store",
}
