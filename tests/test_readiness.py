"""The warnings a site sees before guests and staff rely on a kiosk."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicecycle.core import Config, readiness_warnings
from servicecycle.core.readiness import unreachable_host


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8765/s/{token}", "127.0.0.1"),
        ("http://127.8.9.10/s/{token}", "127.8.9.10"),
        ("http://localhost:8765/s/{token}", "localhost"),
        ("http://LOCALHOST./s/{token}", "localhost."),
        ("http://kiosk.localhost/s/{token}", "kiosk.localhost"),
        ("http://[::1]:8765/s/{token}", "::1"),
        ("http://0.0.0.0:8765/s/{token}", "0.0.0.0"),
        ("http://169.254.10.1/s/{token}", "169.254.10.1"),
        ("http://192.168.1.20:8765/s/{token}", None),  # the guest Wi-Fi: reachable
        ("http://10.0.0.5/s/{token}", None),
        ("https://feedback.grandhotel.example/s/{token}", None),
    ],
)
def test_addresses_a_guest_phone_cannot_reach(url, host):
    assert unreachable_host(url) == host


def test_the_defaults_warn_about_the_qr_address_and_the_missing_receiver():
    warnings = readiness_warnings(Config())
    assert [w.key for w in warnings] == ["survey.url", "notify.receivers"]
    assert "127.0.0.1" in str(warnings[0]) and "guest" in str(warnings[0])


def test_a_ready_site_has_no_warning():
    config = Config.model_validate(
        {
            "survey": {"url": "https://feedback.example/s/{token}"},
            "notify": {
                "receivers": {"duty": {"type": "webhook", "url": "https://hooks.example/x"}},
                "routes": [{"receiver": "duty"}],
            },
        }
    )
    assert readiness_warnings(config) == []


@given(st.text())
def test_any_text_is_judged_without_raising(url):
    assert unreachable_host(url) is None or isinstance(unreachable_host(url), str)


def test_a_plugin_that_makes_the_survey_links_makes_the_address_moot():
    from servicecycle.core import PluginHost, hookimpl

    class Links:
        @hookimpl
        def survey_url(self, rating, token):
            return f"https://surveys.example.com/{token}"

    host = PluginHost.discover(only={"hotel"})
    assert "survey.url" in [w.key for w in readiness_warnings(Config(), host)]
    host.add(Links(), "links")
    assert [w.key for w in readiness_warnings(Config(), host)] == ["notify.receivers"]
