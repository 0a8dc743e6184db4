"""One bad rule never stops the others.

A template that cannot be filled is refused where rules are loaded, with file
and line; a rule that fails while running is isolated, said once, and shown to
staff; every other rule goes on firing.
"""

from __future__ import annotations

import itertools
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from servicecycle.cli.main import cli
from servicecycle.core import PluginHost, Runtime, hookimpl
from servicecycle.core.rules import AlertBook, Alerting, PythonRule, Rule, RuleEngine
from servicecycle.core.rules.loader import parse_rules_text
from servicecycle.core.rules.rule import TEMPLATE_SAMPLES, render

from .conftest import BUILTIN, run_cli
from .test_rules_engine import rate, states

GOOD = """
[[rules]]
id = "site.fine"
kind = "single"
when = { moment = "check-in-wait", score = 1 }
summary = "{count} bad at {site}"
response = "Front office: see the guest at {site}."
"""


def _rules_file(summary: str, response: str = "Act.") -> str:
    return (
        GOOD
        + f"""
[[rules]]
id = "site.broken"
kind = "count"
when = {{ moment = "check-in-wait", score = 1 }}
window = "15m"
count = 1
summary = {summary!r}
response = {response!r}
"""
    )


@pytest.mark.parametrize(
    ("summary", "response", "message"),
    [
        ("{site:d} is bad", "Act.", "summary: {site:d}: the format spec 'd' cannot show site"),
        ("{mean:.1f}", "Act.", "summary: {mean:.1f}: the format spec '.1f' cannot show mean"),
        ("{count:99999999}", "Act.", "width and precision may be at most 300"),
        ("{count:{samples}}", "Act.", "a format spec cannot hold another field"),
        ("{site.upper}", "Act.", "unknown field {site.upper}; write fields plainly"),
        ("{site[0]}", "Act.", "unknown field {site[0]}"),
        ("{nope}", "Act.", "unknown field {nope}"),
        ("{site!x}", "Act.", "unknown conversion !x"),
        ("ok", "Call {manager}", "response: unknown field {manager}"),
        ("ok", "Go to {site:%Y}", "response: {site:%Y}"),
        ("{", "Act.", "summary: malformed template"),
    ],
)
def test_a_template_that_cannot_be_filled_is_refused_with_file_and_line(summary, response, message):
    text = _rules_file(summary, response)
    rules, problems = parse_rules_text(text, "site-rules.toml")
    assert [r.id for r, _ in rules] == ["site.fine"]  # the good rule still loads
    [problem] = problems
    assert problem.rule == "site.broken"
    assert problem.line == _line_of(
        text, "response" if message.startswith("response") else "summary"
    )
    assert message in problem.message
    assert str(problem).startswith(f"site-rules.toml:{problem.line}: rule 'site.broken':")


