"""Real deliveries: a webhook on 127.0.0.1, an SMTP server, apprise, and a plugin's notifier."""

from __future__ import annotations

import logging
import sys
import time
from types import SimpleNamespace

import pytest
from tinydb import Query

from servicecycle.core import ConfigError, PluginHost, SiteSettings, hookimpl
from servicecycle.core.alerting import (
    DeliveryError,
    Dispatcher,
    RetryPolicy,
    collect_notifiers,
)
from servicecycle.core.alerting.webhook_notifier import retry_after_seconds

from .test_alerting_support import alert, resolved, settings

# The fixtures (clock, store, make_dispatcher, http_receiver) live beside the helpers.
pytest_plugins = ["tests.test_alerting_support"]

FAST = {"backoff": "10ms", "backoff_max": "40ms"}


def webhook(url: str, **extra) -> object:
    return settings(
        receivers={"hook": {"type": "webhook", "url": url, **FAST, **extra}},
        routes=[{"receiver": "hook", "group_wait": "0s"}],
    )


def rows(store, outcome: str | None = None) -> list[dict]:
    found = sorted(store.table("notifications"), key=lambda r: r["at"])
    return [r for r in found if outcome is None or r["outcome"] == outcome]


# -- webhook ----------------------------------------------------------------------------


def test_webhook_posts_an_alertmanager_style_payload(make_dispatcher, clock, http_receiver):
    dispatcher = make_dispatcher(webhook(http_receiver.url, headers={"X-Site": "grand-kl"}))
    first = alert()
    dispatcher.submit(first)
    (sent,) = dispatcher.tick()
    assert dispatcher.flush(5)
    (request,) = http_receiver.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == sent.idempotency_key
    assert request.headers["X-Site"] == "grand-kl"
    body = request.body
    assert {k: body[k] for k in ("version", "receiver", "status", "groupKey")} == {
        "version": "1",
        "receiver": "hook",
        "status": "firing",
        "groupKey": '{}:{alertname="checkout-wait",site="grand-kl"}',
    }
    assert body["groupLabels"] == {"alertname": "checkout-wait", "site": "grand-kl"}
    assert body["commonLabels"]["moment"] == "check-out-wait"
    assert body["commonAnnotations"]["response"] == "duty manager opens a second counter"
    (item,) = body["alerts"]
    assert set(item) >= {"status", "labels", "annotations", "startsAt", "endsAt", "fingerprint"}
    assert item["values"] == {"mean": 2.1, "count": 7}
    dispatcher.submit(resolved(first, clock.advance(minutes=1)))
    (note,) = dispatcher.tick(clock.advance(minutes=5))
    dispatcher.flush(5)
    assert http_receiver.requests[1].body["status"] == "resolved"
    assert note.idempotency_key != sent.idempotency_key


def test_webhook_retries_503_and_429_with_the_same_key_and_body(
    make_dispatcher, http_receiver, store
):
    http_receiver.answer((503, {}), (429, {}), (502, {}))
    dispatcher = make_dispatcher(webhook(http_receiver.url))
    dispatcher.submit(alert())
    dispatcher.tick()
    assert dispatcher.flush(5)
    requests = http_receiver.requests
    assert len(requests) == 4
    assert len({r.headers["Idempotency-Key"] for r in requests}) == 1
    assert all(r.body == requests[0].body for r in requests)
    assert [(r["outcome"], r["attempt"]) for r in rows(store)] == [
        ("queued", 0),
        ("retry", 1),
        ("retry", 2),
        ("retry", 3),
        ("sent", 4),
    ]
    assert "503" in rows(store, "retry")[0]["error"]


def test_webhook_honours_retry_after(make_dispatcher, http_receiver):
    http_receiver.answer((429, {"Retry-After": "1"}))
    dispatcher = make_dispatcher(webhook(http_receiver.url))
    dispatcher.submit(alert())
    dispatcher.tick()
    assert dispatcher.flush(5)
    first, second = http_receiver.requests
    assert second.at - first.at >= 0.95  # not the 10 ms backoff


