"""The form parser under arbitrary input: a typed answer or a 400/413, never a crash or a 500."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.survey import create_app
from servicecycle.survey.forms import AnswerForm, FormError, parse_answer_form

from .test_survey_support import client, csrf_of, kiosk_rating, make_site, path_of

STAGES = ("reservation", "check-in", "stay", "check-out")
FORM = "application/x-www-form-urlencoded"

field_names = st.one_of(
    st.sampled_from(["csrf", "comment", "contact", "consent", *(f"stage-{s}" for s in STAGES)]),
    st.text(max_size=20),
)
field_values = st.one_of(
    st.sampled_from(["", "1", "3", "5", "6", "0", "-1", "yes", "on", "٣", "³", "05", " 2"]),
    st.text(max_size=50),
    st.text(min_size=1990, max_size=2010, alphabet="ab\r\n"),
)
forms = st.lists(st.tuples(field_names, field_values), max_size=12)


@given(body=st.binary(max_size=600))
def test_any_bytes_give_an_answer_or_a_400(body):
    try:
        form = parse_answer_form(body, STAGES, 5)
    except FormError as exc:
        assert exc.status in (400, 413)
    else:
        assert isinstance(form, AnswerForm)


@given(pairs=forms, scale=st.sampled_from([4, 5]))
def test_any_form_gives_a_typed_answer_or_a_refusal(pairs, scale):
    body = urlencode(pairs).encode()
    try:
        form = parse_answer_form(body, STAGES, scale)
    except FormError as exc:
        assert exc.status in (400, 413)
        return
    assert set(form.stage_scores) <= set(STAGES)
    assert all(type(v) is int and 1 <= v <= scale for v in form.stage_scores.values())
    assert len(form.comment) <= 2000 and len(form.contact) <= 200
    assert "\r" not in form.comment
    assert isinstance(form.consent, bool)


def test_a_well_formed_answer_is_read_exactly():
    body = urlencode(
        {
            "csrf": "abc",
            "stage-stay": "4",
            "stage-check-in": "",
            "comment": "line\r\nnext",
            "consent": "yes",
            "contact": "me@example.org",
            "utm_source": "ignored",
        }
    ).encode()
    assert parse_answer_form(body, STAGES, 5) == AnswerForm(
        csrf="abc",
        stage_scores={"stay": 4},
        comment="line\nnext",
        contact="me@example.org",
        consent=True,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    runtime = make_site(tmp_path_factory.mktemp("site"))
    app = create_app(runtime, rate_limit=None)
    with client(app, follow_redirects=False) as http:
        yield runtime, http
    runtime.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pairs=forms, with_csrf=st.booleans(), raw=st.one_of(st.none(), st.binary(max_size=300)))
def test_any_post_gives_a_page_never_a_500(served, pairs, with_csrf, raw):
    runtime, http = served
    _, url = kiosk_rating(runtime, score=3)
    page = http.get(path_of(url))
    if with_csrf:
        pairs = [("csrf", csrf_of(page.text)), *pairs]
    body = raw if raw is not None else urlencode(pairs).encode()
    response = http.post(path_of(url), content=body, headers={"content-type": FORM})
    assert response.status_code in (303, 400, 403, 409, 413, 422), response.status_code
    assert "Traceback" not in response.text
    if response.status_code != 303:
        assert response.headers["content-type"].startswith("text/html")
