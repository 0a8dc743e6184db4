"""The survey's pages: show the form for a token, take the answer, say how it went.

No business logic lives here: tokens are checked by core's
:class:`~servicecycle.core.SurveyTokens`, answers are validated and stored by
:func:`servicecycle.core.answers.record_answer`. This module turns their
outcomes into pages with the right status codes, in one language each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from servicecycle.core import (
    MAX_COMMENT,
    MAX_CONTACT,
    AlreadyAnswered,
    AnswerError,
    Cycle,
    Rating,
    Runtime,
    SurveyTokens,
    TokenError,
    find_answer,
    record_answer,
)

from .forms import AnswerForm, FormError, parse_answer_form
from .security import CSRF_COOKIE, MAX_BODY, Csrf, PayloadTooLarge, read_body
from .strings import DEFAULT_LANGUAGE, PageTexts, Strings, accepted_languages

log = logging.getLogger(__name__)

#: HTTP status for each way a survey link can fail.
TOKEN_STATUS = {"malformed": 400, "forged": 403, "expired": 410}
#: Which texts (``<kind>_title``, ``<kind>_body``) and face each message page shows.
MESSAGE_FACE = {
    "thanks": 5,
    "answered": 4,
    "expired": 3,
    "invalid": 2,
    "unknown": 2,
    "not_found": 3,
    "csrf": 2,
    "too_large": 2,
    "bad_request": 2,
    "rate": 3,
    "error": 2,
}
FORM_KEYS = (
    "page_title",
    "intro",
    "skip",
    "comment_label",
    "comment_hint",
    "contact_legend",
    "contact_consent",
    "contact_label",
    "contact_hint",
    "submit",
    "privacy_note",
)
#: Which face pictures (and ``face_<n>`` labels) each scale shows, worst first.
FACES = {5: (1, 2, 3, 4, 5), 4: (1, 2, 4, 5)}
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class Problem(Exception):
    """A request the page answers with a message instead of the form."""

    def __init__(
        self, status: int, kind: str, languages: Sequence[str] = (), link: str | None = None
    ) -> None:
        self.status = status
        self.kind = kind
        self.languages = list(languages)
        self.link = link
        super().__init__(kind)


@dataclass(frozen=True)
class Survey:
    """A verified survey link: its token, the kiosk rating it follows up, that rating's cycle."""

    token: str
    rating: Rating
    cycle: Cycle

    @property
    def languages(self) -> list[str]:
        """The customer's kiosk language first; the cycle's first language as the fallback."""
        return [self.rating.language, self.cycle.languages[0], DEFAULT_LANGUAGE]


