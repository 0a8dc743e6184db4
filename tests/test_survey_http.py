"""The survey app over HTTP (Starlette's TestClient / httpx): every page, status and limit."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicecycle.core import RatingFilter, SurveyTokens, TokenError
from servicecycle.core.answers import find_answer
from servicecycle.survey import create_app
from servicecycle.survey.security import CONTENT_SECURITY_POLICY, CSRF_COOKIE, MAX_BODY, redact
from servicecycle.survey.strings import Strings, accepted_languages

from .test_survey_support import LEAKS, client, csrf_of, kiosk_rating, make_site, path_of

HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.fixture
def site(tmp_path):
    runtime = make_site(tmp_path)
    yield runtime
    runtime.close()


@pytest.fixture
def app(site):
    return create_app(site, rate_limit=None)


@pytest.fixture
def http(app):
    with client(app, follow_redirects=False) as c:
        yield c


def assert_secure(response, *, cache: str = "no-store"):
    for name, value in HEADERS.items():
        assert response.headers[name] == value, name
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers["cache-control"] == cache
    assert "server" not in response.headers
    assert "<script" not in response.text.lower()
    assert "style=" not in response.text  # CSP style-src 'self': no inline styles either


def assert_no_leak(response):
    for marker in LEAKS:
        assert marker not in response.text, f"{marker!r} leaked into a {response.status_code} page"


def open_form(http, url, **headers):
    page = http.get(path_of(url), headers=headers)
    assert page.status_code == 200, page.text
    return page, csrf_of(page.text)


def post(http, url, csrf, **fields):
    data = {"csrf": csrf, **fields}
    return http.post(path_of(url), data=data)


# -- the form ---------------------------------------------------------------------


def test_the_form_shows_every_stage_in_the_kiosk_language(http, site):
    _, url = kiosk_rating(site, language="ru")
    page, _ = open_form(http, url)
    assert_secure(page)
    assert '<html lang="ru">' in page.text
    cycle = site.catalogue.cycle("hotel-guest")
    for stage in cycle.stages:
        assert f"<legend>{stage.name['ru']}</legend>" in page.text
        assert stage.name["en"] not in page.text
        for score in range(1, 6):
            assert f'name="stage-{stage.id}" value="{score}"' in page.text
    assert "Как прошёл ваш визит?" in page.text and "How was" not in page.text
    assert 'maxlength="2000"' in page.text and 'maxlength="200"' in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


@pytest.mark.parametrize("language", ["en", "ms", "ru", "tr"])
def test_each_language_has_a_whole_page(http, site, language):
    _, url = kiosk_rating(site, language=language)
    page, _ = open_form(http, url)
    assert f'<html lang="{language}">' in page.text
    strings = Strings.load()
    assert strings.texts["submit"][language] in page.text


def test_a_four_point_kiosk_gets_four_faces(tmp_path):
    runtime = make_site(tmp_path, kiosk="scale = 4")
    with client(create_app(runtime, rate_limit=None)) as http:
        _, url = kiosk_rating(runtime)
        page, _ = open_form(http, url)
    assert 'name="stage-stay" value="4"' in page.text
    assert 'name="stage-stay" value="5"' not in page.text
    assert "Okay" not in page.text  # no neutral middle on a 4-point scale
    runtime.close()


def test_an_answer_is_stored_and_the_customer_thanked(http, site):
    rating, url = kiosk_rating(site, language="tr")
    _, csrf = open_form(http, url)
    response = post(
        http,
        url,
        csrf,
        **{"stage-check-in": "1", "stage-stay": "5", "stage-reservation": ""},
        comment="Resepsiyonda çok bekledik.",
        consent="yes",
        contact="ayse@example.org",
    )
    assert response.status_code == 303, response.text
    thanks = http.get(response.headers["location"])
    assert thanks.status_code == 200
    assert_secure(thanks)
    assert "Teşekkür ederiz!" in thanks.text
    answer = find_answer(site.store, rating)
    assert {s.stage: s.score for s in answer.stages} == {"check-in": 1, "stay": 5}
    assert answer.comment == "Resepsiyonda çok bekledik."
    assert answer.contact == "ayse@example.org"
    # a second visit, and a replayed post, are refused
    again = http.get(path_of(url))
    assert again.status_code == 409 and "Zaten yanıtlandı" in again.text
    replay = post(http, url, csrf, **{"stage-stay": "1"})
    assert replay.status_code == 409
    assert len(site.store.table("answers")) == 1


def test_thanks_before_answering_leads_back_to_the_form(http, site):
    _, url = kiosk_rating(site)
    response = http.get(path_of(url) + "/thanks")
    assert response.status_code == 303
    assert response.headers["location"] == path_of(url)


def test_contact_without_consent_shows_the_form_again_with_the_values(http, site):
    rating, url = kiosk_rating(site)
    _, csrf = open_form(http, url)
    response = post(http, url, csrf, **{"stage-stay": "2"}, comment="Cold room", contact="me@x.org")
    assert response.status_code == 422
    assert "please tick the box" in response.text
    assert ">Cold room</textarea>" in response.text and 'value="me@x.org"' in response.text
    assert re.search(r'name="stage-stay" value="2" checked', response.text)
    assert find_answer(site.store, rating) is None
    # the re-shown form works
    fixed = post(
        http, url, csrf_of(response.text), **{"stage-stay": "2"}, consent="yes", contact="me@x.org"
    )
    assert fixed.status_code == 303


def test_an_empty_answer_asks_for_something(http, site):
    _, url = kiosk_rating(site)
    _, csrf = open_form(http, url)
    response = post(http, url, csrf, **{"stage-stay": ""}, comment="   ")
    assert response.status_code == 422
    assert "Please rate at least one step" in response.text


def test_consent_alone_stores_no_contact(http, site):
    rating, url = kiosk_rating(site)
    _, csrf = open_form(http, url)
    assert post(http, url, csrf, **{"stage-stay": "4"}, consent="yes").status_code == 303
    assert find_answer(site.store, rating).contact is None


# -- broken links -----------------------------------------------------------------


def test_broken_links_get_a_clear_page_and_the_right_status(http, site, tmp_path):
    rating, url = kiosk_rating(site)
    token = path_of(url).rsplit("/", 1)[1]
    tokens = SurveyTokens.for_data_dir(site.data_dir)
    other_site = SurveyTokens(b"x" * 32)
    unknown_id = "0" * 12 + "7" + "1" * 19
    cases = {
        "/s/not-a-token": (400, "This link is not valid"),
        "/s/" + "A" * 500: (400, "This link is not valid"),
        f"/s/{token[:-2]}{'AB' if token[-2:] != 'AB' else 'CD'}": (403, "This link is not valid"),
        f"/s/{other_site.issue(rating.id)}": (403, "This link is not valid"),
        f"/s/{tokens.issue(rating.id, ttl=60, now=0)}": (410, "This link has expired"),
        f"/s/{tokens.issue(unknown_id)}": (404, "Survey not found"),
    }
    for path, (status, title) in cases.items():
        for method in ("GET", "POST"):
            response = http.request(method, path, data={"stage-stay": "3"})
            assert response.status_code == status, (path, method, response.status_code)
            assert f"<h1>{title}</h1>" in response.text
            assert_secure(response)
            assert_no_leak(response)
    assert len(site.store.table("answers")) == 0


def test_broken_link_pages_speak_the_browser_language(http):
    response = http.get("/s/nonsense", headers={"Accept-Language": "tr-TR,tr;q=0.9,en;q=0.5"})
    assert response.status_code == 400
    assert '<html lang="tr">' in response.text and "Bu bağlantı geçerli değil" in response.text
    response = http.get("/s/nonsense", headers={"Accept-Language": "de-DE;q=0.9, *"})
    assert '<html lang="en">' in response.text


def test_unknown_pages_and_methods(http):
    for path, method, status in [
        ("/nothing-here", "GET", 404),
        ("/s/", "GET", 404),
        ("/s/x/y/z", "GET", 404),
        ("/s/abc", "PUT", 405),
        ("/s/abc/thanks", "POST", 405),
    ]:
        response = http.request(method, path)
        assert response.status_code == status, path
        assert_secure(response)
        assert_no_leak(response)
        assert response.headers["content-type"].startswith("text/html")
    assert "GET" in http.request("PUT", "/s/abc").headers["allow"]


def test_health_and_static_files(http):
    assert http.get("/healthz").text == "ok"
    css = http.get("/static/survey.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert_secure(css, cache="public, max-age=86400")
    assert http.get("/static/faces/1.svg").status_code == 200
    assert http.get("/static/../app.py").status_code == 404


# -- CSRF -------------------------------------------------------------------------


def test_csrf_missing_or_wrong_is_refused(http, site, app):
    rating, url = kiosk_rating(site)
    _, csrf = open_form(http, url)
    _, other_url = kiosk_rating(site)
    _, other_csrf = open_form(http, other_url)
    for label, field in [
        ("missing", None),
        ("empty", ""),
        ("wrong", csrf[:-3] + "AAA"),
        ("from another survey", other_csrf),
    ]:
        data = {"stage-stay": "3"} if field is None else {"stage-stay": "3", "csrf": field}
        response = http.post(path_of(url), data=data)
        assert response.status_code == 403, label
        assert "Please send the form again" in response.text
        assert_no_leak(response)
    # the right field without the browser's cookie (a cross-site post) is refused too
    with client(app, follow_redirects=False) as stranger:
        response = stranger.post(path_of(url), data={"stage-stay": "3", "csrf": csrf})
        assert response.status_code == 403
        stranger.cookies.set(CSRF_COOKIE, "A" * 22)
        response = stranger.post(path_of(url), data={"stage-stay": "3", "csrf": csrf})
        assert response.status_code == 403
    assert find_answer(site.store, rating) is None
    assert post(http, url, csrf, **{"stage-stay": "3"}).status_code == 303


def test_two_tabs_of_one_browser_both_hold_valid_forms(http, site):
    _, url = kiosk_rating(site)
    _, first = open_form(http, url)
    _, second = open_form(http, url)
    assert first == second  # the browser keeps its nonce, so an older tab still verifies
    assert post(http, url, first, **{"stage-stay": "3"}).status_code == 303


# -- size limits ------------------------------------------------------------------


def test_oversize_fields_and_bodies_are_refused_with_413(http, site):
    rating, url = kiosk_rating(site)
    _, csrf = open_form(http, url)
    too_long_comment = post(http, url, csrf, **{"stage-stay": "3"}, comment="é" * 2001)
    assert too_long_comment.status_code == 413
    assert "at most 2000 characters" in too_long_comment.text
    too_long_contact = post(http, url, csrf, consent="yes", contact="1" * 201)
    assert too_long_contact.status_code == 413
    huge = http.post(
        path_of(url),
        content=b"comment=" + b"x" * MAX_BODY,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413

    def chunks():  # no Content-Length: cut off while streaming
        yield b"csrf=" + csrf.encode() + b"&comment="
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"y" * 1024

    streamed = http.post(
        path_of(url),
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    for response in (too_long_comment, too_long_contact, huge, streamed):
        assert_secure(response)
        assert_no_leak(response)
    assert find_answer(site.store, rating) is None


def test_a_full_length_comment_with_windows_line_breaks_fits(http, site):
    rating, url = kiosk_rating(site)
    _, csrf = open_form(http, url)
    comment = ("a" * 9 + "\r\n") * 200  # 2000 characters once CRLF counts as one
    response = post(http, url, csrf, **{"stage-stay": "3"}, comment=comment)
    assert response.status_code == 303
    assert len(find_answer(site.store, rating).comment) == 1999  # trailing newline stripped


@pytest.mark.parametrize("char", ["🙂", "é", "中", "a"])
def test_the_comment_limit_counts_characters_not_bytes(http, site, char):
    """2000 emoji (8000 bytes, 24,000 once percent-encoded) are 2000 characters."""
    rating, url = kiosk_rating(site)
    _, csrf = open_form(http, url)
    too_long = post(http, url, csrf, **{"stage-stay": "3"}, comment=char * 2001)
    assert too_long.status_code == 413 and "at most 2000 characters" in too_long.text
    response = post(
        http, url, csrf, **{"stage-stay": "3"}, comment=char * 2000, consent="yes",
        contact=char * 200,
    )  # fmt: skip
    assert response.status_code == 303, response.text[:300]
    answer = find_answer(site.store, rating)
    assert answer.comment == char * 2000 and answer.contact == char * 200


def test_only_url_encoded_forms_are_taken(http, site):
    _, url = kiosk_rating(site)
    _, csrf = open_form(http, url)
    response = http.post(path_of(url), files={"comment": ("a.txt", b"hi")}, data={"csrf": csrf})
    assert response.status_code == 415
    assert_no_leak(response)


@pytest.mark.parametrize(
    "body",
    [
        b"csrf=x&csrf=y",
        b"stage-nowhere=3",
        b"stage-stay=9",
        b"stage-stay=three",
        b"consent=maybe",
        b"comment=%ff%fe",
        b"\xff\xfe",
        b"&".join(b"f%d=1" % n for n in range(100)),
    ],
)
def test_malformed_forms_are_refused_with_400(http, site, body):
    _, url = kiosk_rating(site)
    open_form(http, url)
    response = http.post(
        path_of(url), content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert_no_leak(response)


# -- rate limiting ----------------------------------------------------------------


def test_each_client_address_is_rate_limited(site):
    app = create_app(site, rate_limit=5)
    with client(app) as http:
        statuses = [http.get("/s/nonsense").status_code for _ in range(6)]
        assert statuses == [400] * 5 + [429]
        limited = http.get("/s/nonsense")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 12
        assert "Too many requests" in limited.text
        assert_secure(limited)
        assert http.get("/static/survey.css").status_code == 200  # static files are free

    # another address has its own bucket
    async def from_elsewhere() -> int:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            return (await other.get("/s/nonsense")).status_code

    assert asyncio.run(from_elsewhere()) == 400


def test_the_rate_limiter_refills_over_time():
    from servicecycle.survey.security import RateLimiter

    now = [0.0]
    limiter = RateLimiter(30, clock=lambda: now[0], max_clients=2)
    assert all(limiter.check("a") == 0 for _ in range(30))
    assert limiter.check("a") == pytest.approx(2.0)
    now[0] += 2.0
    assert limiter.check("a") == 0
    limiter.check("b")
    limiter.check("c")  # "a" is forgotten: memory stays bounded
    assert "a" not in limiter._buckets


# -- failures never show internals ---------------------------------------------------


def test_an_internal_error_shows_a_plain_page(site, monkeypatch):
    app = create_app(site, rate_limit=None)
    _, url = kiosk_rating(site)

    def broken(rating_id):
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(site.store.ratings, "get", broken)
    with client(app, raise_server_exceptions=False) as http:
        response = http.get(path_of(url))
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "disk on fire" not in response.text and "/secret/path" not in response.text
    assert_secure(response)
    assert_no_leak(response)


# -- languages --------------------------------------------------------------------


def test_a_missing_translation_moves_the_whole_page_to_the_cycle_s_first_language(site, caplog):
    strings = Strings.load()
    del strings.texts["submit"]["ms"]
    app = create_app(site, rate_limit=None, strings=strings)
    _, url = kiosk_rating(site, language="ms")
    with caplog.at_level(logging.WARNING), client(app) as http:
        page = http.get(path_of(url))
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "How was your visit?" in page.text and "Bagaimana" not in page.text
    cycle = site.catalogue.cycle("hotel-guest")
    assert all(s.name["ms"] not in page.text for s in cycle.stages)
    assert any("'ms'" in r.getMessage() and "submit" in r.getMessage() for r in caplog.records)


def test_accept_language_parsing_is_forgiving():
    assert accepted_languages("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7") == ["ru", "en"]
    assert accepted_languages("en;q=0.1, tr") == ["tr", "en"]
    assert accepted_languages("*;q=0.5, ;;, 12, x;q=abc, ms;q=0") == []
    assert accepted_languages(None) == []


# -- reverse proxy --------------------------------------------------------------------


def test_links_follow_the_root_path_behind_a_proxy(site, app):
    _, url = kiosk_rating(site)
    with client(app, root_path="/survey", follow_redirects=False) as http:
        page = http.get("/survey" + path_of(url))
        assert page.status_code == 200
        assert f'action="/survey{path_of(url)}"' in page.text
        assert 'href="/survey/static/survey.css"' in page.text
        assert "Path=/survey" in page.headers["set-cookie"]
        done = http.post(
            "/survey" + path_of(url), data={"csrf": csrf_of(page.text), "stage-stay": "4"}
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"/survey{path_of(url)}/thanks"


def test_tokens_never_reach_the_access_log(http, site, caplog):
    _, url = kiosk_rating(site)
    token = path_of(url).rsplit("/", 1)[1]
    with caplog.at_level(logging.INFO, logger="servicecycle.survey.access"):
        http.get(path_of(url))
    lines = [r.getMessage() for r in caplog.records if r.name == "servicecycle.survey.access"]
    assert lines and all(token not in line for line in lines)
    assert redact(f"/s/{token}/thanks") == f"/s/{token[:4]}…/thanks"


# -- racing submissions -----------------------------------------------------------


def test_two_concurrent_submissions_store_exactly_one(site, app):
    rating, url = kiosk_rating(site)

    async def race() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            page = await http.get(path_of(url))
            csrf = csrf_of(page.text)
            posts = [
                http.post(path_of(url), data={"csrf": csrf, "stage-stay": str(score)})
                for score in (1, 5)
            ]
            return sorted(r.status_code for r in await asyncio.gather(*posts))

    assert asyncio.run(race()) == [303, 409]
    assert len(site.store.table("answers")) == 1
    assert site.store.ratings.count(RatingFilter(kiosk="survey")) == 1
    assert find_answer(site.store, rating) is not None


def test_a_non_ascii_csrf_field_is_refused_not_a_crash(http, site):
    _, url = kiosk_rating(site)
    open_form(http, url)
    response = post(http, url, "ç" * 43, **{"stage-stay": "3"})
    assert response.status_code == 403


# -- tokens ------------------------------------------------------------------------

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=300)
@given(data=st.data())
def test_any_character_outside_the_token_alphabet_makes_the_link_invalid(data):
    """Python's base64 skips other characters; a token must not."""
    tokens = SurveyTokens(b"k" * 32)
    token = tokens.issue("0" * 12 + "7" + "1" * 19)
    stray = data.draw(st.text(min_size=1, max_size=3).filter(lambda s: set(s) - set(_ALPHABET)))
    at = data.draw(st.integers(0, len(token)))
    with pytest.raises(TokenError) as info:
        tokens.verify(token[:at] + stray + token[at:])
    assert info.value.kind == "malformed"


@settings(max_examples=300)
@given(data=st.data())
def test_a_changed_token_is_never_accepted(data):
    tokens = SurveyTokens(b"k" * 32)
    token = tokens.issue("0" * 12 + "7" + "1" * 19)
    at = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.sampled_from(_ALPHABET).filter(lambda c: c != token[at]))
    changed = token[:at] + char + token[at + 1 :]
    try:
        claims = tokens.verify(changed)
    except TokenError as exc:
        assert exc.kind in ("malformed", "forged")
    else:  # only the unused low bits of the last character: the same bytes
        assert at == len(token) - 1 and claims == tokens.verify(token)


def test_stray_characters_in_a_link_get_the_invalid_link_page(http, site):
    _, url = kiosk_rating(site)
    for path in (
        path_of(url) + ".",
        path_of(url) + "!!",
        path_of(url)[:12] + "." + path_of(url)[12:],
    ):
        response = http.get(path)
        assert response.status_code == 400, path
        assert "This link is not valid" in response.text
