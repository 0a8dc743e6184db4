"""The [notify] section: defaults, strict built-in receivers, routes, quiet hours, durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from servicecycle.core.alerting import Matcher, NotifySettings, QuietHours, parse_interval
from servicecycle.core.alerting.matchers import parse_matchers
from servicecycle.core.validation import describe


class Site(BaseModel):
    """Stands in for the site Config, which gains ``notify`` when the engine is wired."""

    notify: NotifySettings = NotifySettings()


def problems(notify: dict) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Site.model_validate({"notify": notify})
    return describe(caught.value, Site)


def test_no_notify_section_means_one_log_receiver_and_a_catch_all_route():
    notify = Site().notify
    assert set(notify.all_receivers) == {"log"}
    assert notify.all_receivers["log"].type == "log"
    (route,) = notify.routes
    assert route.receiver == "log" and route.matchers == ()
    assert route.group_by == ("alertname", "site")
    assert (route.group_wait, route.group_interval, route.repeat_interval) == (
        timedelta(seconds=30),
        timedelta(minutes=5),
        timedelta(hours=4),
    )


def test_a_full_example_validates_and_shows_as_written():
    notify = NotifySettings.model_validate(
        {
            "receivers": {
                "pager": {
                    "type": "webhook",
                    "url": "https://ops.example/hook",
                    "timeout": "3s",
                    "headers": {"Authorization": "Bearer x"},
                    "max_attempts": 3,
                },
                "desk": {
                    "type": "email",
                    "host": "smtp.example",
                    "starttls": True,
                    "username": "kiosk",
                    "password": "secret",
                    "from": "Kiosk <kiosk@hotel.example>",
                    "to": ["duty@hotel.example"],
                },
                "chat": {"type": "apprise", "urls": ["ntfy://ntfy.example/lobby"]},
            },
            "routes": [
                {
                    "matchers": {"severity": "critical", "site": {"regex": "grand-.*"}},
                    "receiver": "pager",
                    "group_wait": "10s",
                    "continue": True,
                },
                {"receiver": "desk", "quiet_hours": ["night"], "repeat_interval": "1h30m"},
            ],
            "quiet_hours": {"night": {"weekdays": ["mon", "tue"], "times": ["22:00-07:00"]}},
        }
    )
    shown = notify.model_dump(mode="json")
    assert shown["routes"][0]["continue"] is True
    assert shown["routes"][0]["matchers"] == {"severity": "critical", "site": {"regex": "grand-.*"}}
    assert shown["routes"][1]["repeat_interval"] == "1h30m"
    assert shown["receivers"]["desk"]["password"] == "**********"  # never printed
    assert notify.receivers["pager"].settings["timeout"] == "3s"
    assert notify.receivers["pager"].max_attempts == 3
    assert NotifySettings.model_validate(shown).routes == notify.routes


def test_unknown_key_of_a_builtin_receiver_names_the_key_and_the_allowed_ones():
    lines = problems({"receivers": {"pager": {"type": "webhook", "url": "http://x", "timeot": 3}}})
    assert lines == [
        "notify.receivers.pager.timeot = 3: unknown key for a webhook receiver; allowed keys: "
        "backoff, backoff_max, ca_file, headers, max_attempts, send_resolved, timeout, type, url"
    ]


def test_bad_values_of_builtin_receivers_name_the_setting():
    lines = problems(
        {
            "receivers": {
                "pager": {"type": "webhook", "url": "ftp://x", "timeout": "soon"},
                "mail": {"type": "email", "host": "h", "from": "nobody", "to": ["a@b.example"]},
                "chat": {"type": "apprise", "urls": []},
            }
        }
    )
    assert any(line.startswith("notify.receivers.pager.url = 'ftp://x'") for line in lines)
    assert any(
        line.startswith("notify.receivers.pager.timeout = 'soon': 'soon' is not a duration")
        for line in lines
    )
    assert any(line.startswith("notify.receivers.mail.from = 'nobody'") for line in lines)
    assert any(line.startswith("notify.receivers.chat.urls") for line in lines)


def test_required_settings_are_named():
    assert problems({"receivers": {"pager": {"type": "webhook"}}}) == [
        "notify.receivers.pager.url: required but missing"
    ]


def test_email_settings_that_contradict_each_other_are_refused():
    base = {"type": "email", "host": "h", "from": "a@b.example", "to": ["c@d.example"]}
    (line,) = problems({"receivers": {"m": {**base, "ssl": True, "starttls": True}}})
    assert "choose one" in line
    (line,) = problems({"receivers": {"m": {**base, "password": "x"}}})
    assert "username: required" in line
    (line,) = problems({"receivers": {"m": {**base, "subject": "{x.__class__}"}}})
    assert "placeholder" in line


def test_a_plugin_type_passes_its_settings_through():
    notify = NotifySettings.model_validate(
        {"receivers": {"pos": {"type": "pos-printer", "printer": "lobby", "copies": 2}}}
    )
    assert notify.receivers["pos"].settings == {"printer": "lobby", "copies": 2}


def test_routes_must_name_known_receivers_and_quiet_hours():
    lines = problems({"routes": [{"receiver": "pager", "quiet_hours": ["night"]}]})
    assert lines == [
        "notify.routes[0].receiver = 'pager': unknown receiver; receivers: log",
        "notify.routes[0].quiet_hours = 'night': no [notify.quiet_hours.night]; "
        "defined: (none defined)",
    ]


def test_unknown_route_key_lists_the_allowed_keys():
    (line,) = problems({"routes": [{"receiver": "log", "contine": True}]})
    assert line == (
        "notify.routes[0].contine = True: unknown key; allowed keys: continue, group_by, "
        "group_interval, group_wait, matchers, quiet_hours, receiver, repeat_interval"
    )


def test_unknown_section_key_lists_the_allowed_keys():
    (line,) = problems({"reciever": {}})
    assert line.endswith("allowed keys: quiet_hours, receivers, routes")


@pytest.mark.parametrize(
    ("matchers", "fragment"),
    [
        ({"site": {"regex": "("}}, "is not a regular expression"),
        ({"site": {"like": "x"}}, "unknown operator 'like'"),
        ({"site": 3}, "write a text (equality) or a table"),
    ],
)
def test_bad_matchers_say_what_is_allowed(matchers, fragment):
    (line,) = problems({"routes": [{"receiver": "log", "matchers": matchers}]})
    assert line.startswith("notify.routes[0].matchers") and fragment in line


def test_group_by_and_durations_are_checked():
    lines = problems(
        {"routes": [{"receiver": "log", "group_by": ["site", "..."], "group_interval": "0s"}]}
    )
    assert any("'...' (group by every label) must be the only entry" in line for line in lines)
    assert any("group_interval" in line and "more than 0s" in line for line in lines)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("1h30m", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
        (2.5, timedelta(seconds=2.5)),
        (0, timedelta(0)),
    ],
)
def test_durations(text, expected):
    assert parse_interval(text) == expected


@pytest.mark.parametrize("text", ["soon", "-5s", "5", True, None, "99999999999d", float("inf")])
def test_bad_durations_raise_value_error(text):
    with pytest.raises(ValueError):
        parse_interval(text)


def test_matchers_as_text_and_as_table():
    assert Matcher.parse("severity=critical") == Matcher("severity", "=", "critical")
    assert Matcher.parse('site=~"grand-.*"') == Matcher("site", "=~", "grand-.*")
    assert Matcher.parse("team!~night.*").matches({"team": "day"})
    assert not Matcher.parse("team!=night").matches({"team": "night"})
    assert Matcher.parse("team=").matches({})  # a missing label is the empty string
    (regex,) = parse_matchers({"site": {"regex": "grand"}})
    assert not regex.matches({"site": "grand-kl"})  # anchored, as in Alertmanager
    with pytest.raises(ValueError, match="is not a matcher"):
        Matcher.parse("just text")


def test_quiet_hours_across_midnight_belong_to_the_day_they_start():
    kl = ZoneInfo("Asia/Kuala_Lumpur")
    night = QuietHours(weekdays=("fri",), times=("22:00-07:00",))

    def at(day: int, hour: int) -> datetime:  # 2026-11-20 is a Friday
        return datetime(2026, 11, day, hour, 30, tzinfo=kl).astimezone(UTC)

    assert night.contains(at(20, 23), kl)  # Friday night
    assert night.contains(at(21, 6), kl)  # Saturday early morning: still Friday's night
    assert not night.contains(at(21, 23), kl)  # Saturday night is not listed
    assert not night.contains(at(20, 7), kl)
    assert not night.contains(at(20, 21), kl)
    assert QuietHours(weekdays=("sun",)).contains(at(22, 12), kl)  # whole day
    lunch = QuietHours(times=("12:00-13:00",))
    assert lunch.contains(at(18, 12), kl) and not lunch.contains(at(18, 13), kl)


def test_bad_quiet_hours_are_refused():
    lines = problems({"quiet_hours": {"night": {"weekdays": ["monday"], "times": ["22:00"]}}})
    assert len(lines) == 2
    assert lines[0].startswith("notify.quiet_hours.night.weekdays[0] = 'monday'")
    assert lines[1].startswith("notify.quiet_hours.night.times[0] = '22:00': use HH:MM-HH:MM")


# -- any input either validates or is a ValidationError -------------------------

KEYS = [
    "receivers", "routes", "quiet_hours", "type", "url", "timeout", "headers", "host",
    "port", "from", "to", "urls", "path", "matchers", "receiver", "group_by", "group_wait",
    "group_interval", "repeat_interval", "continue", "weekdays", "times", "regex", "not",
    "send_resolved", "max_attempts", "backoff", "backoff_max", "ssl", "starttls", "subject",
    "password", "password_env", "username", "title", "log", "pager",
]  # fmt: skip
WORDS = [
    "log", "webhook", "email", "apprise", "plugin-x", "30s", "1h30m", "250ms", "0s", "-1s",
    "http://127.0.0.1/x", "a@b.example", "22:00-07:00", "mon", "...", "site", "(", ".*",
    "{status}", "{", "pager", "log", "night",
]  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.sampled_from(WORDS)
    | st.text(max_size=8)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
receiver_tables = st.fixed_dictionaries(
    {"type": st.sampled_from(["log", "webhook", "email", "apprise", "plugin-x"])},
    optional={k: values for k in ["url", "timeout", "host", "from", "to", "urls", "path"]},
)
plausible = st.fixed_dictionaries(
    {},
    optional={
        "receivers": st.dictionaries(st.sampled_from(["log", "pager", "x y"]), receiver_tables),
        "routes": st.lists(
            st.fixed_dictionaries(
                {"receiver": st.sampled_from(["log", "pager", "nobody"])},
                optional={k: values for k in ["matchers", "group_by", "group_wait", "continue"]},
            ),
            max_size=3,
        ),
        "quiet_hours": st.dictionaries(st.sampled_from(["night"]), values, max_size=1),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.dictionaries(st.sampled_from(KEYS), values, max_size=4), plausible, values))
def test_any_notify_table_validates_or_raises_a_validation_error(data):
    try:
        notify = NotifySettings.model_validate(data)
    except ValidationError as exc:
        assert all(isinstance(line, str) for line in describe(exc, NotifySettings))
        return
    # What validates can be shown (config show) and read back.
    NotifySettings.model_validate(notify.model_dump(mode="json"))


# -- the documentation stays true ---------------------------------------------------------


def test_every_notify_example_in_the_docs_validates():
    import re
    import tomllib
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "notifications.md").read_text("utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    for block in blocks:
        notify = tomllib.loads(block)["notify"]
        notify.setdefault("routes", [])  # fragments name receivers no route uses
        NotifySettings.model_validate(notify)


def test_every_builtin_setting_is_documented():
    from pathlib import Path

    from servicecycle.core.alerting import BUILTIN_SETTINGS, ReceiverConfig
    from servicecycle.core.alerting.strict import allowed_keys

    text = (Path(__file__).parent.parent / "docs" / "notifications.md").read_text("utf-8")
    for model in (*BUILTIN_SETTINGS.values(), ReceiverConfig):
        for key in allowed_keys(model):
            assert f"| `{key}` |" in text, f"docs/notifications.md: document `{key}`"