class SurveyPages:
    """The request handlers, bound to one site's runtime."""

    def __init__(
        self,
        runtime: Runtime,
        tokens: SurveyTokens,
        csrf: Csrf,
        strings: Strings,
        templates: Jinja2Templates,
        *,
        max_body: int = MAX_BODY,
    ) -> None:
        self.runtime = runtime
        self.tokens = tokens
        self.csrf = csrf
        self.strings = strings
        self.templates = templates
        self.max_body = max_body

    # -- routes ------------------------------------------------------------------

    async def survey(self, request: Request) -> Response:
        """``GET`` shows the form, ``POST`` takes the answer."""
        token = request.path_params["token"]
        try:
            survey = await run_in_threadpool(self.load, token, request)
            if request.method == "POST":
                return await self.submit(request, survey)
            nonce = Csrf.nonce(request.cookies.get(CSRF_COOKIE))
            return self.form(request, survey, nonce)
        except Problem as problem:
            return self.problem(request, problem)

    async def thanks(self, request: Request) -> Response:
        """Where a successful answer lands (post/redirect/get: a reload sends nothing twice)."""
        token = request.path_params["token"]
        try:
            survey = await run_in_threadpool(self.load, token, request, False)
        except Problem as problem:
            return self.problem(request, problem)
        if await run_in_threadpool(find_answer, self.runtime.site_store, survey.rating) is None:
            return RedirectResponse(self.survey_path(request, token), status_code=303)
        return self.message(request, "thanks", 200, survey.languages)

    # -- the steps -----------------------------------------------------------------

    def load(self, token: str, request: Request, refuse_answered: bool = True) -> Survey:
        """Verify the token and find its rating (blocking: runs in a worker thread)."""
        browser = [*accepted_languages(request.headers.get("accept-language")), DEFAULT_LANGUAGE]
        if len(token) > 100:
            raise Problem(400, "invalid", browser)
        try:
            claims = self.tokens.verify(token)
        except TokenError as exc:
            kind = "expired" if exc.kind == "expired" else "invalid"
            raise Problem(TOKEN_STATUS.get(exc.kind, 400), kind, browser) from None
        rating = self.runtime.site_store.ratings.get(claims.rating_id)
        if rating is None:
            log.warning("survey link for rating %s, which is not in the store", claims.rating_id)
            raise Problem(404, "unknown", browser)
        cycle = self.runtime.catalogue.cycles.get(rating.cycle)
        if cycle is None:
            log.warning("survey for rating %s: cycle %r is not loaded", rating.id, rating.cycle)
            raise Problem(404, "unknown", browser)
        survey = Survey(token, rating, cycle)
        if refuse_answered and find_answer(self.runtime.site_store, rating) is not None:
            raise Problem(409, "answered", survey.languages)
        return survey

    async def submit(self, request: Request, survey: Survey) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM_CONTENT_TYPE:
            raise Problem(415, "bad_request", survey.languages, self.survey_path(request))
        try:
            body = await read_body(request, self.max_body)
        except PayloadTooLarge:
            raise Problem(413, "too_large", survey.languages, self.survey_path(request)) from None
        except HTTPException:
            raise Problem(400, "bad_request", survey.languages) from None
        try:
            form = parse_answer_form(body, [s.id for s in survey.cycle.stages], survey.rating.scale)
        except FormError as exc:
            log.info("survey form refused (%d): %s", exc.status, exc.reason)
            kind = "too_large" if exc.status == 413 else "bad_request"
            raise Problem(exc.status, kind, survey.languages, self.survey_path(request)) from None
        nonce = request.cookies.get(CSRF_COOKIE)
        if not self.csrf.check(survey.token, nonce, form.csrf):
            log.info("survey form refused: CSRF token missing or wrong")
            raise Problem(403, "csrf", survey.languages, self.survey_path(request))
        try:
            await run_in_threadpool(
                record_answer,
                self.runtime,
                survey.rating,
                form.stage_scores,
                form.comment,
                form.contact,
                contact_consent=form.consent,
            )
        except AlreadyAnswered:
            raise Problem(409, "answered", survey.languages) from None
        except AnswerError as exc:
            log.info("survey answer refused: field %s", exc.field)  # not the value: personal data
            return self.form(request, survey, nonce or "", form, [_error_key(exc)], 422)
        return RedirectResponse(self.thanks_path(request, survey.token), status_code=303)

    # -- pages -------------------------------------------------------------------

    def form(
        self,
        request: Request,
        survey: Survey,
        nonce: str,
        values: AnswerForm | None = None,
        errors: Sequence[str] = (),
        status: int = 200,
    ) -> Response:
        values = values or AnswerForm()
        scale = survey.rating.scale
        icons = FACES.get(scale) or tuple(range(1, scale + 1))
        stages = {f"stage:{s.id}": s.name for s in survey.cycle.stages}
        keys = [*FORM_KEYS, *(f"face_{i}" for i in icons), *errors]
        if errors:
            keys.append("form_problem")
        t = self.strings.page(keys, survey.languages, {"cycle": survey.cycle.name, **stages})
        response = self.render(
            request,
            "form.html",
            t,
            status,
            action=self.survey_path(request),
            csrf=self.csrf.field(survey.token, nonce),
            site_name=self.runtime.config.site.name,
            stages=[
                {"id": s.id, "name": t[f"stage:{s.id}"], "score": values.stage_scores.get(s.id)}
                for s in survey.cycle.stages
            ],
            faces=[
                {"score": score, "icon": icon, "label": t[f"face_{icon}"]}
                for score, icon in enumerate(icons, start=1)
            ],
            errors=[t[key] for key in errors],
            comment=values.comment,
            contact=values.contact,
            consent=values.consent,
            max_comment=MAX_COMMENT,
            max_contact=MAX_CONTACT,
            comment_hint=t.comment_hint.format(max=MAX_COMMENT),
        )
        Csrf.set_cookie(response, request, nonce)
        return response

    def problem(self, request: Request, problem: Problem) -> Response:
        return self.message(
            request, problem.kind, problem.status, problem.languages, link=problem.link
        )

    def message(
        self,
        request: Request,
        kind: str,
        status: int,
        languages: Sequence[str] = (),
        *,
        link: str | None = None,
        **values: Any,
    ) -> Response:
        """A short page: a face, a title, a sentence, perhaps a link back to the form."""
        keys = [f"{kind}_title", f"{kind}_body", *(["again_link"] if link else [])]
        t = self.strings.page(keys, [*languages, DEFAULT_LANGUAGE])
        fill = {"comment": MAX_COMMENT, "contact": MAX_CONTACT, **values}
        return self.render(
            request,
            "message.html",
            t,
            status,
            kind=kind,
            status=status,
            face=MESSAGE_FACE.get(kind, 3),
            title=t[f"{kind}_title"],
            body=_format(t[f"{kind}_body"], fill),
            link=link,
            link_text=t.again_link if link else "",
        )

    def render(
        self, request: Request, template: str, t: PageTexts, status_code: int, **context: Any
    ) -> Response:
        return self.templates.TemplateResponse(
            request,
            template,
            {"t": t, "static": _static_url(request), **context},
            status_code=status_code,
        )

    # -- addresses -----------------------------------------------------------------

    @staticmethod
    def survey_path(request: Request, token: str | None = None) -> str:
        token = token if token is not None else request.path_params["token"]
        return request.url_for("survey", token=token).path

    @staticmethod
    def thanks_path(request: Request, token: str) -> str:
        return request.url_for("thanks", token=token).path


def _static_url(request: Request) -> Callable[[str], str]:
    def static(path: str) -> str:
        return request.url_for("static", path=path).path

    return static


def _error_key(exc: AnswerError) -> str:
    """The customer-facing text for a refused answer (the detail goes to the log)."""
    if exc.field == "contact" and "consent" in exc.allowed:
        return "error_consent"
    if exc.field == "stages" and not exc.value:
        return "error_empty"
    return "error_invalid"


def _format(text: str, values: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders; a translation with a stray brace is shown as written."""
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text
