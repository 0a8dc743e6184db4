"""Rules as data: validation with file, line and id; plugin and site sources; fuzzing."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.core import PluginHost, Runtime, hookimpl
from servicecycle.core.rules import PythonRule, Rule, compile_conditions, site_ruleset
from servicecycle.core.rules.conditions import ConditionError
from servicecycle.core.rules.loader import parse_rules_text

GOOD = """
[[rules]]
id = "cafe.slow"
kind = "count"
when = { moment = "check-in-wait", score = { le = 2 } }
window = "15m"
count = 3
summary = "{count} slow in {window}"
response = "Open another desk."
"""


def problems_of(text: str) -> list[str]:
    _rules, problems = parse_rules_text(textwrap.dedent(text), "site-rules.toml")
    return [str(p) for p in problems]


def test_a_good_rule_loads_with_its_line():
    rules, problems = parse_rules_text(GOOD, "x.toml")
    assert problems == []
    [(rule, line)] = rules
    assert (rule.id, line) == ("cafe.slow", 2)
    assert rule.window.total_seconds() == 900


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("count = 3", None),
        (
            'kind = "sometimes"',
            "site-rules.toml:4: rule 'cafe.slow': kind = 'sometimes': Input should be",
        ),
        (
            'colour = "red"',
            "site-rules.toml:10: rule 'cafe.slow': colour: unknown key; allowed keys:",
        ),
        ('window = "15 minutes"', "site-rules.toml:6: rule 'cafe.slow': window = '15 minutes'"),
        ('window = "30d"', "window = 30d: must be between 1s and 7d"),
        ('window = "0s"', "must be between 1s and 7d"),
        ('summary = "{count} slow at {colour}"', "summary: unknown field {colour}; fields: rule"),
        ('summary = "{count"', "malformed template"),
        (
            'severity = "panic"',
            "severity = 'panic': Input should be 'critical', 'warning' or 'info'",
        ),
        ("share = 0.5", "share: not used by a count rule"),
        ("resolve_count = 9", "resolve_count = 9: must not exceed count = 3"),
        ('key_by = ["room"]', "key_by[0] = 'room'"),
        (
            'when = { moment = { like = "x" } }',
            "unknown operator 'like' for text field 'moment'; operators: eq, ne, in, not_in",
        ),
        ('when = { mood = "sad" }', "unknown field 'mood'; fields: score"),
        ('when = { score = { le = "two" } }', "when.score.le = 'two': expected a number"),
        (
            'when = { time_of_day = { between = ["8", "20:00"] } }',
            "two times as ['HH:MM', 'HH:MM']",
        ),
    ],
)
def test_bad_rules_name_file_line_id_and_what_is_allowed(change, expected):
    key = change.split(" =")[0]
    lines = GOOD.splitlines()
    if any(line.startswith(f"{key} =") for line in lines):
        lines = [change if line.startswith(f"{key} =") else line for line in lines]
    else:
        lines.append(change)
    text = "\n".join(lines) + "\n"
    found = problems_of(text)
    if expected is None:
        assert found == []
    else:
        assert any(expected in p for p in found), found


def test_malformed_toml_and_duplicates():
    assert "site-rules.toml:3: malformed TOML" in problems_of('[[rules]]\nid = "x"\nkind = \n')[0]
    rules, _problems = parse_rules_text(GOOD + GOOD.replace("[[rules]]", "[[rules]]"), "x.toml")
    assert len(rules) == 2  # the parser keeps both; the rule set refuses the second
    from servicecycle.core.rules import RuleSet

    ruleset = RuleSet()
    for rule, line in rules:
        ruleset.add(rule, f"x.toml:{line}", line)
    assert "duplicate id; already defined by x.toml:2" in str(ruleset.problems[0])


def test_one_bad_rule_never_stops_the_others():
    text = GOOD + GOOD.replace('"cafe.slow"', '"cafe.broken"').replace("count = 3", "count = 0")
    rules, problems = parse_rules_text(text, "x.toml")
    assert [r.id for r, _ in rules] == ["cafe.slow"]
    assert len(problems) == 1 and "cafe.broken" in str(problems[0])


class Subject:
    def __init__(self, **fields):
        self.__dict__.update(fields)


@pytest.mark.parametrize(
    ("spec", "fields", "expected"),
    [
        ({"score": {"le": 2}}, {"score": 2}, True),
        ({"score": {"lt": 2}}, {"score": 2}, False),
        ({"score": {"ge": 4}}, {"score": 5}, True),
        ({"score": {"gt": 4}}, {"score": 4}, False),
        ({"score": {"ne": 3}}, {"score": 3}, False),
        ({"score": [1, 2]}, {"score": 1}, True),
        ({"moment": {"not_in": ["a", "b"]}}, {"moment": "c"}, True),
        ({"critical": True}, {"critical": False}, False),
        ({"reasons": {"any": ["x", "y"]}}, {"reasons": ("y",)}, True),
        ({"reasons": {"all": ["x", "y"]}}, {"reasons": ("y",)}, False),
        ({"reasons": {"none": ["x"]}}, {"reasons": ("y",)}, True),
        ({"reasons": {"empty": True}}, {"reasons": ()}, True),
        ({"reasons": "x"}, {"reasons": ("x", "z")}, True),
        ({"time_of_day": {"between": ["22:00", "06:00"]}}, {"time_of_day": "23:30"}, True),
        ({"time_of_day": {"between": ["22:00", "06:00"]}}, {"time_of_day": "12:00"}, False),
        ({"time_of_day": {"not_between": ["08:00", "20:00"]}}, {"time_of_day": "07:59"}, True),
        ({"weekday": ["sat", "sun"]}, {"weekday": "sun"}, True),
        ({"score": 1, "moment": "m"}, {"score": 1, "moment": "n"}, False),
    ],
)
def test_operator_table(spec, fields, expected):
    assert compile_conditions(spec)(Subject(**fields)) is expected


def test_no_eval_anywhere():
    with pytest.raises(ConditionError):
        compile_conditions({"__import__('os').system('true')": 1})


RULE_KEYS = [*sorted(Rule.model_fields), "for", "colour"]
toml_values = st.one_of(
    st.integers(-3, 50).map(str),
    st.sampled_from(
        [
            '"15m"',
            '"0s"',
            '"99d"',
            '"count"',
            '"single"',
            '"share"',
            '"mean"',
            '"silence"',
            '"target"',
            '"{count}"',
            '"{nope}"',
            "0.5",
            "1.5",
            "true",
            '["site"]',
            '["kiosk", "moment"]',
            '["room"]',
            "{ score = { le = 2 } }",
            "{ score = { like = 2 } }",
            "{ mood = 1 }",
            "{ critical = true }",
            "[]",
            "{}",
        ]
    ),
    st.text(alphabet='abc{}[]"= \n', max_size=10),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(RULE_KEYS), toml_values, max_size=10))
def test_fuzzed_rule_files_give_rules_or_precise_problems(fields):
    body = "\n".join(f"{key} = {value}" for key, value in fields.items())
    rules, problems = parse_rules_text(f"[[rules]]\n{body}\n", "fuzz.toml")
    assert len(rules) + len(problems) >= 1
    for problem in problems:
        assert str(problem).startswith("fuzz.toml")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_rules_or_problems(text):
    _rules, problems = parse_rules_text(text, "fuzz.toml")
    assert all(str(p).startswith("fuzz.toml") for p in problems)


# -- sources -----------------------------------------------------------------------


def test_hook_register_rules(tmp_path):
    class Plugin:
        @hookimpl
        def register_rules(self, register):
            register(
                {
                    "id": "cafe.any-one",
                    "kind": "single",
                    "when": {"score": 1},
                    "summary": "a 1 at {kiosk}",
                    "response": "Go.",
                    "key_by": ["kiosk"],
                }
            )
            register({"id": "cafe.bad", "kind": "single", "summary": "x", "response": "y"})
            register(
                PythonRule(
                    id="cafe.same-reason-twice",
                    summary="same reason twice",
                    response="Look.",
                    window="10m",
                    evaluate=lambda obs, now: {} if len(obs) >= 2 else None,
                )
            )
            register(42)

    host = PluginHost.discover(only={"hotel"})
    host.add(Plugin(), "cafe")
    runtime = Runtime.open(data_dir=tmp_path, plugins=host)
    ruleset = site_ruleset(runtime)
    assert {"cafe.any-one", "cafe.same-reason-twice", "hotel.bill-dispute"} <= set(ruleset.rules)
    assert ruleset.rules["cafe.any-one"].origin == "plugin cafe"
    messages = [str(p) for p in ruleset.problems]
    assert any("cafe.bad" in m and "when: a single rule needs conditions" in m for m in messages)
    assert any("not int" in m for m in messages)
    assert {p.plugin for p in host.problems} == {"cafe"}
    assert "cafe.any-one" in host.infos["cafe"].registered["rules"]


def test_site_adds_disables_and_overrides(tmp_path, host):
    extra = tmp_path / "extra.toml"
    extra.write_text(GOOD.replace("cafe.slow", "site.slow-check-in"))
    config = tmp_path / "site.toml"
    config.write_text(
        textwrap.dedent(
            """
            [rules]
            files = ["extra.toml"]
            disable = ["hotel.kiosk-silent", "no.such-rule"]
            [rules.override."hotel.check-in-wait-streak"]
            count = 5
            severity = "warning"
            [rules.override."hotel.bill-dispute"]
            window = "-1m"
            [[rules.add]]
            id = "site.any-bad-room"
            kind = "single"
            cycle = "hotel-guest"
            when = { moment = "room-assigned", score = { le = 2 } }
            summary = "room rated {score}"
            response = "Housekeeping lead checks the room."
            """
        )
    )
    runtime = Runtime.open(config, data_dir=tmp_path / "data", plugins=host)
    ruleset = site_ruleset(runtime)
    assert "site.slow-check-in" in ruleset.rules
    assert "site.any-bad-room" in ruleset.rules
    assert "hotel.kiosk-silent" in ruleset.disabled
    streak = ruleset.rules["hotel.check-in-wait-streak"]
    assert (streak.rule.count, streak.rule.severity) == (5, "warning")
    assert streak.changed_by_site == ["override: count=5, severity='warning'"]
    messages = [str(p) for p in ruleset.problems]
    assert any("no.such-rule" in m and "no such rule" in m for m in messages)
    assert any("hotel.bill-dispute" in m and "window" in m for m in messages)
    assert ruleset.rules["hotel.bill-dispute"].changed_by_site == []  # bad override left it alone


def test_rules_naming_unknown_moments_are_refused(tmp_path, host):
    runtime = Runtime.open(data_dir=tmp_path, plugins=host)
    from servicecycle.core.rules import RuleSet
    from servicecycle.core.rules.loader import check_against_catalogue

    ruleset = RuleSet()
    rules, _ = parse_rules_text(
        GOOD.replace('kind = "count"', 'kind = "count"\ncycle = "banking-branch"'), "x.toml"
    )
    ruleset.add(rules[0][0], "x.toml:2")
    check_against_catalogue(ruleset, runtime.catalogue)
    assert "when.moment: 'check-in-wait' not a moment of cycle 'banking-branch'" in str(
        ruleset.problems[0]
    )
