"""`servicecycle survey ...`: the commands, and the real server started the way an operator does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from click.testing import CliRunner

from servicecycle.cli.main import State
from servicecycle.cli.survey import survey
from servicecycle.core import PluginHost, RatingFilter, Runtime
from servicecycle.core.answers import find_answer

from .test_survey_support import BUILTIN, crash_while_answering, kiosk_rating, make_site

#: Runs the CLI with the survey group attached, whether or not main.py wires it in yet.
LAUNCH = (
    "import sys; from servicecycle.cli.main import cli, main; "
    "from servicecycle.cli.survey import survey; "
    "'survey' in cli.commands or cli.add_command(survey); main(sys.argv[1:])"
)


def _state(tmp_path):
    return State(tmp_path / "site.toml", None, PluginHost.discover(only=BUILTIN))


def test_link_prints_the_qr_code_s_url_for_a_rating(tmp_path):
    runtime = make_site(tmp_path, url="https://feedback.example/s/{token}?m={moment}")
    rating, _ = kiosk_rating(runtime)
    runtime.close()
    result = CliRunner().invoke(survey, ["link", rating.id], obj=_state(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("https://feedback.example/s/")
    assert result.output.strip().endswith(f"?m={rating.moment}")


def test_link_for_an_unknown_rating_is_an_error(tmp_path):
    make_site(tmp_path).close()
    result = CliRunner().invoke(survey, ["link", "f" * 32], obj=_state(tmp_path))
    assert result.exit_code != 0
    assert "no rating" in str(result.exception)


def test_serve_refuses_a_relative_root_path(tmp_path):
    make_site(tmp_path).close()
    result = CliRunner().invoke(survey, ["serve", "--root-path", "survey"], obj=_state(tmp_path))
    assert result.exit_code == 2 and "must start with '/'" in result.output


def test_serve_runs_the_real_server_until_sigterm(tmp_path):
    runtime = make_site(tmp_path)
    rating, _ = kiosk_rating(runtime)
    runtime.close()
    crash_while_answering(tmp_path / "site.toml", rating.id)  # the last run died mid-answer
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SERVICECYCLE_LOAD_PLUGINS": "hotel"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LAUNCH,
            "--config",
            str(tmp_path / "site.toml"),
            "survey",
            "serve",
            "--port",
            str(port),
            "--root-path",
            "/survey",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.read() == b"ok"
                    assert "server" not in {k.lower() for k in r.headers}
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "server did not answer"
                time.sleep(0.1)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/s/nope", timeout=2)
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
            assert b'href="/survey/static/survey.css"' in exc.read()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    # uvicorn shuts down cleanly, then re-raises the signal (systemd counts that as success)
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert "Shutting down" in stderr and "Traceback" not in stderr
    assert f"http://127.0.0.1:{port}/survey/s/<token>" in stderr
    # on start, the answer the crash left half recorded was completed
    assert "recorded 2 stage rating(s) an interrupted submission had left" in stderr
    runtime = Runtime.open(tmp_path / "site.toml", plugins=PluginHost.discover(only=BUILTIN))
    try:
        answer = find_answer(runtime.store, rating)
        derived = {r.id for r in runtime.store.ratings.query(RatingFilter(kiosk="survey"))}
        assert derived == {s.rating for s in answer.stages} and len(derived) == 3
    finally:
        runtime.close()