def _line_of(text: str, key: str) -> int:
    """The line of ``key`` inside the broken rule."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if "site.broken" in line)
    return next(n for n in range(start, len(lines)) if lines[n].startswith(f"{key} =")) + 1


def test_rules_check_names_file_and_line(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(_rules_file("{site:d} at the desk"))
    checked = run_cli("rules", "check", str(path))
    assert checked.returncode == 1
    line = _line_of(path.read_text(), "summary")
    assert f"{path}:{line}: rule 'site.broken': summary: {{site:d}}" in checked.stdout
    assert "Traceback" not in checked.stdout + checked.stderr


def test_a_plugin_rule_with_a_bad_template_is_refused_and_the_others_load(host):
    class Plugin:
        @hookimpl
        def register_rules(self, register):
            register(
                {
                    "id": "x.bad",
                    "kind": "single",
                    "when": {"score": 1},
                    "summary": "{site:d}",
                    "response": "Act.",
                }
            )

    host.add(Plugin(), "x")
    runtime = Runtime.open(plugins=host)
    alerting = Alerting(runtime)
    assert "x.bad" not in alerting.ruleset.rules
    assert "hotel.check-in-wait-streak" in alerting.ruleset.rules
    assert any("x.bad" in str(p) and "{site:d}" in str(p) for p in host.problems)
    runtime.close()


def test_a_python_rule_with_a_bad_template_is_refused():
    with pytest.raises(ValueError, match=r"response: \{site:d\}"):
        PythonRule(
            id="x.py", summary="ok", response="{site:d}", window="5m", evaluate=lambda o, n: None
        )


def test_the_response_is_a_template_too(catalogue):
    [(rule, _)], _ = parse_rules_text(GOOD, "x.toml")
    [(alert, _)] = RuleEngine([rule], catalogue).observe(rate(catalogue, 0, 1))
    assert alert.response == "Front office: see the guest at kl."


_PLAIN = st.text(st.characters(blacklist_characters="{}"), max_size=8)
_FIELD = st.sampled_from([*TEMPLATE_SAMPLES, "nope", "site.x", "count[0]", ""])
_SPEC = st.sampled_from(["", "d", ".1f", ">4", "^9", "x", "%Y", "s", ",", "05", "{x}", "9999"])
_CONVERSION = st.sampled_from(["", "!r", "!s", "!a", "!z"])
_PART = st.one_of(
    _PLAIN,
    st.builds(
        lambda f, c, s: "{" + f + c + (":" + s if s else "") + "}", _FIELD, _CONVERSION, _SPEC
    ),
    st.sampled_from(["{", "}", "{{", "}}"]),
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(_PART, max_size=5))
def test_a_template_that_loads_renders_for_every_value_its_fields_can_hold(parts):
    """The property the loader promises: refused, or fillable with every sample value."""
    template = "".join(parts) or "x"
    try:
        Rule.model_validate(
            {
                "id": "t.r",
                "kind": "single",
                "when": {"score": 1},
                "summary": template,
                "response": template,
            }
        )
    except ValidationError:
        return
    names = list(TEMPLATE_SAMPLES)
    for combination in itertools.islice(
        itertools.product(*(TEMPLATE_SAMPLES[n] for n in names)), 0, 200, 7
    ):
        template.format_map(dict(zip(names, combination, strict=True)))  # never raises


# -- at run time ---------------------------------------------------------------------


def _count_rule(rule_id: str, **extra) -> Rule:
    return Rule.model_validate(
        {
            "id": rule_id,
            "kind": "count",
            "when": {"score": 1},
            "window": "15m",
            "count": 1,
            "summary": "{count} at {moment}",
            "response": "Act.",
            **extra,
        }
    )


def _raising(observations, now):
    raise ZeroDivisionError("the plugin author divided by zero")


def test_a_rule_that_raises_is_isolated_and_said_once(catalogue, caplog):
    faults = []
    broken = PythonRule(id="x.raises", summary="x", response="y", window="10m", evaluate=_raising)
    engine = RuleEngine(
        [broken, _count_rule("t.ok")], catalogue, on_fault=lambda r, m: faults.append((r, m))
    )
    with caplog.at_level(logging.ERROR):
        first = engine.observe(rate(catalogue, 0, 1))
        for minute in range(1, 30):
            engine.observe(rate(catalogue, minute, 1))
            engine.tick(datetime(2026, 1, 5, 9, minute, tzinfo=UTC))
    assert states(first) == [("t.ok", None, "firing")]
    assert faults == [("x.raises", "ZeroDivisionError: the plugin author divided by zero")]
    assert engine.faults == {"x.raises": faults[0][1]}
    assert caplog.text.count("rule 'x.raises' failed") == 1


def test_a_value_its_template_cannot_show_still_fires_and_is_reported(catalogue):
    """A Python rule's own value where the template expects a number: shown plainly."""
    faults = []
    odd = PythonRule(
        id="x.odd",
        summary="{count:>4} lows",
        response="Look at {kiosk}.",
        window="10m",
        evaluate=lambda observations, now: {"count": object()},
        key_by=["kiosk"],
    )
    engine = RuleEngine([odd], catalogue, on_fault=lambda r, m: faults.append(r))
    [(alert, _)] = engine.observe(rate(catalogue, 0, 1))
    assert alert.summary.endswith(" lows") and alert.summary.startswith("<object object")
    assert alert.response == "Look at k1."
    assert faults == ["x.odd"]


def test_a_firing_alert_is_kept_while_its_rule_fails(catalogue):
    calls = itertools.count()

    def flaky(observations, now):
        if next(calls) == 0:
            return {"count": len(observations)}
        raise RuntimeError("flaky")

    engine = RuleEngine(
        [PythonRule(id="x.flaky", summary="{count}", response="y", window="5m", evaluate=flaky)],
        catalogue,
    )
    assert states(engine.observe(rate(catalogue, 0, 1))) == [("x.flaky", None, "firing")]
    assert engine.observe(rate(catalogue, 1, 1)) == []  # failing: neither resolved nor repeated
    assert [a.rule for a in engine.alerts()] == ["x.flaky"]


