"""Routing, grouping, timers, silences, quiet hours and restarts, with an injected clock.

Deliveries are real: the ``log`` notifier appends to a file in the data folder,
and every attempt goes to the store's ``notifications`` table.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from tinydb import Query

from servicecycle.core import AlertState, Config, Store
from servicecycle.core.alerting import DeliveryError, Dispatcher, SilenceError, builtin_notifiers

from .test_alerting_support import T0, Clock, alert, read_jsonl, resolved, settings

# The fixtures (clock, store, make_dispatcher, http_receiver) live beside the helpers.
pytest_plugins = ["tests.test_alerting_support"]


def log_lines(store: Store) -> list[dict]:
    return read_jsonl(store.data_dir / "alerts.jsonl")


def step(dispatcher: Dispatcher, clock: Clock, **delta: float) -> list:
    """Move the clock, tick, and wait for the deliveries."""
    clock.advance(**delta)
    queued = dispatcher.tick()
    assert dispatcher.flush(5)
    return queued


def outcomes(store: Store) -> list[tuple[str, str, int]]:
    rows = sorted(store.table("notifications"), key=lambda r: r["at"])
    return [(r["receiver"], r["outcome"], r["sequence"]) for r in rows]


# -- the default and the log notifier --------------------------------------------------


def test_without_notify_config_alerts_go_to_alerts_jsonl_after_group_wait(
    make_dispatcher, clock, store
):
    dispatcher = make_dispatcher()
    dispatcher.submit(alert())
    assert step(dispatcher, clock, seconds=29) == []
    (sent,) = step(dispatcher, clock, seconds=1)
    (line,) = log_lines(store)
    assert line["receiver"] == "log" and line["status"] == "firing"
    assert line["groupKey"] == '{}:{alertname="checkout-wait",site="grand-kl"}'
    assert line["groupLabels"] == {"alertname": "checkout-wait", "site": "grand-kl"}
    (item,) = line["alerts"]
    assert item["annotations"] == {
        "summary": "checkout-wait: guests wait too long at check-out-wait",
        "response": "duty manager opens a second counter",
    }
    assert item["labels"]["severity"] == "critical"
    assert item["startsAt"] == "2026-11-23T08:55:00.000000Z"
    assert item["endsAt"] == "0001-01-01T00:00:00Z"
    assert item["fingerprint"] == "checkout-wait|site=grand-kl,moment=check-out-wait"
    assert line["idempotencyKey"] == sent.idempotency_key
    assert outcomes(store) == [("log", "queued", 1), ("log", "sent", 1)]


def test_pending_alerts_are_not_notified_and_submit_never_raises(make_dispatcher, clock, store):
    dispatcher = make_dispatcher()
    dispatcher.submit(alert(state=AlertState.PENDING))
    dispatcher.submit(object())  # type: ignore[arg-type]  # logged, not raised
    assert step(dispatcher, clock, minutes=1) == []
    assert dispatcher.pending_groups() == []


def test_from_config_uses_the_defaults_when_config_has_no_notify_section(store, clock):
    dispatcher = Dispatcher.from_config(Config(), store, clock=clock)
    try:
        assert set(dispatcher.notifiers) == {"log"}
        dispatcher.submit(alert())
        step(dispatcher, clock, seconds=30)
        assert len(log_lines(store)) == 1
    finally:
        dispatcher.close()


def test_log_path_relative_to_the_data_folder(make_dispatcher, clock, store):
    dispatcher = make_dispatcher(
        settings(receivers={"log": {"type": "log", "path": "audit/notify.jsonl"}})
    )
    dispatcher.submit(alert())
    step(dispatcher, clock, seconds=30)
    assert len(read_jsonl(store.data_dir / "audit" / "notify.jsonl")) == 1


# -- routing ---------------------------------------------------------------------------

ROUTED = {
    "receivers": {
        "pager": {"type": "log", "path": "pager.jsonl"},
        "desk": {"type": "log", "path": "desk.jsonl"},
        "audit": {"type": "log", "path": "audit.jsonl"},
    },
    "routes": [
        {"matchers": {"severity": "info"}, "receiver": "audit", "continue": True},
        {"matchers": {"severity": "critical", "team": "emergency"}, "receiver": "pager"},
        {"matchers": {"severity": {"regex": "critical|warning"}}, "receiver": "desk"},
    ],
}


def receivers_of(store: Store) -> dict[str, list[str]]:
    found = {}
    for name in ("pager", "desk", "audit"):
        found[name] = [a["labels"]["alertname"] for line in read_jsonl(
            store.data_dir / f"{name}.jsonl") for a in line["alerts"]]  # fmt: skip
    return found


def test_first_matching_route_wins_and_continue_goes_on(make_dispatcher, clock, store):
    dispatcher = make_dispatcher(settings(**ROUTED))
    assert [r.receiver for r in dispatcher.routes_for({"severity": "info"})] == ["audit"]
    dispatcher.submit(alert("emergency", labels={"team": "emergency"}))
    dispatcher.submit(alert("critical-other", labels={"team": "front-desk"}))
    dispatcher.submit(alert("warn", severity="warning"))
    dispatcher.submit(alert("fyi", severity="info"))  # audit, then no later route matches
    step(dispatcher, clock, seconds=30)
    assert receivers_of(store) == {
        "pager": ["emergency"],
        "desk": ["critical-other", "warn"],
        "audit": ["fyi"],
    }


def test_continue_sends_one_alert_to_several_receivers(make_dispatcher, clock, store):
    notify = settings(
        receivers=ROUTED["receivers"],
        routes=[
            {"receiver": "audit", "continue": True},
            {"matchers": {"severity": "critical"}, "receiver": "pager"},
        ],
    )
    dispatcher = make_dispatcher(notify)
    dispatcher.submit(alert())
    step(dispatcher, clock, seconds=30)
    got = receivers_of(store)
    assert got["audit"] == got["pager"] == ["checkout-wait"]


# -- grouping and timers ----------------------------------------------------------------


def test_alerts_group_by_alertname_and_site(make_dispatcher, clock, store):
    dispatcher = make_dispatcher()
    dispatcher.submit(alert(moment="check-out-wait"))
    clock.advance(seconds=10)
    dispatcher.submit(alert(moment="check-in-wait", since=clock.now))
    dispatcher.submit(alert(site="grand-penang"))
    step(dispatcher, clock, seconds=20)  # the first group's wait is over, not the others'
    assert [len(line["alerts"]) for line in log_lines(store)] == [2]
    step(dispatcher, clock, seconds=10)
    lines = log_lines(store)
    assert [line["groupLabels"]["site"] for line in lines] == ["grand-kl", "grand-penang"]
    assert lines[0]["commonLabels"]["alertname"] == "checkout-wait"
    assert "moment" not in lines[0]["commonLabels"]


def test_group_by_everything_makes_one_group_per_alert(make_dispatcher, clock, store):
    dispatcher = make_dispatcher(settings(routes=[{"receiver": "log", "group_by": ["..."]}]))
    dispatcher.submit(alert(moment="a"))
    dispatcher.submit(alert(moment="b"))
    step(dispatcher, clock, seconds=30)
    assert len(log_lines(store)) == 2


def test_changes_wait_for_group_interval_and_unchanged_groups_repeat(make_dispatcher, clock, store):
    dispatcher = make_dispatcher()
    first = alert(moment="a")
    dispatcher.submit(first)
    step(dispatcher, clock, seconds=30)  # 09:00:30 first notification
    clock.advance(minutes=1)
    dispatcher.submit(alert(moment="b", since=clock.now))
    assert step(dispatcher, clock, minutes=3) == []  # 09:04:30: group_interval not over
    (update,) = step(dispatcher, clock, minutes=1)  # 09:05:30
    assert len(update.alerts) == 2 and update.sequence == 2
    for _ in range(47):  # 4 h of group_interval ticks with nothing new
        assert step(dispatcher, clock, minutes=5) == []
    (repeat,) = step(dispatcher, clock, minutes=5)  # 4 h after the last notification
    assert repeat.sequence == 3 and len(repeat.alerts) == 2
    assert repeat.idempotency_key != update.idempotency_key


def test_resolution_is_sent_and_the_group_is_forgotten(make_dispatcher, clock, store):
    dispatcher = make_dispatcher()
    first = alert()
    dispatcher.submit(first)
    step(dispatcher, clock, seconds=30)
    dispatcher.submit(resolved(first, clock.advance(minutes=2)))
    (note,) = step(dispatcher, clock, minutes=3)
    assert note.status == "resolved"
    (item,) = log_lines(store)[-1]["alerts"]
    assert item["status"] == "resolved" and item["endsAt"] == "2026-11-23T09:02:30.000000Z"
    assert dispatcher.pending_groups() == []


def test_an_alert_resolved_before_anyone_was_told_is_not_sent(make_dispatcher, clock, store):
    dispatcher = make_dispatcher()
    first = alert()
    dispatcher.submit(first)
    dispatcher.submit(resolved(first, clock.advance(seconds=10)))
    assert step(dispatcher, clock, seconds=30) == []
    assert log_lines(store) == [] and dispatcher.pending_groups() == []


def test_send_resolved_false_records_the_resolution_without_sending(make_dispatcher, clock, store):
    dispatcher = make_dispatcher(
        settings(receivers={"log": {"type": "log", "send_resolved": False}})
    )
    first = alert()
    dispatcher.submit(first)
    step(dispatcher, clock, seconds=30)
    dispatcher.submit(resolved(first, clock.advance(minutes=1)))
    assert step(dispatcher, clock, minutes=5) == []
    assert len(log_lines(store)) == 1
    assert outcomes(store)[-1] == ("log", "suppressed", 2)
    dispatcher.submit(alert(since=clock.advance(minutes=1)))  # fires again: news
    step(dispatcher, clock, seconds=30)
    assert len(log_lines(store)) == 2


def test_acknowledged_alerts_are_not_repeated_but_their_resolution_is_sent(
    make_dispatcher, clock, store
):
    dispatcher = make_dispatcher(settings(routes=[{"receiver": "log", "repeat_interval": "1h"}]))
    first = alert()
    dispatcher.submit(first)
    step(dispatcher, clock, seconds=30)
    acked = first.moved_to(AlertState.FIRING, first.since, acknowledged_by="aisyah")
    dispatcher.submit(acked)
    for _ in range(30):  # 2.5 h: no repeat
        assert step(dispatcher, clock, minutes=5) == []
    dispatcher.submit(resolved(acked, clock.now))
    (note,) = step(dispatcher, clock, minutes=5)
    assert note.status == "resolved"
    assert note.alerts[0].acknowledged_by == "aisyah"


# -- silences ----------------------------------------------------------------------------


def test_a_silenced_alert_is_not_notified_until_the_silence_ends(make_dispatcher, clock, store):
    dispatcher = make_dispatcher()
    silence = dispatcher.add_silence(
        {"moment": {"regex": "check-.*"}, "site": "grand-kl"},
        duration=timedelta(minutes=10),
        created_by="aisyah",
        comment="lift repair, queues expected",
    )
    assert dispatcher.active_silences() == [silence]
    dispatcher.submit(alert())
    dispatcher.submit(alert(site="grand-penang"))  # not silenced
    step(dispatcher, clock, seconds=30)
    assert [line["groupLabels"]["site"] for line in log_lines(store)] == ["grand-penang"]
    step(dispatcher, clock, minutes=5)
    assert len(log_lines(store)) == 1
    step(dispatcher, clock, minutes=5)  # the silence has ended
    assert [line["groupLabels"]["site"] for line in log_lines(store)] == [
        "grand-penang",
        "grand-kl",
    ]
    assert dispatcher.active_silences() == []


def test_expiring_a_silence_lets_notifications_through(make_dispatcher, clock, store):
    dispatcher = make_dispatcher()
    silence = dispatcher.add_silence(
        ["alertname=checkout-wait"], duration=timedelta(hours=2), created_by="a", comment="b"
    )
    dispatcher.submit(alert())
    step(dispatcher, clock, seconds=30)
    assert log_lines(store) == []
    ended = dispatcher.expire_silence(silence.id)
    assert ended.ends_at == clock.now
    step(dispatcher, clock, minutes=5)
    assert len(log_lines(store)) == 1
    (record,) = store.table("silences").search(Query().id == silence.id)
    assert record["ends_at"] == "2026-11-23T09:00:30.000000Z"  # the patch is stored
    assert record["created_by"] == "a" and record["matchers"] == ['alertname="checkout-wait"']


def test_silences_added_by_another_process_are_picked_up(make_dispatcher, clock, store):
    running = make_dispatcher(silence_refresh=timedelta(seconds=5))
    other = Dispatcher(settings(), builtin_notifiers(), Store(store.data_dir), clock=clock)
    other.add_silence(["site=grand-kl"], duration=timedelta(hours=1), created_by="cli", comment="x")
    other.close()
    running.submit(alert())
    step(running, clock, seconds=30)
    assert log_lines(store) == []
    assert [s.created_by for s in running.silences()] == ["cli"]


@pytest.mark.parametrize(
    ("matchers", "kwargs", "fragment"),
    [
        ({}, {"duration": timedelta(hours=1)}, "give at least one"),
        (["site=~.*"], {"duration": timedelta(hours=1)}, "match every alert"),
        (["site=x"], {}, "either ends_at or duration"),
        (["site=x"], {"ends_at": T0 - timedelta(hours=1)}, "must be after"),
        (["site x"], {"duration": timedelta(hours=1)}, "is not a matcher"),
    ],
)
def test_bad_silences_are_refused_naming_the_field(make_dispatcher, matchers, kwargs, fragment):
    dispatcher = make_dispatcher()
    with pytest.raises(SilenceError, match=fragment):
        dispatcher.add_silence(matchers, created_by="a", comment="b", **kwargs)
    with pytest.raises(SilenceError, match="comment"):
        dispatcher.add_silence(["site=x"], created_by="a", comment=" ", duration=timedelta(1))
    with pytest.raises(SilenceError, match="no silence"):
        dispatcher.expire_silence("nope")


# -- quiet hours -------------------------------------------------------------------------


def test_quiet_hours_hold_notifications_back_until_they_end(make_dispatcher, clock, store):
    notify = settings(
        receivers={"desk": {"type": "log", "path": "desk.jsonl"}},
        routes=[
            {"matchers": {"severity": "critical"}, "receiver": "log", "continue": True},
            {"receiver": "desk", "quiet_hours": ["evening"]},
        ],
        quiet_hours={"evening": {"times": ["17:00-18:00"]}},  # Kuala Lumpur time
    )
    dispatcher = make_dispatcher(notify)  # T0 is 17:00 in Kuala Lumpur
    brief, lasting = alert(moment="a"), alert(moment="b")
    dispatcher.submit(brief)
    dispatcher.submit(lasting)
    step(dispatcher, clock, seconds=30)
    assert len(log_lines(store)) == 1  # the critical route has no quiet hours
    desk = store.data_dir / "desk.jsonl"
    assert read_jsonl(desk) == []
    dispatcher.submit(resolved(brief, clock.advance(minutes=20)))
    step(dispatcher, clock, minutes=20)  # 17:40: still quiet
    assert read_jsonl(desk) == []
    step(dispatcher, clock, minutes=20)  # 18:00: the evening is over
    (line,) = read_jsonl(desk)  # what was held back, as it stands now
    assert line["status"] == "firing"
    assert [(a["labels"]["moment"], a["status"]) for a in line["alerts"]] == [
        ("b", "firing"),
        ("a", "resolved"),
    ]
    assert step(dispatcher, clock, minutes=5) == []


# -- restarts ----------------------------------------------------------------------------


def test_a_restart_does_not_resend_before_repeat_interval(store, clock, tmp_path):
    def start() -> Dispatcher:
        return Dispatcher(settings(), builtin_notifiers(), Store(store.data_dir), clock=clock)

    first = start()
    first.submit(alert())
    step(first, clock, seconds=30)
    first.close()
    again = start()  # the engine re-submits what is still firing
    again.submit(alert())
    for _ in range(47):
        assert step(again, clock, minutes=5) == []
    (repeat,) = step(again, clock, minutes=5)
    assert repeat.sequence == 2  # numbering carries on across the restart
    again.close()
    assert len(log_lines(store)) == 2


class Gate:
    """A plugin-style notifier that waits to be let through (a delivery in flight)."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.got: list = []

    def factory(self, name: str, **settings: object) -> Gate:
        return self

    def send(self, notification) -> None:
        self.open.wait(10)
        self.got.append(notification)


