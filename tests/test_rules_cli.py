"""`servicecycle rules` and `servicecycle alerts` as an operator runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from .conftest import run_cli

BAD_RULES = """
[[rules]]
id = "site.ok"
kind = "single"
when = { score = 1 }
summary = "one"
response = "Act."

[[rules]]
id = "site.bad"
kind = "count"
when = { score = { like = 1 } }
window = "15m"
count = 3
summary = "{nope}"
response = "Act."
"""


def test_rules_list_shows_origin_and_site_changes(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(
        '[rules]\ndisable = ["hotel.kiosk-silent"]\n'
        '[rules.override."health.admission-furious"]\nkeep_firing_for = "30m"\n'
    )
    result = run_cli("--config", str(config), "rules", "list", "--json")
    assert result.returncode == 0, result.stderr
    rules = {r["id"]: r for r in json.loads(result.stdout)}
    assert len(rules) == 17  # 11 fixed-threshold rules and 6 drift rules
    assert rules["hotel.kiosk-silent"]["status"] == "disabled"
    assert rules["health.admission-furious"]["changed_by_site"] == [
        "override: keep_firing_for='30m'"
    ]
    assert rules["banking.wrong-payment"]["origin"].startswith("plugin banking (rules.toml:")
    table = run_cli("--config", str(config), "rules", "list")
    assert "health.admission-furious" in table.stdout


def test_rules_check_names_file_line_rule_and_exits_non_zero(tmp_path):
    path = tmp_path / "site-rules.toml"
    path.write_text(BAD_RULES)
    result = run_cli("rules", "check", str(path))
    assert result.returncode == 1
    assert f"{path}:12: rule 'site.bad': when.score: unknown operator 'like'" in result.stdout
    assert "summary: unknown field {nope}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    path.write_text(BAD_RULES.split('[[rules]]\nid = "site.bad"')[0])
    ok = run_cli("rules", "check", str(path))
    assert ok.returncode == 0 and "1 rules ok" in ok.stdout


def test_rules_test_runs_the_plugins_tests_and_fails_loudly(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [str(root / "plugins" / p / "rules_test.toml") for p in ("hotel", "health", "banking")]
    result = run_cli("rules", "test", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "16 passed, 0 failed" in result.stdout

    failing = tmp_path / "t.toml"
    failing.write_text(
        f'rule_files = ["{root / "plugins" / "hotel" / "rules.toml"}"]\n'
        '[[tests]]\nname = "wrong on purpose"\n'
        '[[tests.ratings]]\nat = "0m"\nmoment = "bill-accuracy"\nscore = 5\n'
        '[[tests.expect]]\nat = "1m"\nfiring = ["hotel.bill-dispute"]\n'
    )
    result = run_cli("rules", "test", str(failing))
    assert result.returncode == 1
    assert "FAIL" in result.stdout
    assert "expected firing ['hotel.bill-dispute'], got []" in result.stdout


def test_replay_lists_what_would_have_fired(tmp_path):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path)}
    start = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    for minute in (0, 3, 6):
        at = (start + timedelta(minutes=minute)).isoformat()
        recorded = run_cli(
            "record",
            "--cycle",
            "hotel-guest",
            "--moment",
            "check-in-wait",
            "--score",
            "1",
            "--at",
            at,
            env=env,
        )
        assert recorded.returncode == 0, recorded.stderr
    result = run_cli(
        "rules",
        "replay",
        "--since",
        "2026-10-01T00:00:00Z",
        "--until",
        "2026-10-06T00:00:00Z",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    fired = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(a["rule"], a["at"]) for a in fired] == [
        ("hotel.check-in-wait-streak", "2026-10-05T09:06:00+00:00"),
        ("hotel.kiosk-silent", "2026-10-05T12:06:00+00:00"),  # nothing more for 3 hours
    ]
    # the same history against a stricter rule file of the operator's own
    stricter = tmp_path / "try.toml"
    stricter.write_text(
        '[[rules]]\nid = "try.two"\nkind = "count"\ncycle = "hotel-guest"\n'
        'when = { moment = "check-in-wait", score = 1 }\nwindow = "5m"\ncount = 2\n'
        'summary = "{count}"\nresponse = "Act."\n'
    )
    tried = run_cli(
        "rules",
        "replay",
        "--since",
        "2026-10-01T00:00:00Z",
        "--until",
        "2026-10-06T00:00:00Z",
        "--rules",
        str(stricter),
        env=env,
    )
    assert "try.two" in tried.stdout and "(3 ratings replayed)" in tried.stdout


def test_alerts_run_list_and_ack(tmp_path):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path)}
    assert run_cli("alerts", env=env).stdout.strip() == "No alert is pending or firing."
    recorded = run_cli(
        "record",
        "--cycle",
        "health-emergency",
        "--moment",
        "emergency-wait",
        "--score",
        "1",
        "--reason",
        "lost-time",
        env=env,
    )
    assert recorded.returncode == 0
    ran = run_cli("alerts", "run", "--once", env=env)
    assert ran.returncode == 0, ran.stderr
    assert "new → firing health.admission-furious" in ran.stdout
    listed = json.loads(run_cli("alerts", "list", "--json", env=env).stdout)
    assert [a["rule"] for a in listed] == ["health.admission-furious"]
    shown = run_cli("alerts", env=env).stdout
    assert "→ Triage nurse: go to the waiting area now" in shown
    acked = run_cli("alerts", "ack", listed[0]["id"], "--by", "nurse Aida", env=env)
    assert acked.returncode == 0, acked.stderr
    assert "acknowledged by nurse Aida" in run_cli("alerts", env=env).stdout
    # a second run does not announce it again
    assert "firing" not in run_cli("alerts", "run", "--once", env=env).stdout
    unknown = run_cli("alerts", "ack", "deadbeef", "--by", "x", env=env)
    assert unknown.returncode == 1 and "no pending or firing alert 'deadbeef'" in unknown.stderr


def test_alerts_run_delivers_to_a_webhook_and_silences_mute_it(tmp_path):
    """End to end through real processes: record → evaluate → POST to a loopback server."""
    import http.server
    import threading

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get("Idempotency-Key"), json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "site.toml"
        config.write_text(
            f'[notify.receivers.ops]\ntype = "webhook"\nurl = "http://127.0.0.1:{server.server_port}/hook"\n'
            '[[notify.routes]]\nreceiver = "ops"\ngroup_wait = "0s"\n'
        )
        env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data"), "SERVICECYCLE_CONFIG": str(config)}
        silenced = run_cli(
            "alerts",
            "silence",
            "add",
            "alertname=banking.wrong-payment",
            "--by",
            "Ali",
            "--comment",
            "teller training",
            "--for",
            "1h",
            env=env,
        )
        assert silenced.returncode == 0, silenced.stderr
        assert "teller training" in run_cli("alerts", "silence", env=env).stdout
        for moment in ("emergency-wait", "correct-payment"):
            cycle = "health-emergency" if moment == "emergency-wait" else "banking-branch"
            assert (
                run_cli(
                    "record", "--cycle", cycle, "--moment", moment, "--score", "1", env=env
                ).returncode
                == 0
            )
        ran = run_cli("alerts", "run", "--once", env=env)
        assert ran.returncode == 0, ran.stderr
        assert "firing banking.wrong-payment" in ran.stdout  # still an alert ...
        alerts = [a for _, payload in received for a in payload["alerts"]]
        assert [a["labels"]["alertname"] for a in alerts] == [
            "health.admission-furious"
        ]  # ... muted
        assert received[0][0]  # an idempotency key
        assert received[0][1]["status"] == "firing"
        assert "Triage nurse" in json.dumps(received[0][1])
        # a restart does not send it again
        run_cli("alerts", "run", "--once", env=env)
        assert len(received) == 1
    finally:
        server.shutdown()