def test_staff_see_broken_rules_where_alerts_are_shown(tmp_path, host):
    class Plugin:
        @hookimpl
        def register_rules(self, register):
            register(
                PythonRule(
                    id="x.raises", summary="x", response="y", window="10m", evaluate=_raising
                )
            )
            register(
                {
                    "id": "x.bad",
                    "kind": "single",
                    "when": {"score": 1},
                    "summary": "{site:d}",
                    "response": "y",
                }
            )

    host.add(Plugin(), "x")
    runtime = Runtime.open(data_dir=tmp_path, plugins=host)
    alerting = Alerting(runtime)
    now = datetime.now(UTC)
    alerting.start(now)
    runtime.recorder.record(
        site="demo-site",
        kiosk="kiosk-1",
        cycle="health-emergency",
        moment="emergency-wait",
        score=1,
        language="en",
        at=now,
    )
    fired = alerting.poll(now + timedelta(seconds=1))
    assert "health.admission-furious" in [a.rule for a, _ in fired]
    faults = {(f.rule, f.stage) for f in AlertBook(runtime.store).faults()}
    assert {("x.raises", "run"), ("x.bad", "load")} <= faults
    alerting.poll(now + timedelta(seconds=2))
    assert len([f for f in alerting.faults() if f.rule == "x.raises"]) == 1
    # still broken after a restart: said again; once the plugin is fixed, gone
    again = Alerting(runtime)
    again.start(now + timedelta(seconds=3))
    assert {f.rule for f in again.faults()} == {"x.bad", "x.raises"}
    host.remove("x")
    fixed = Alerting(Runtime.open(data_dir=tmp_path, plugins=host))
    fixed.start(now + timedelta(seconds=4))
    assert fixed.faults() == []
    runtime.close()


def test_render_never_raises():
    heard = []
    assert render("{count:d}!", {"count": "x"}, heard.append) == "x!"
    assert heard and "cannot fill" in heard[0]
    assert render("{site}", {}) == "-"


def test_the_cli_shows_a_broken_rule_in_alerts_and_rules(tmp_path):
    """`alerts run` goes on and says the fault once; `alerts list` and `rules list` show it."""

    class Plugin:
        @hookimpl
        def register_rules(self, register):
            register(
                PythonRule(
                    id="x.raises", summary="x", response="y", window="10m", evaluate=_raising
                )
            )

    runner = CliRunner()

    def invoke(*args: str):
        host = PluginHost.discover(only=BUILTIN)
        host.add(Plugin(), "x")
        return runner.invoke(cli, ["--data-dir", str(tmp_path), *args], obj=host)

    for round in range(2):  # each run says it once, however many ratings it evaluates
        for _ in range(3):
            recorded = invoke(
                "record", "--cycle", "health-emergency", "--moment", "emergency-wait", "--score=1"
            )
            assert recorded.exit_code == 0, recorded.output
        ran = invoke("alerts", "run", "--once")
        assert ran.exit_code == 0, ran.output
        assert ran.stderr.count("rule x.raises failing: ZeroDivisionError") == 1
        if round == 0:  # the other rules went on
            assert "health.admission-furious" in ran.stdout, ran.output

    listed = invoke("alerts", "list")
    assert "✗ rule x.raises failing: ZeroDivisionError: the plugin author" in listed.stdout
    assert "health.admission-furious" in listed.stdout
    as_json = invoke("alerts", "list", "--json")
    assert [a["rule"] for a in json.loads(as_json.stdout)] == ["health.admission-furious"]
    assert "x.raises failing" in as_json.stderr

    table = invoke("rules", "list")
    [row] = [line for line in table.stdout.splitlines() if "x.raises" in line]
    assert "failing" in row
    assert "x.raises failing" in table.stderr
    rows = {r["id"]: r for r in json.loads(invoke("rules", "list", "--json").stdout)}
    assert rows["x.raises"]["status"] == "failing"
    assert rows["x.raises"]["fault"].startswith("ZeroDivisionError")
    assert rows["health.admission-furious"] == {
        **rows["health.admission-furious"],
        "status": "active",
        "fault": None,
    }