def test_a_delivery_cut_short_by_a_stop_is_sent_at_the_next_start(store, clock):
    gate, after = Gate(), Gate()
    after.open.set()
    notify = settings(receivers={"door": {"type": "gate"}}, routes=[{"receiver": "door"}])

    def start(notifier: Gate) -> Dispatcher:
        factories = {**builtin_notifiers(), "gate": notifier.factory}
        return Dispatcher(notify, factories, Store(store.data_dir), clock=clock)

    first = start(gate)
    first.submit(alert())
    (queued,) = first.tick(clock.advance(seconds=30))
    assert first.close(timeout=0.2) is False  # the delivery is still hanging
    second = start(after)
    assert second.flush(5)
    (resent,) = after.got
    assert resent.id == queued.id and resent.idempotency_key == queued.idempotency_key
    assert resent.payload() == queued.payload()
    second.submit(alert())  # the engine re-submits: already delivered, nothing new
    assert second.tick(clock.advance(seconds=30)) == []
    second.close()
    gate.open.set()


class Broken:
    def __init__(self, retryable: bool) -> None:
        self.retryable = retryable
        self.calls = 0

    def factory(self, name: str) -> Broken:
        return self

    def send(self, notification) -> None:
        self.calls += 1
        raise DeliveryError("the pager gateway said no", retryable=self.retryable)


