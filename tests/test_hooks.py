"""One test per hook: a real plugin object implements it and core calls it."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from click.testing import CliRunner

from servicecycle.cli.main import cli
from servicecycle.core import (
    Alert,
    AlertState,
    PluginHost,
    Runtime,
    SurveySettings,
    hookimpl,
    survey_url,
)

MINI_CYCLE = {
    "id": "cafe-visit",
    "industry": "cafe",
    "languages": ["en"],
    "name": {"en": "Cafe visit"},
    "stages": [
        {
            "id": "order",
            "name": {"en": "Ordering"},
            "moments": [
                {
                    "id": "order-wait",
                    "question": {"en": "How was the wait to order?"},
                    "critical": True,
                    "target": 4.2,
                    "reasons": ["lost-time"],
                }
            ],
        }
    ],
}


class CafePlugin:
    def __init__(self) -> None:
        self.recorded = []
        self.alerts = []

    @hookimpl
    def register_cycles(self, register):
        register(MINI_CYCLE)

    @hookimpl
    def rating_recorded(self, rating):
        self.recorded.append(rating)

    @hookimpl
    def alert_changed(self, alert, previous):
        self.alerts.append((alert.state, previous))


def make_runtime(tmp_path, *plugins) -> Runtime:
    host = PluginHost()
    for i, plugin in enumerate(plugins):
        host.add(plugin, f"plugin{i}")
    return Runtime.open(data_dir=tmp_path, plugins=host)


def test_hook_register_cycles(tmp_path):
    rt = make_runtime(tmp_path, CafePlugin())
    assert list(rt.catalogue.cycles) == ["cafe-visit"]
    assert rt.catalogue.origin["cafe-visit"] == "plugin0"
    assert rt.plugins.infos["plugin0"].registered == {"cycles": ["cafe-visit"]}


def test_hook_register_cycles_bad_data_is_refused_per_plugin(tmp_path):
    class Bad:
        @hookimpl
        def register_cycles(self, register):
            register({**MINI_CYCLE, "id": "Not An Id"})
            register({**MINI_CYCLE, "id": "second-ok"})

    rt = make_runtime(tmp_path, CafePlugin(), Bad())
    assert sorted(rt.catalogue.cycles) == ["cafe-visit", "second-ok"]
    [problem] = rt.plugins.problems
    assert problem.plugin == "plugin1"
    assert problem.stage == "register_cycles"
    assert "id = 'Not An Id'" in problem.message


def test_hook_register_commands():
    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="hello-cafe")
            def hello() -> None:
                """Say hello."""
                click.echo("hello from a plugin")

    host = PluginHost()
    host.add(Commands(), "commands")
    host.call_each("register_commands", cli=cli)
    try:
        result = CliRunner().invoke(cli, ["hello-cafe"], obj=host)
        assert result.exit_code == 0, result.output
        assert result.output == "hello from a plugin\n"
    finally:
        cli.commands.pop("hello-cafe", None)


def test_hook_rating_recorded(tmp_path):
    plugin = CafePlugin()
    rt = make_runtime(tmp_path, plugin)
    rating = rt.recorder.record(
        site="s", kiosk="k", cycle="cafe-visit", moment="order-wait", score=2, language="en"
    )
    assert plugin.recorded == [rating]
    rt.close()


def test_hook_rating_recorded_failure_never_loses_the_rating(tmp_path):
    class Exploding:
        @hookimpl
        def rating_recorded(self, rating):
            raise RuntimeError("mirror is down")

    plugin = CafePlugin()
    rt = make_runtime(tmp_path, plugin, Exploding())
    rating = rt.recorder.record(
        site="s", kiosk="k", cycle="cafe-visit", moment="order-wait", score=1, language="en"
    )
    assert rt.store.ratings.get(rating.id) == rating
    assert plugin.recorded == [rating]
    assert [p.stage for p in rt.plugins.problems] == ["rating_recorded"]
    assert "mirror is down" in rt.plugins.problems[0].message
    rt.close()


def test_hook_alert_changed():
    plugin = CafePlugin()
    host = PluginHost()
    host.add(plugin, "cafe")
    alert = Alert(
        rule="cafe-slow-orders",
        key=(("moment", "order-wait"),),
        state=AlertState.FIRING,
        severity="page",
        summary="3 bad ratings in 15 minutes",
        since=datetime(2026, 11, 22, tzinfo=UTC),
    )
    host.call_each("alert_changed", alert=alert, previous=AlertState.PENDING)
    assert plugin.alerts == [(AlertState.FIRING, AlertState.PENDING)]


def test_hook_survey_url(tmp_path):
    class External:
        @hookimpl
        def survey_url(self, rating, token):
            return f"https://survey.example/{rating.moment}?t={token}"

    class Abstains:
        @hookimpl
        def survey_url(self, rating, token):
            return None

    rt = make_runtime(tmp_path, CafePlugin())
    rating = rt.recorder.record(
        site="s", kiosk="k", cycle="cafe-visit", moment="order-wait", score=4, language="en"
    )
    settings = SurveySettings()
    assert survey_url(rt.plugins, settings, rating, "a/b") == "http://127.0.0.1:8765/s/a%2Fb"

    rt.plugins.add(Abstains(), "abstains")
    assert survey_url(rt.plugins, settings, rating, "tok").endswith("/s/tok")

    rt.plugins.add(External(), "external")
    assert survey_url(rt.plugins, settings, rating, "tok") == (
        "https://survey.example/order-wait?t=tok"
    )
    rt.close()
