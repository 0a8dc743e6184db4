"""Every file and every plugin's data gets a clear error, never a traceback.

Hypothesis takes real files of the project (a plugin's rules, its rule tests,
its cycle template, a full site configuration) and breaks them the way people
and tools do: a value replaced by something hostile (nested ten thousand deep,
an integer of thousands of digits, a NUL, a duration that overflows, a huge
string), bytes that are not UTF-8, lines that are not TOML. Only the project's
own errors may come out, and they name the file and the field (or the line).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.core import (
    Catalogue,
    PluginHost,
    Runtime,
    ServiceCycleError,
    hookimpl,
    load_config,
    load_cycle,
)
from servicecycle.core.rules import site_ruleset
from servicecycle.core.rules.checks import run_rule_tests
from servicecycle.core.rules.loader import ruleset_from_files

ROOT = Path(__file__).resolve().parent.parent

HOSTILE = [
    "[" * 3000 + "]" * 3000,
    "[" * 40 + "]" * 40,
    "9" * 5000,
    "9" * 30,
    "-" + "9" * 400,
    '"\\u0000"',
    '"a\\u0000b"',
    '"' + "x" * 100_000 + '"',
    '"99999999999999999999d"',
    '"1h99999999999999m"',
    '"' + "9" * 40 + 's"',
    '"0s"',
    '"-5m"',
    "1e400",
    "-1e400",
    "inf",
    "nan",
    "1e308",
    "-0",
    "0",
    "true",
    "{}",
    "[]",
    "{a = {b = {c = {d = 1}}}}",
    '"{site:d}"',
    '"{count:{samples}}"',
    '"[/x]"',
    '"\\u202eevil"',
    '"25:99-26:00"',
    '"9999-99-99"',
    "1979-05-27T07:32:00Z",
    "07:32:00",
    '"Europe/Nowhere"',
    '"../../../../etc/passwd"',
    '"\\u0085"',
    '"🙂"',
    "'''multi\nline'''",
]

SITE = """[site]
id = "grand-kl"
name = "Grand KL"
timezone = "Asia/Kuala_Lumpur"

[site.opening_hours]
mon = ["08:00-22:00"]
sat = ["09:00-12:00", "13:00-18:00"]

[kiosk]
id = "lobby-1"
cycle = "hotel-guest"
moment = "check-in-wait"
languages = ["en", "ms"]
repeat_gap = "2s"
low_threshold = 2

[survey]
url = "http://survey.example/{token}"
token_ttl = "7d"

[rules]
disable = ["hotel.check-in-wait-streak"]

[rules.override."hotel.critical-below-target"]
below = 3.0
window = "2h"

[notify.receivers.ops]
type = "webhook"
url = "http://127.0.0.1:9/hook"
timeout = "2s"
backoff = "250ms"

[[notify.routes]]
receiver = "ops"
group_wait = "30s"
repeat_interval = "4h"

[notify.quiet_hours.night]
weekdays = ["mon", "tue"]
times = ["22:00-06:00"]
"""

SOURCES = {
    "rules": (ROOT / "plugins" / "hotel" / "rules.toml").read_text(encoding="utf-8"),
    "rule tests": (ROOT / "plugins" / "hotel" / "rules_test.toml").read_text(encoding="utf-8"),
    "cycle": (ROOT / "plugins" / "banking" / "cycle.toml").read_text(encoding="utf-8"),
    "site config": SITE,
}
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def test_the_sources_are_valid_to_begin_with(catalogue, tmp_path):
    for kind, text in SOURCES.items():
        tomllib.loads(text)
        path = tmp_path / "f.toml"
        path.write_text(text)
        assert _load(kind, path, catalogue) == [], kind


def _load(kind: str, path: Path, catalogue: Catalogue) -> list[str]:
    """Load ``path`` as ``kind``: the problems found (raising only the project's errors)."""
    if kind == "rules":
        return [str(p) for p in ruleset_from_files([path], catalogue).problems]
    if kind == "rule tests":
        (path.parent / "rules.toml").write_text(SOURCES["rules"], encoding="utf-8")
        failures = [f for r in run_rule_tests(path, catalogue) for f in r.failures]
        return [str(f) for f in failures]
    if kind == "cycle":
        load_cycle(path)
        return []
    config = load_config(path)
    host = PluginHost.discover(only={"hotel", "health", "banking"})
    runtime = Runtime.open(config, plugins=host)
    runtime.kiosk_moment()
    from servicecycle.core.alerting import Dispatcher

    Dispatcher.from_config(config, runtime.store, host, start=False).close()
    problems = [str(p) for p in site_ruleset(runtime).problems]
    runtime.close()
    return problems


@st.composite
def broken(draw: st.DrawFn) -> tuple[str, bytes, str | None, int]:
    """(kind, file bytes, the key whose value was replaced, its line number)."""
    kind = draw(st.sampled_from(sorted(SOURCES)))
    lines = SOURCES[kind].splitlines()
    candidates = [i for i, line in enumerate(lines) if _ASSIGNMENT.match(line)]
    index = draw(st.sampled_from(candidates))
    key = _ASSIGNMENT.match(lines[index])[1].strip("\"'")  # type: ignore[index]
    value = draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30).map(repr)))
    lines[index] = f"{lines[index].split('=', 1)[0]}= {value}"
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    damage = draw(st.sampled_from(["none", "none", "bytes", "nul", "garbage"]))
    if damage != "none":
        at = draw(st.integers(0, len(data)))
        junk = {"bytes": b"\xff\xfe\xc3", "nul": b"\x00", "garbage": b"\n[[[ = ]]\n"}[damage]
        data = data[:at] + junk + data[at:]
        key = None
    return kind, data, key, index + 1


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=broken())
def test_a_broken_file_gives_a_clear_error_naming_file_and_field(catalogue, tmp_path, case):
    kind, data, key, line = case
    path = tmp_path / "broken.toml"
    path.write_bytes(data)
    try:
        problems = _load(kind, path, catalogue)
    except ServiceCycleError as exc:
        problems = [str(exc)]
    for problem in problems:
        assert "Traceback" not in problem
        assert len(problem) < 5000, problem[:300]
    if problems and key is not None and kind != "rule tests":
        text = "\n".join(problems)
        assert str(path) in text or (kind == "rules" and "broken.toml" in text), text[:500]
        assert key.split(".")[-1] in text or f"line {line}" in text or f":{line}" in text, (
            key,
            line,
            text[:800],
        )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(sorted(SOURCES)), data=st.binary(max_size=400))