def test_webhook_retries_a_timeout(make_dispatcher, http_receiver, store):
    http_receiver.answer(("sleep", 1.0))
    dispatcher = make_dispatcher(webhook(http_receiver.url, timeout="200ms"))
    dispatcher.submit(alert())
    dispatcher.tick()
    assert dispatcher.flush(5)
    assert len(http_receiver.wait_for(2)) == 2
    (retry,) = rows(store, "retry")
    assert "no answer within 0.2s" in retry["error"]
    assert rows(store)[-1]["outcome"] == "sent"


def test_webhook_does_not_retry_a_400_and_logs_the_failure(
    make_dispatcher, http_receiver, store, caplog
):
    http_receiver.answer((400, {}))
    dispatcher = make_dispatcher(webhook(http_receiver.url))
    dispatcher.submit(alert())
    with caplog.at_level(logging.ERROR):
        dispatcher.tick()
        assert dispatcher.flush(5)
    assert len(http_receiver.requests) == 1
    (failed,) = rows(store, "failed")
    assert failed["attempt"] == 1 and "answered 400" in failed["error"]
    assert "not retried" in failed["error"] and '{"error":"planned"}' in failed["error"]
    assert any(r.levelno == logging.ERROR and "giving up" in r.message for r in caplog.records)


def test_webhook_gives_up_after_max_attempts(make_dispatcher, http_receiver, store, caplog):
    http_receiver.answer(*[(503, {})] * 10)
    dispatcher = make_dispatcher(webhook(http_receiver.url, max_attempts=3))
    dispatcher.submit(alert())
    with caplog.at_level(logging.ERROR):
        dispatcher.tick()
        assert dispatcher.flush(5)
    assert len(http_receiver.requests) == 3
    assert [r["outcome"] for r in rows(store)] == ["queued", "retry", "retry", "failed"]
    assert "after 3 attempts" in caplog.text


def test_webhook_connection_refused_is_retried(make_dispatcher, store):
    dispatcher = make_dispatcher(webhook("http://127.0.0.1:9/nothing-listens", max_attempts=2))
    dispatcher.submit(alert())
    dispatcher.tick()
    assert dispatcher.flush(5)
    assert [r["outcome"] for r in rows(store)] == ["queued", "retry", "failed"]
    assert "cannot connect" in rows(store, "failed")[0]["error"]


def test_submit_never_blocks_while_a_webhook_hangs(make_dispatcher, clock, http_receiver):
    http_receiver.answer(("sleep", 5.0))
    dispatcher = make_dispatcher(webhook(http_receiver.url, timeout="10s"))
    dispatcher.submit(alert())
    dispatcher.tick()
    http_receiver.wait_for(1)  # the delivery thread is now waiting on the server
    slowest = 0.0
    for n in range(200):
        started = time.perf_counter()
        dispatcher.submit(alert(moment=f"m{n}", since=clock.now))
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.05
    assert dispatcher.flush(0.05) is False  # the first delivery is indeed still hanging
    http_receiver.release.set()
    assert dispatcher.flush(5)