def test_final_failure_is_logged_recorded_and_tried_again_next_interval(
    make_dispatcher, clock, store, caplog
):
    broken = Broken(retryable=True)
    notify = settings(
        receivers={"pager": {"type": "broken", "max_attempts": 3, "backoff": "1ms"}},
        routes=[{"receiver": "pager"}],
    )
    dispatcher = make_dispatcher(
        notify, factories={**builtin_notifiers(), "broken": broken.factory}
    )
    dispatcher.submit(alert())
    with caplog.at_level(logging.ERROR, logger="servicecycle.core.alerting"):
        step(dispatcher, clock, seconds=30)
    assert broken.calls == 3
    assert [o for _, o, _ in outcomes(store)] == ["queued", "retry", "retry", "failed"]
    (row,) = store.table("notifications").search(Query().outcome == "failed")
    assert row["error"] == "the pager gateway said no" and row["attempt"] == 3
    assert "giving up" in caplog.text and "the pager gateway said no" in caplog.text
    step(dispatcher, clock, minutes=5)  # not lost: the next group_interval tries again
    assert broken.calls == 6


def test_unknown_receiver_type_is_a_config_error(store):
    from servicecycle.core import ConfigError

    with pytest.raises(ConfigError) as caught:
        Dispatcher(
            settings(receivers={"x": {"type": "carrier-pigeon"}}, routes=[{"receiver": "x"}]),
            builtin_notifiers(),
            store,
            source="site.toml",
        )
    assert caught.value.problems == [
        "notify.receivers.x.type = 'carrier-pigeon': unknown notifier type; "
        "known types: apprise, email, log, webhook"
    ]
    assert "site.toml" in str(caught.value)


def test_log_notifier_needs_a_folder_for_a_relative_path(tmp_path: Path):
    from servicecycle.core.alerting.log_notifier import log_factory

    with pytest.raises(ValueError, match="absolute path"):
        log_factory("log", path="x.jsonl")
    assert log_factory("log", path=str(tmp_path / "a.jsonl")).path == tmp_path / "a.jsonl"
