"""Site configuration: defaults, overrides and precise refusals."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.core import Config, ConfigError, Runtime, load_config
from servicecycle.core.config import resolve_data_dir


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_defaults_need_no_file():
    config = load_config()
    assert config.source == "embedded defaults"
    assert config.site.id == "demo-site"
    assert config.kiosk.languages == ("en", "ms", "ru", "tr")


def test_file_overrides_and_relative_data_dir(tmp_path):
    path = write(
        tmp_path,
        """
        data_dir = "var/data"
        [site]
        id = "grand-kl"
        name = "Grand Hotel Kuala Lumpur"
        timezone = "Asia/Kuala_Lumpur"
        opening_hours = { mon = ["08:00-12:00", "13:00-17:30"], sat = ["10:00-24:00"] }
        [kiosk]
        id = "lobby-1"
        cycle = "hotel-guest"
        moment = "bill-accuracy"
        languages = ["ms", "en"]
        scale = 4
        """,
    )
    config = load_config(path)
    assert config.data_dir == (tmp_path / "var" / "data").resolve()
    assert config.site.zone.key == "Asia/Kuala_Lumpur"
    assert config.kiosk.scale == 4
    assert config.site.is_open(0, time(9, 0))
    assert not config.site.is_open(0, time(12, 30))
    assert config.site.is_open(5, time(23, 59))
    assert not config.site.is_open(6, time(12, 0))  # Sunday: not listed, closed
    assert Config().site.is_open(6, time(12, 0))  # the default: every day 07:00-23:00
    assert not Config().site.is_open(6, time(3, 0))
    always = Config.model_validate({"site": {"opening_hours": {}}})
    assert always.site.is_open(6, time(3, 0))  # an empty table: always open


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[site]\nnmae = "x"\n', "site.nmae: unknown key; allowed keys: id, name, opening_hours"),
        (
            '[site]\ntimezone = "Mars/Olympus"\n',
            "site.timezone = 'Mars/Olympus': unknown time zone",
        ),
        ("[kiosk]\nscale = 7\n", "kiosk.scale = 7: Input should be 4 or 5"),
        ('[kiosk]\nid = "has space"\n', "kiosk.id = 'has space'"),
        ('[kiosk]\nlanguages = ["english"]\n', "kiosk.languages[0] = 'english'"),
        ('[site]\nopening_hours = { mon = ["9-5"] }\n', "use HH:MM-HH:MM"),
        ('[site]\nopening_hours = { mon = ["18:00-08:00"] }\n', "must end after it starts"),
        ('[site]\nopening_hours = { funday = ["08:00-09:00"] }\n', "funday"),
        ('[survey]\nurl = "http://x/s/"\n', "must contain {token}"),
        (
            'colour = "blue"\n',
            "colour: unknown key; allowed keys: data_dir, hub, kiosk, notify, rules, site, store, survey",
        ),
        ("[site\n", "malformed TOML"),
        ("site = 3\n", "site = 3"),
    ],
)
def test_bad_config_names_file_key_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message, message


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_config_from_environment(tmp_path, monkeypatch):
    path = write(tmp_path, '[site]\nid = "from-env"\n')
    monkeypatch.setenv("SERVICECYCLE_CONFIG", str(path))
    assert load_config().site.id == "from-env"


def test_data_dir_precedence(tmp_path, monkeypatch):
    config = Config(data_dir=tmp_path / "from-config")
    monkeypatch.setenv("SERVICECYCLE_DATA_DIR", str(tmp_path / "from-env"))
    assert resolve_data_dir(config, tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_dir(config) == tmp_path / "from-env"
    monkeypatch.delenv("SERVICECYCLE_DATA_DIR")
    assert resolve_data_dir(config) == tmp_path / "from-config"
    assert resolve_data_dir(Config()).name == "servicecycle"


def test_kiosk_moment_defaults_and_errors(host, tmp_path):
    rt = Runtime.open(data_dir=tmp_path, plugins=host)
    cycle, _, moment = rt.kiosk_moment()
    assert (cycle.id, moment.critical) == ("hotel-guest", True)
    assert rt.kiosk_moment("banking-branch")[2].id == "wait-time"
    with pytest.raises(ConfigError, match=r"kiosk\.moment = 'nap'"):
        rt.kiosk_moment("banking-branch", "nap")
    with pytest.raises(ConfigError, match=r"kiosk\.cycle = 'spa': unknown"):
        rt.kiosk_moment("spa")


toml_scalars = st.one_of(
    st.integers(-5, 10).map(str),
    st.text(alphabet="abcXYZ09-_ /:{}", max_size=12).map(lambda s: '"' + s + '"'),
    st.sampled_from(["true", "[]", '["en"]', "{}", "1.5"]),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    section=st.sampled_from(["site", "kiosk", "survey", "other"]),
    key=st.sampled_from(["id", "name", "timezone", "cycle", "scale", "languages", "url", "x"]),
    value=toml_scalars,
)
def test_any_config_is_loaded_or_refused_with_the_file_named(tmp_path, section, key, value):
    path = write(tmp_path, f"[{section}]\n{key} = {value}\n")
    try:
        load_config(path)
    except ConfigError as exc:
        assert exc.source == str(path)
        assert exc.problems
