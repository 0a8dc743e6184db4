"""How core calls plugins: pluggy's order, per-plugin isolation, no wrappers, tracing.

One test per rule of "Order and isolation" in docs/hooks.md. Every plugin is a real
object registered on a real PluginHost, and every call goes through the host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from servicecycle.core import Catalogue, PluginHost, Rating, hookimpl
from servicecycle.core.plugins import LOAD_PLUGINS_ENV, PluginProblem

from .test_hooks import MINI_CYCLE

RATING = Rating(
    id="r1",
    at=datetime(2026, 11, 22, tzinfo=UTC),
    site="s",
    kiosk="k",
    cycle="cafe-visit",
    stage="order",
    moment="order-wait",
    score=2,
    scale=5,
    language="en",
)


def spy(tag: str, calls: list[str], *, fail: bool = False, answer: str | None = None, **opts: Any):
    """A plugin with one hook of each kind; each notes ``tag`` in ``calls`` when called."""

    class Spy:
        @hookimpl(**opts)
        def register_cycles(self, register):
            self.called()

        @hookimpl(**opts)
        def rating_recorded(self, rating):
            self.called()

        @hookimpl(**opts)
        def survey_url(self, rating, token):
            self.called()
            return answer

        def called(self) -> None:
            calls.append(tag)
            if fail:
                raise RuntimeError(f"{tag} is broken")

    return Spy()


def ignore_registrations(plugin: str) -> Callable[[object], None]:
    return lambda item: None


#: One hook of each kind, called the way core calls it.
CALLS: dict[str, Callable[[PluginHost], Any]] = {
    "register_cycles": lambda host: host.collect("register_cycles", ignore_registrations),
    "rating_recorded": lambda host: host.call_each("rating_recorded", rating=RATING),
    "survey_url": lambda host: host.first("survey_url", rating=RATING, token="tok"),
}
each_kind = pytest.mark.parametrize("hook", list(CALLS))


def host_with(*plugins: tuple[str, object]) -> PluginHost:
    host = PluginHost()
    for name, plugin in plugins:
        host.add(plugin, name)
    return host


# -- order ---------------------------------------------------------------------------


@each_kind
def test_plain_implementations_are_called_last_registered_first(hook):
    calls: list[str] = []
    host = host_with(*((tag, spy(tag, calls)) for tag in ("a", "b", "c")))
    CALLS[hook](host)
    assert calls == ["c", "b", "a"]


@each_kind
def test_tryfirst_is_called_first_and_trylast_last(hook):
    calls: list[str] = []
    host = host_with(
        ("late", spy("late", calls, trylast=True)),
        ("early", spy("early", calls, tryfirst=True)),
        ("a", spy("a", calls)),
        ("b", spy("b", calls)),
        ("earlier", spy("earlier", calls, tryfirst=True)),
    )
    CALLS[hook](host)
    assert calls == ["earlier", "early", "b", "a", "late"]
    pluggy_order = reversed(getattr(host.pm.hook, hook).get_hookimpls())
    assert calls == [impl.plugin_name for impl in pluggy_order]


def test_installed_plugins_are_registered_by_name_so_called_in_reverse_name_order():
    host = PluginHost.discover(only={"banking", "health", "hotel"})
    first_seen: list[str] = []

    def note_plugin(plugin: str) -> Callable[[object], None]:
        if plugin not in first_seen:
            first_seen.append(plugin)
        return lambda item: None

    host.collect("register_cycles", note_plugin)
    assert first_seen == ["hotel", "health", "banking"]


def test_on_an_id_clash_the_plugin_called_first_keeps_the_id():
    class Cafe:
        @hookimpl
        def register_cycles(self, register):
            register(MINI_CYCLE)

    host = host_with(("older", Cafe()), ("newer", Cafe()))
    catalogue = Catalogue.from_plugins(host)
    assert catalogue.origin == {"cafe-visit": "newer"}
    [problem] = host.problems
    assert (problem.plugin, problem.stage) == ("older", "register_cycles")
    assert "already registered by plugin 'newer'" in problem.message


# -- firstresult ---------------------------------------------------------------------


def test_first_takes_the_first_answer_skipping_none_and_calls_no_further():
    calls: list[str] = []
    host = host_with(
        ("a", spy("a", calls, answer="https://a.example/")),
        ("b", spy("b", calls, answer="https://b.example/")),
        ("abstains", spy("abstains", calls)),
    )
    assert CALLS["survey_url"](host) == "https://b.example/"
    assert calls == ["abstains", "b"]


def test_first_skips_a_failing_implementation_and_the_next_answers():
    calls: list[str] = []
    host = host_with(
        ("a", spy("a", calls, answer="https://a.example/")),
        ("broken", spy("broken", calls, fail=True, answer="https://never.example/")),
    )
    assert CALLS["survey_url"](host) == "https://a.example/"
    assert calls == ["broken", "a"]
    assert host.problems == [
        PluginProblem("broken", "survey_url", "RuntimeError: broken is broken")
    ]


def test_first_answers_none_when_every_implementation_abstains_or_fails():
    calls: list[str] = []
    host = host_with(("abstains", spy("abstains", calls)), ("broken", spy("b", calls, fail=True)))
    assert CALLS["survey_url"](host) is None
    assert calls == ["b", "abstains"]


# -- isolation -----------------------------------------------------------------------


@each_kind
def test_a_raising_implementation_is_reported_and_the_others_still_run(hook):
    calls: list[str] = []
    host = host_with(
        ("a", spy("a", calls)), ("broken", spy("broken", calls, fail=True)), ("c", spy("c", calls))
    )
    CALLS[hook](host)
    assert calls == ["c", "broken", "a"]
    assert host.problems == [PluginProblem("broken", hook, "RuntimeError: broken is broken")]


def test_calling_through_pluggy_directly_is_isolated_too():
    calls: list[str] = []
    host = host_with(("a", spy("a", calls)), ("broken", spy("broken", calls, fail=True)))
    assert host.pm.hook.rating_recorded(rating=RATING) == []
    assert calls == ["broken", "a"]
    assert [p.plugin for p in host.problems] == ["broken"]


def test_a_failure_is_logged_with_plugin_hook_and_traceback(caplog):
    host = host_with(("broken", spy("broken", [], fail=True)))
    with caplog.at_level(logging.WARNING, logger="servicecycle.core.plugins"):
        CALLS["rating_recorded"](host)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "plugin 'broken' (rating_recorded): RuntimeError: broken is broken"
    )
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_keyboard_interrupt_and_system_exit_are_not_caught():
    class Quits:
        @hookimpl
        def rating_recorded(self, rating):
            raise SystemExit(3)

    host = host_with(("quits", Quits()))
    with pytest.raises(SystemExit):
        CALLS["rating_recorded"](host)
    assert host.problems == []


def test_collect_hands_each_plugin_its_own_register_even_kept_for_later():
    kept: list[Callable[[str], None]] = []

    class Keeps:
        @hookimpl
        def register_cycles(self, register):
            register("now")
            kept.append(register)

    class ByKeyword:  # pluggy passes a parameter with a default by keyword
        @hookimpl
        def register_cycles(self, register=None):
            register("by keyword")

    host = host_with(("keeps", Keeps()), ("by-keyword", ByKeyword()))
    seen: list[tuple[str, str]] = []
    host.collect("register_cycles", lambda plugin: lambda item: seen.append((plugin, item)))
    kept[0]("later")
    assert seen == [("by-keyword", "by keyword"), ("keeps", "now"), ("keeps", "later")]


def test_calling_a_hook_the_wrong_way_is_refused():
    host = PluginHost()
    with pytest.raises(ValueError, match="'rating_recorded' is not a firstresult hook"):
        host.first("rating_recorded", rating=RATING)
    with pytest.raises(ValueError, match="'survey_url' is a firstresult hook; call it with first"):
        host.call_each("survey_url", rating=RATING, token="tok")
    with pytest.raises(ValueError, match="no hook named 'register_cyles'"):
        host.collect("register_cyles", ignore_registrations)


# -- wrappers ------------------------------------------------------------------------


class NewStyleWrapper:
    @hookimpl(wrapper=True)
    def survey_url(self, rating, token):
        yield
        return "https://wrapper.example/"

    @hookimpl
    def rating_recorded(self, rating):
        raise AssertionError("a refused plugin is never called")


class OldStyleWrapper:
    @hookimpl(hookwrapper=True)
    def survey_url(self, rating, token):
        outcome = yield
        outcome.force_result("https://wrapper.example/")

    @hookimpl
    def rating_recorded(self, rating):
        raise AssertionError("a refused plugin is never called")


@pytest.mark.parametrize("wrapper", [NewStyleWrapper, OldStyleWrapper])
def test_hook_wrappers_are_refused_at_registration(wrapper):
    host = host_with(("wrapping", wrapper()))
    [problem] = host.problems
    assert str(problem) == (
        "plugin 'wrapping' (load): hook 'survey_url' is a hook wrapper (wrapper=True or "
        "hookwrapper=True); servicecycle calls each plugin on its own and does not support "
        "wrappers, so the plugin is not loaded"
    )
    assert "wrapping" not in host.infos
    assert host.pm.get_plugin("wrapping") is None
    assert CALLS["rating_recorded"](host) == []


@pytest.mark.parametrize("wrapper", [NewStyleWrapper, OldStyleWrapper])
def test_a_wrapper_never_becomes_the_answer(wrapper):
    host = host_with(("wrapping", wrapper()))
    assert CALLS["survey_url"](host) is None
    host.add(spy("plain", [], answer="https://plain.example/"), "plain")
    host.add(wrapper(), "wrapping-again")
    assert CALLS["survey_url"](host) == "https://plain.example/"


# -- tracing -------------------------------------------------------------------------


def test_pluggy_tracing_sees_every_call():
    host = host_with(("a", spy("a", [], answer="https://a.example/")))
    lines: list[str] = []
    host.pm.trace.root.setwriter(lines.append)
    undo = host.pm.enable_tracing()
    for call in CALLS.values():
        call(host)
    undo()
    text = "".join(lines)
    headers = [line.strip() for line in text.splitlines() if line.endswith("[hook]")]
    assert headers[0::2] == [
        "register_cycles [hook]",
        "rating_recorded [hook]",
        "survey_url [hook]",
    ]
    assert headers[1::2] == [
        "finish register_cycles --> [] [hook]",
        "finish rating_recorded --> [] [hook]",
        "finish survey_url --> https://a.example/ [hook]",
    ]
    assert "register: <one per plugin from ignore_registrations>" in text
    assert "token: tok" in text


def test_hookcall_monitoring_sees_each_call_with_its_implementations():
    calls: list[str] = []
    host = host_with(
        ("a", spy("a", calls, answer="https://a.example/")),
        ("broken", spy("broken", calls, fail=True)),
    )
    before: list[tuple[str, list[str]]] = []
    after: list[Any] = []
    host.pm.add_hookcall_monitoring(
        lambda hook, impls, kwargs: before.append((hook, [i.plugin_name for i in impls])),
        lambda outcome, hook, impls, kwargs: after.append(outcome.get_result()),
    )
    for call in CALLS.values():
        call(host)
    assert [hook for hook, _ in before] == list(CALLS)
    assert all(list(reversed(names)) == ["broken", "a"] for _, names in before)
    assert after == [[], [], "https://a.example/"]


# -- loading, unchanged --------------------------------------------------------------


def test_an_unknown_hook_is_reported_and_the_plugin_still_loads():
    calls: list[str] = []

    class Typo:
        @hookimpl
        def register_cyles(self, register):
            pass

        @hookimpl
        def rating_recorded(self, rating):
            calls.append("typo")

    host = host_with(("typo", Typo()))
    [problem] = host.problems
    assert (problem.plugin, problem.stage) == ("typo", "load")
    assert problem.message.startswith("unknown hook 'register_cyles'; known hooks: alert_changed")
    assert host.infos["typo"].hooks == ["rating_recorded"]
    CALLS["rating_recorded"](host)
    assert calls == ["typo"]


def test_a_second_plugin_with_the_same_name_is_refused():
    calls: list[str] = []
    host = host_with(("cafe", spy("first", calls)), ("cafe", spy("second", calls)))
    [problem] = host.problems
    assert (problem.plugin, problem.stage) == ("cafe", "load")
    assert "Plugin name already registered" in problem.message
    CALLS["rating_recorded"](host)
    assert calls == ["first"]


def test_a_removed_plugin_is_no_longer_called():
    calls: list[str] = []
    host = host_with(("a", spy("a", calls)), ("b", spy("b", calls)))
    host.remove("b")
    CALLS["rating_recorded"](host)
    assert calls == ["a"]
    assert list(host.infos) == ["a"]


def test_load_plugins_variable_limits_discovery(monkeypatch):
    monkeypatch.setenv(LOAD_PLUGINS_ENV, " hotel , health")
    assert sorted(PluginHost.discover().infos) == ["health", "hotel"]
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "")
    assert PluginHost.discover().infos == {}