def test_retry_policy_is_full_jitter_exponential_with_retry_after_as_a_floor():
    top = RetryPolicy(max_attempts=5, base=1.0, cap=5.0, random=lambda: 1.0)
    assert [top.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert RetryPolicy(random=lambda: 0.0).delay(3) == 0.0
    assert top.delay(1, retry_after=30) == 30
    assert top.delay(1, retry_after=10_000) == 600  # capped
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


# -- email ------------------------------------------------------------------------------


def email_settings(port: int, **extra):
    return settings(
        receivers={
            "desk": {
                "type": "email",
                "host": "127.0.0.1",
                "port": port,
                "from": "Kiosk <kiosk@hotel.example>",
                "to": ["duty@hotel.example", "gm@hotel.example"],
                **FAST,
                **extra,
            }
        },
        routes=[{"receiver": "desk", "group_wait": "0s"}],
    )


def test_email_sends_a_plain_text_mail(make_dispatcher, smtp_server):
    from email import message_from_bytes

    dispatcher = make_dispatcher(email_settings(smtp_server.port))
    dispatcher.submit(alert())
    (sent,) = dispatcher.tick()
    assert dispatcher.flush(5)
    (envelope,) = smtp_server.messages
    assert envelope.mail_from == "kiosk@hotel.example"
    assert envelope.rcpt_tos == ["duty@hotel.example", "gm@hotel.example"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == "[FIRING] checkout-wait at grand-kl (1 alert(s))"
    assert mail["Message-ID"] == f"<{sent.idempotency_key}@servicecycle>"
    text = mail.get_payload(decode=True).decode()
    assert "checkout-wait: guests wait too long at check-out-wait" in text
    assert "Response:  duty manager opens a second counter" in text
    assert "Started:   2026-11-23 16:55:00 Asia/Kuala_Lumpur" in text  # the site's time
    assert "moment=check-out-wait" in text


def test_email_retries_a_temporary_smtp_refusal(make_dispatcher, smtp_server, store):
    smtp_server.refuse = 1
    dispatcher = make_dispatcher(email_settings(smtp_server.port, subject="{STATUS}: {summary}"))
    dispatcher.submit(alert())
    dispatcher.tick()
    assert dispatcher.flush(5)
    assert len(smtp_server.messages) == 1
    assert [r["outcome"] for r in rows(store)] == ["queued", "retry", "sent"]
    assert "451" in rows(store, "retry")[0]["error"]


def test_email_password_env_must_exist(store, monkeypatch):
    monkeypatch.delenv("SC_TEST_SMTP_PASSWORD", raising=False)
    notify = email_settings(25, username="kiosk", password_env="SC_TEST_SMTP_PASSWORD")
    with pytest.raises(ConfigError, match="SC_TEST_SMTP_PASSWORD' is not set"):
        Dispatcher(notify, collect_notifiers(PluginHost()), store)


# -- apprise ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # apprise imports imghdr
def test_apprise_delivers_through_its_url_schemes(make_dispatcher, http_receiver):
    pytest.importorskip("apprise")
    url = http_receiver.url.replace("http://", "json://")
    notify = settings(
        receivers={"chat": {"type": "apprise", "urls": [url], **FAST}},
        routes=[{"receiver": "chat", "group_wait": "0s"}],
    )
    dispatcher = make_dispatcher(notify)
    dispatcher.submit(alert())
    dispatcher.tick()
    assert dispatcher.flush(5)
    (request,) = http_receiver.requests
    assert request.body["title"] == "[FIRING] checkout-wait at grand-kl (1 alert(s))"
    assert "duty manager opens a second counter" in request.body["message"]


def test_apprise_missing_is_a_clear_config_error(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "apprise", None)  # as if it were not installed
    notify = settings(receivers={"chat": {"type": "apprise", "urls": ["json://x"]}})
    with pytest.raises(ConfigError) as caught:
        Dispatcher(notify, collect_notifiers(PluginHost()), store)
    assert caught.value.problems == [
        "notify.receivers.chat (type 'apprise'): the apprise package is not installed: "
        "pip install 'servicecycle[apprise]'"
    ]


# -- a plugin's notifier type -----------------------------------------------------------


class PagerPlugin:
    """An outside plugin: registers one good notifier type and two bad ones."""

    def __init__(self) -> None:
        self.sent: list = []

    @hookimpl
    def register_notifiers(self, register):
        plugin = self

        class Pager:
            def __init__(self, name: str, number: str, fail: bool = False) -> None:
                self.number = number
                self.fail = fail

            def send(self, notification) -> None:
                if self.fail:
                    raise DeliveryError("no signal", retryable=False)
                plugin.sent.append((self.number, notification))

        register("pager", Pager)
        register("log", Pager)  # taken by a built-in type
        register("Bad Name", Pager)
        register("nothing", "not callable")


def test_hook_register_notifiers_adds_a_receiver_type(store, clock):
    host = PluginHost()
    plugin = PagerPlugin()
    host.add(plugin, "pager-plugin")
    factories = collect_notifiers(host)
    assert "pager" in factories and factories["log"] is not plugin
    assert host.infos["pager-plugin"].registered == {"notifiers": ["pager"]}
    messages = [p.message for p in host.problems]
    assert messages == [
        "notifier type 'log' is already registered by 'servicecycle'",
        "type name 'Bad Name': use 1-64 lowercase letters, digits, '.', '-' or '_', starting "
        "with a letter",
        "notifier type 'nothing': the factory must be callable, not str",
    ]
    assert {p.stage for p in host.problems} == {"register_notifiers"}
    config = SimpleNamespace(
        notify=settings(
            receivers={"oncall": {"type": "pager", "number": "+60123", "send_resolved": False}},
            routes=[{"receiver": "oncall", "group_wait": "0s"}],
        ),
        site=SiteSettings(timezone="Asia/Kuala_Lumpur"),
        source="site.toml",
    )
    dispatcher = Dispatcher.from_config(config, store, host, clock=clock)
    try:
        dispatcher.submit(alert())
        dispatcher.tick()
        assert dispatcher.flush(5)
        ((number, notification),) = plugin.sent
        assert number == "+60123" and notification.status == "firing"
    finally:
        dispatcher.close()


def test_a_plugin_factory_refusing_its_settings_is_a_config_error(store):
    host = PluginHost()
    host.add(PagerPlugin(), "pager-plugin")
    notify = settings(
        receivers={"oncall": {"type": "pager", "numbr": "+60123"}},
        routes=[{"receiver": "oncall"}],
    )
    with pytest.raises(ConfigError) as caught:
        Dispatcher(notify, collect_notifiers(host), store, source="site.toml")
    (problem,) = caught.value.problems
    assert problem.startswith("notify.receivers.oncall (type 'pager'): ")
    assert "numbr" in problem


def test_a_plugin_notifier_failure_is_recorded(store, clock):
    host = PluginHost()
    host.add(PagerPlugin(), "pager-plugin")
    notify = settings(
        receivers={"oncall": {"type": "pager", "number": "1", "fail": True}},
        routes=[{"receiver": "oncall", "group_wait": "0s"}],
    )
    dispatcher = Dispatcher(notify, collect_notifiers(host), store, clock=clock)
    dispatcher.submit(alert())
    dispatcher.tick()
    assert dispatcher.flush(5)
    dispatcher.close()
    (failed,) = store.table("notifications").search(Query().outcome == "failed")
    assert failed["error"] == "no signal"


def test_restart_resends_nothing_already_sent_by_webhook(store, clock, http_receiver):
    def start():
        return Dispatcher(webhook(http_receiver.url), collect_notifiers(PluginHost()), store,
                          clock=clock)  # fmt: skip

    first = start()
    first.submit(alert())
    first.tick()
    first.flush(5)
    first.close()
    second = start()
    second.submit(alert())
    assert second.tick(clock.advance(minutes=5)) == []
    assert second.tick(clock.advance(hours=4)) != []
    second.flush(5)
    second.close()
    assert len(http_receiver.requests) == 2
    keys = {r.headers["Idempotency-Key"] for r in http_receiver.requests}
    assert len(keys) == 2


def test_a_receiver_that_refuses_is_marked_broken_and_not_asked_again_every_interval(
    make_dispatcher, clock, http_receiver, store, caplog
):
    """A 4xx says the receiver's own settings are wrong: report it once, do not hammer it."""
    http_receiver.answer(*[(404, {})] * 20)
    dispatcher = make_dispatcher(webhook(http_receiver.url))
    dispatcher.submit(alert())
    with caplog.at_level(logging.ERROR):
        dispatcher.tick()
        assert dispatcher.flush(5)
        for _ in range(12):  # an hour of group_interval (5m) ticks
            dispatcher.tick(clock.advance(minutes=5))
            assert dispatcher.flush(5)
    assert len(http_receiver.requests) == 1
    assert list(dispatcher.broken) == ["hook"]
    assert "404" in dispatcher.broken["hook"][0]
    assert caplog.text.count("receiver 'hook' is broken") == 1
    assert [r["outcome"] for r in rows(store)] == ["queued", "failed"]
    assert rows(store, "failed")[0]["permanent"] is True

    # a restart remembers the refusal too
    again = make_dispatcher(webhook(http_receiver.url))
    again.submit(alert())
    again.tick(clock.advance(minutes=5))
    assert again.flush(5)
    assert len(http_receiver.requests) == 1

    # something new in the group is tried; the receiver, fixed meanwhile, takes it
    http_receiver.plan.clear()
    again.submit(alert(moment="bill-accuracy"))
    again.tick(clock.advance(minutes=5))
    assert again.flush(5)
    assert len(http_receiver.requests) == 2
    assert again.broken == {}
