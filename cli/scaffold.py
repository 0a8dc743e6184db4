"""The files of a new plugin package, as `servicecycle plugin new` writes them.

Templates use ``string.Template`` (``$name``), so TOML and Python braces stay as they are.

Every id the plugin registers is made from its name — the cycle ``$dash``, its
moments ``$dash-...``, its rules ``$name....`` — so two plugins made with
``plugin new`` never clash with each other (their names differ), and a rule
written without a cycle (``when = { moment = ... }``) never matches another
plugin's moment. :func:`ids` lists them, for `plugin new` to check against
what is installed.
"""

from __future__ import annotations

import re
from string import Template

FILES: dict[str, str] = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "servicecycle-$dash"
version = "0.1.0"
description = "servicecycle plugin: the $title service cycle and its alert rules"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["servicecycle"]

[project.optional-dependencies]
test = ["pytest>=8"]

# This line is what makes servicecycle find the plugin.
[project.entry-points.servicecycle]
$name = "servicecycle_$name"

[tool.setuptools.package-data]
"*" = ["*.toml"]
""",
    "README.md": """\
# servicecycle-$dash

A [servicecycle](https://pypi.org/project/servicecycle/) plugin: the $title service
cycle (stages and moments of truth, critical ones marked) and alert rules for it.

```sh
pip install -e '.[test]'             # the plugin (servicecycle finds it), and pytest for its tests
servicecycle plugins                 # $name is listed, with what it registers
servicecycle cycles $dash            # the service map of the cycle
servicecycle plugin check $name      # translations, reasons, rules and rule tests
pytest                               # the plugin's own tests (needs the test extra above)
```

Its ids are made from its name — cycle `$dash`, moments `$dash-welcome`,
`$dash-service-wait`, `$dash-payment`, rule `$name.slow-service` — so
they never clash with another plugin's. Keep that when you add your own.

- `src/servicecycle_$name/cycle.toml`: the cycle template (see servicecycle's docs/configuration.md).
- `src/servicecycle_$name/rules.toml`: alert rules (docs/rules.md).
- `src/servicecycle_$name/rules_test.toml`: rule tests (`servicecycle rules test ...`).
""",
    "src/servicecycle_$name/__init__.py": '''\
"""servicecycle plugin: the $title service cycle and the alert rules that watch it."""

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from servicecycle.core import Cycle, hookimpl, load_cycle


@hookimpl
def register_cycles(register: Callable[[Cycle], None]) -> None:
    register(load_cycle(files(__name__) / "cycle.toml"))


@hookimpl
def register_rules(register: Callable[[Any], None]) -> None:
    register(files(__name__) / "rules.toml")
''',
    "src/servicecycle_$name/cycle.toml": """\
# The $title service cycle, drawn from the customer's side: what they go through
# to get one need met. Add languages to `languages` and a text in each to every
# table below (`servicecycle plugin check $name` lists what is missing).
id = "$dash"
industry = "$dash"
scale = 5
languages = ["en"]

[name]
en = "$title visit"

[description]
en = "The customer wants their need met quickly, correctly and kindly."

[[stages]]
id = "arrival"
[stages.name]
en = "Arrival"

[[stages.moments]]
id = "$dash-welcome"
critical = false
target = 4.0
reasons = ["apathy", "coldness", "insufficient-availability"]
praise = ["friendly-staff"]
[stages.moments.name]
en = "Welcome"
[stages.moments.question]
en = "How were you welcomed?"

[[stages]]
id = "service"
[stages.name]
en = "Service"

[[stages.moments]]
id = "$dash-service-wait"
critical = true
target = 4.4
reasons = ["lost-time", "wrong-pace", "lack-of-reaction"]
praise = ["quick-service"]
[stages.moments.name]
en = "Wait to be served"
[stages.moments.question]
en = "How was the wait to be served?"

[[stages]]
id = "payment"
[stages.name]
en = "Payment"

[[stages.moments]]
id = "$dash-payment"
critical = true
target = 4.5
reasons = ["bad-information", "rule-book", "runaround"]
praise = ["clear-information"]
[stages.moments.name]
en = "Bill"
[stages.moments.question]
en = "Was your bill correct and clear?"
""",
    "src/servicecycle_$name/rules.toml": """\
# Alert rules for the $title cycle (servicecycle docs/rules.md).

[[rules]]
id = "$name.slow-service"
kind = "count"
cycle = "$dash"
severity = "critical"
when = { moment = "$dash-service-wait", score = { le = 2 } }
window = "15m"
count = 3
key_by = ["site"]
summary = "{count} customers unhappy with the wait in {window} (reasons: {top_reasons})"
response = "Shift lead: add a second server to the counter now and greet the queue."

# A critical moment worse than its own normal for this time of the week (the same part
# of the week over the last 8 weeks): about one false alarm per moment every 90 days.
[[rules]]
id = "$name.critical-drift"
kind = "drift"
cycle = "$dash"
scope = { critical = true }
figure = "mean"
shift = 0.5
false_alarm_every = "90d"
key_by = ["site", "moment"]
summary = "{moment_name}: {change}"
response = "Manager: this moment is worse than usual since {since}; check staffing and the top reasons ({top_reasons})."
""",
    "src/servicecycle_$name/rules_test.toml": """\
# Rule tests: `servicecycle rules test src/servicecycle_$name/rules_test.toml`
rule_files = ["rules.toml"]

[[tests]]
name = "three unhappy waits within 15 minutes alert the shift lead"
[[tests.ratings]]
at = "0m"
moment = "$dash-service-wait"
score = 1
repeat = 3
every = "2m"
[[tests.expect]]
at = "3m"
firing = []
[[tests.expect]]
at = "5m"
firing = ["$name.slow-service"]

[[tests]]
name = "good waits never alert"
[[tests.ratings]]
at = "0m"
moment = "$dash-service-wait"
score = 5
repeat = 10
[[tests.expect]]
at = "12m"
firing = []

[[tests]]
name = "a wait one point worse than its nine-week normal alerts within a day"
[[tests.ratings]]
at = "0m"
moment = "$dash-service-wait"
scores = [5, 4, 5, 4, 3, 5, 4, 2, 5, 4]
repeat = 3024
every = "30m"
[[tests.ratings]]
at = "63d"
moment = "$dash-service-wait"
scores = [3, 4, 2, 3, 3, 4, 2, 3, 1, 4]
repeat = 48
every = "30m"
[[tests.expect]]
at = "63d"
firing = []
[[tests.expect]]
at = "64d"
firing = ["$name.critical-drift"]
summary = { "$name.critical-drift" = "Wait to be served: mean" }
""",
    "tests/test_$name.py": '''\
"""Tests of the $name plugin, with servicecycle's plugin testing kit."""

from importlib.resources import files

import servicecycle_$name
from servicecycle.testing import assert_valid_plugin


def test_plugin_registers_a_valid_cycle_and_rules(plugin_tester):
    report = assert_valid_plugin(plugin_tester(servicecycle_$name, "$name"))
    assert report.cycles == ["$dash"]
    assert report.rules == ["$name.critical-drift", "$name.slow-service"]


def test_rule_tests_pass(plugin_tester):
    tester = plugin_tester(servicecycle_$name, "$name")
    tester.run_rule_tests(files(servicecycle_$name) / "rules_test.toml")


def test_three_slow_waits_alert(plugin_tester):
    feed = plugin_tester(servicecycle_$name, "$name").feed()
    feed.rate("$dash-service-wait", score=1, at="0m", repeat=3, every="2m")
    assert feed.firing(at="5m") == {"$name.slow-service"}
''',
}


#: The moments of the template's cycle, after the ``$dash-`` prefix.
MOMENTS = ("welcome", "service-wait", "payment")
#: The longest plugin name whose ids are all valid (an id has at most 40 characters).
MAX_NAME = 40 - 1 - max(len(moment) for moment in MOMENTS)


#: A plugin name: a lowercase Python identifier, short enough for the ids made from it.
NAME = re.compile(rf"^[a-z][a-z0-9_]{{0,{MAX_NAME - 1}}}$")


def ids(name: str) -> list[str]:
    """The cycle, moment and rule ids a plugin called ``name`` registers."""
    dash = name.replace("_", "-")
    return [dash, *(f"{dash}-{moment}" for moment in MOMENTS), f"{name}.slow-service"]


def render(name: str) -> dict[str, str]:
    """Relative path → file text for a plugin called ``name`` (a Python identifier)."""
    values = {
        "name": name,
        "dash": name.replace("_", "-"),
        "title": name.replace("_", " ").capitalize(),
    }
    return {
        Template(path).substitute(values): Template(text).substitute(values)
        for path, text in FILES.items()
    }
