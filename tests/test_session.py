"""Core's kiosk session: taps, follow-ups, survey tokens, PIN, languages, today's figures."""

from __future__ import annotations

import contextlib
import logging
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicecycle.core import (
    KioskSession,
    PinGuard,
    PinLocked,
    Runtime,
    ServiceCycleError,
    StoreBusy,
    SurveyTokens,
    TokenError,
    hash_pin,
    load_config,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def session(runtime, clock):
    return KioskSession(runtime, cycle="hotel-guest", moment="check-out-wait", clock=clock)


def test_low_tap_is_stored_then_asks_why(session, clock):
    tap = session.tap(1)
    assert session.runtime.store.ratings.get(tap.rating.id) == tap.rating
    assert tap.follow_up == "reasons"
    ids = [rid for rid, _ in tap.options]
    assert ids == list(session.moment.reasons[:6])
    assert tap.options[0][1] == session.cycle.reason(ids[0]).label["en"]
    updated = session.add_reasons(tap.rating, [ids[0]])
    assert session.runtime.store.ratings.get(tap.rating.id).reasons == (ids[0],)
    assert updated.reasons == (ids[0],)


def test_high_tap_asks_what_went_well_and_middle_asks_nothing(session, clock):
    assert session.tap(5).follow_up == "praise"
    clock.now += 10
    assert session.tap(3).follow_up is None


def test_repeated_presses_are_kept_but_flagged_suspect(session, clock):
    first = session.tap(1)
    clock.now += 0.5
    second = session.tap(1)
    assert first.rating.flags == ()
    assert second.rating.flags == ("suspect",)
    assert second.follow_up is None  # no questions for a bounce
    clock.now += 5
    assert session.tap(2).rating.flags == ()
    assert session.runtime.store.ratings.count() == 3


def test_survey_link_carries_a_verifiable_token_for_this_rating(session, runtime):
    rating = session.tap(4).rating
    url = session.survey_link(rating)
    assert url.startswith("http://127.0.0.1:8765/s/")
    token = url.rsplit("/", 1)[1]
    claims = SurveyTokens.for_data_dir(runtime.data_dir).verify(token)
    assert claims.rating_id == rating.id
    secret = runtime.data_dir / "secrets" / "survey.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_tokens_refuse_forgery_tampering_expiry_and_garbage(tmp_path):
    tokens = SurveyTokens.for_data_dir(tmp_path)
    other = SurveyTokens(os.urandom(32))
    rating_id = "0" * 31 + "1"
    token = tokens.issue(rating_id, ttl=60, now=1_000_000)
    assert tokens.verify(token, now=1_000_030).rating_id == rating_id
    with pytest.raises(TokenError) as info:
        tokens.verify(token, now=1_000_061)
    assert info.value.kind == "expired"
    with pytest.raises(TokenError) as info:
        other.verify(token, now=1_000_000)
    assert info.value.kind == "forged"
    tampered = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    with pytest.raises(TokenError) as info:
        tokens.verify(tampered, now=1_000_000)
    assert info.value.kind in {"forged", "malformed"}
    for junk in ("", "abc", "x" * 48, "ü" * 48, token + "A"):
        with pytest.raises(TokenError):
            tokens.verify(junk)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_a_token_error_not_a_crash(text):
    tokens = SurveyTokens(b"k" * 32)
    with contextlib.suppress(TokenError):
        tokens.verify(text)


def test_secret_with_loose_permissions_is_refused(tmp_path):
    SurveyTokens.for_data_dir(tmp_path)
    secret = tmp_path / "secrets" / "survey.key"
    secret.chmod(0o644)
    with pytest.raises(ServiceCycleError, match="readable by others"):
        SurveyTokens.for_data_dir(tmp_path)


def test_pin_is_hashed_checked_and_rate_limited(clock):
    encoded = hash_pin("2468", iterations=1000)
    assert "2468" not in encoded
    guard = PinGuard(encoded, clock=clock)
    assert guard.check("2468")
    assert not guard.check("1111")
    assert not guard.check("1112")
    assert not guard.check("1113")  # third wrong: locked for 30 s
    with pytest.raises(PinLocked) as info:
        guard.check("2468")
    assert 29 < info.value.seconds <= 30
    clock.now += 31
    assert not guard.check("0000")  # fourth wrong: 60 s
    with pytest.raises(PinLocked):
        guard.check("2468")
    clock.now += 61
    assert guard.check("2468")
    with pytest.raises(ServiceCycleError):
        hash_pin("12a4")


def test_configured_pin_and_demo_pin(tmp_path, host, clock):
    config = tmp_path / "site.toml"
    config.write_text(f'[kiosk]\npin_hash = "{hash_pin("97531", iterations=1000)}"\n')
    rt = Runtime.open(config, data_dir=tmp_path / "d", plugins=host)
    session = KioskSession(rt, clock=clock)
    assert not session.default_pin_in_use
    assert session.check_pin("97531") and not session.check_pin("0000")
    bad = tmp_path / "bad.toml"
    bad.write_text('[kiosk]\npin_hash = "1234"\n')
    with pytest.raises(ServiceCycleError, match=r"kiosk\.pin_hash"):
        load_config(bad)
    demo = KioskSession(Runtime.open(data_dir=tmp_path / "e", plugins=host), clock=clock)
    assert demo.default_pin_in_use and demo.check_pin("0000")


def test_a_screen_never_mixes_languages(session, caplog):
    session.set_language("tr")
    texts = {
        "question": session.moment.question,
        "thanks": {"en": "Thank you", "tr": "Teşekkürler"},
    }
    assert session.screen_language(texts) == (
        "tr",
        {"question": session.moment.question["tr"], "thanks": "Teşekkürler"},
    )
    texts["skip"] = {"en": "Skip"}  # no Turkish
    with caplog.at_level(logging.WARNING):
        language, shown = session.screen_language(texts)
    assert language == "en"
    assert shown == {
        "question": session.moment.question["en"],
        "thanks": "Thank you",
        "skip": "Skip",
    }
    assert "no 'tr' text for skip" in caplog.text
    with pytest.raises(ServiceCycleError):
        session.set_language("de")


def test_staff_switch_moment_and_todays_figures(session, clock):
    for score in (1, 2, 5):
        session.tap(score)
        clock.now += 10
    session.switch_moment("bill-accuracy")
    session.tap(4)
    figures = {f.moment: f for f in session.today()}
    wait = figures["check-out-wait"]
    assert (wait.count, round(wait.mean, 2), wait.negative, wait.critical) == (3, 2.67, 2, True)
    assert wait.gap == pytest.approx(wait.target - 8 / 3)
    assert figures["bill-accuracy"].count == 1
    with pytest.raises(ServiceCycleError, match="has no moment"):
        session.switch_moment("nap")


def test_a_second_kiosk_is_refused_its_data_folder(session, host):
    session.open_store()
    other = KioskSession(Runtime.open(data_dir=session.runtime.data_dir, plugins=host))
    with pytest.raises(StoreBusy, match="kiosk kiosk-1"):
        other.open_store()