def test_any_bytes_at_all(catalogue, tmp_path, kind, data):
    path = tmp_path / "noise.toml"
    path.write_bytes(data)
    try:
        _load(kind, path, catalogue)
    except ServiceCycleError as exc:
        assert str(path) in str(exc) or "noise.toml" in str(exc)


# -- what plugins hand in ----------------------------------------------------------------

CYCLE = tomllib.loads(SOURCES["cycle"]) | {"id": "fuzz-branch"}
RULES = [
    {**rule, "id": "fuzz." + rule["id"].split(".", 1)[1], "cycle": "banking-branch"}
    for rule in tomllib.loads((ROOT / "plugins" / "banking" / "rules.toml").read_text())["rules"]
]


def _deep(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


PYTHON_VALUES = st.sampled_from(
    [
        None,
        float("nan"),
        float("inf"),
        10**5000,
        2**64,
        -1,
        b"bytes",
        object(),
        _deep(10_000),
        {"a": {"b": {}}},
        "x" * 100_000,
        "\x00",
        True,
        (),
        set(),
        "\ud800",
        "{site:d}",
    ]
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    found = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        found.append((*prefix, key))
        found += _paths(child, (*prefix, key))
    return found


def _replaced(value: object, path: tuple, new: object) -> object:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: _replaced(v, rest, new) if k == head else v for k, v in value.items()}
    return [_replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]  # type: ignore[union-attr]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_plugin_handing_in_anything_is_reported_by_name(data):
    cycle, rules = CYCLE, RULES
    if data.draw(st.booleans(), label="break the cycle"):
        path = data.draw(st.sampled_from(_paths(CYCLE)), label="cycle field")
        cycle = _replaced(CYCLE, path, data.draw(PYTHON_VALUES, label="value"))
    else:
        path = data.draw(st.sampled_from(_paths(RULES)), label="rule field")
        rules = _replaced(RULES, path, data.draw(PYTHON_VALUES, label="value"))

    class Fuzzed:
        @hookimpl
        def register_cycles(self, register):
            register(cycle)

        @hookimpl
        def register_rules(self, register):
            for rule in rules:
                register(rule)

    host = PluginHost.discover(only={"banking"})
    host.add(Fuzzed(), "fuzzed")
    runtime = Runtime.open(plugins=host)
    site_ruleset(runtime)
    runtime.close()
    for problem in host.problems:
        assert problem.plugin == "fuzzed", problem
        assert len(str(problem)) < 5000, str(problem)[:400] + " ... " + str(problem)[-400:]


@pytest.mark.parametrize(
    "value",
    ["[" * 3000 + "]" * 3000, "9" * 5000, '"99999999999999999999999d"', "1e400"],
)
def test_the_worst_values_in_a_site_config_name_the_field(tmp_path, value):
    path = tmp_path / "site.toml"
    path.write_text(SITE.replace('repeat_gap = "2s"', f"repeat_gap = {value}"))
    with pytest.raises(ServiceCycleError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "repeat_gap" in message or "line 15" in message, message


@pytest.mark.parametrize("kind", ["rule tests", "rules", "config"])
def test_a_huge_value_is_quoted_short_in_the_error(catalogue, tmp_path, kind):
    """Found by the fuzzer: a 100,000-character moment id was quoted whole."""
    huge = "x" * 100_000
    text = {
        "rule tests": (
            f'rule_files = ["rules.toml"]\n[[tests]]\nname = "t"\n[[tests.ratings]]\nat = "0m"\nmoment = "{huge}"\n'
            'score = 1\n[[tests.expect]]\nat = "1m"\nfiring = []\n'
        ),
        "rules": f'[[rules]]\nid = "a.b"\nkind = "single"\nwhen = {{ moment = "{huge}" }}\n'
        'summary = "x"\nresponse = "y"\n',
        "config": f'[notify.receivers.x]\ntype = "webhook"\nurl = "https://a.example/"\n'
        f'headers = {{ "{huge}:" = "v" }}\n',
    }[kind]
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    try:
        problems = _load(kind, path, catalogue)
    except ServiceCycleError as exc:
        problems = [str(exc)]
    assert problems and all(len(problem) < 5000 for problem in problems), problems[0][:300]
