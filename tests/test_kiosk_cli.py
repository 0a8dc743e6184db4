"""`servicecycle kiosk` and `servicecycle kiosk hash-pin`.

Argument and configuration mistakes are checked in-process (click's runner);
the kiosk itself is run for real in a pseudo-terminal, where the terminal's
own signal keys (ctrl+c, ctrl+z, ctrl+\\) are sent as a customer would.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from servicecycle.cli.kiosk import kiosk
from servicecycle.cli.main import cli
from servicecycle.core import PinGuard, PluginHost, Store, load_config

from .test_kiosk_support import BUILTIN

QUESTION = "How were you welcomed by our driver on arrival?"


@pytest.fixture
def root(monkeypatch):
    """The real root command, with `kiosk` attached as main.py attaches it."""
    monkeypatch.setitem(cli.commands, "kiosk", kiosk)
    return cli


def invoke(root, *args, input=None):
    return CliRunner().invoke(root, list(args), obj=PluginHost.discover(only=BUILTIN), input=input)


def test_hash_pin_prints_a_config_line_that_checks_the_pin(root, tmp_path):
    result = invoke(root, "kiosk", "hash-pin", input="2468\n2468\n")
    assert result.exit_code == 0, result.output
    assert "2468" not in result.output  # hidden input is never echoed
    line = next(x for x in result.output.splitlines() if x.startswith("pin_hash = "))
    config = tmp_path / "site.toml"
    config.write_text(f"[kiosk]\n{line}\n")
    encoded = load_config(config).kiosk.pin_hash
    assert encoded is not None and encoded.startswith("pbkdf2_sha256$200000$")
    guard = PinGuard(encoded)
    assert guard.check("2468") and not guard.check("2469")


def test_hash_pin_asks_again_when_the_two_entries_differ(root):
    result = invoke(root, "kiosk", "hash-pin", input="2468\n1357\n2468\n2468\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert "pin_hash = " in result.output


def test_hash_pin_refuses_a_pin_that_is_not_digits(root):
    result = invoke(root, "kiosk", "hash-pin", input="12ab\n12ab\n")
    assert result.exit_code == 1
    assert "a PIN is 4 to 12 digits" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["kiosk", "--cycle", "no-such-cycle"],
            "Invalid value for '--cycle': 'no-such-cycle' is not a known cycle; known cycles: "
            "banking-branch, health-emergency, hotel-guest",
        ),
        (
            ["kiosk", "--moment", "no-such-moment"],
            "Invalid value for '--moment': 'no-such-moment' is not a moment of 'hotel-guest'; "
            "its moments: booking-contact, booking-offer, pickup-welcome,",
        ),
        (
            ["kiosk", "--lang", "xx"],
            "Invalid value for '--lang': 'xx' is not offered by this kiosk; kiosk.languages: "
            "en, ms, ru, tr",
        ),
        (
            ["kiosk", "--cycle", "banking-branch", "--moment", "pickup-welcome"],
            "Invalid value for '--moment': 'pickup-welcome' is not a moment of 'banking-branch'",
        ),
    ],
)
def test_bad_arguments_are_a_clear_error(root, tmp_path, args, message):
    """A value typed as an option is blamed as that option, never as the configuration."""
    result = invoke(root, "--data-dir", str(tmp_path / "data"), *args)
    assert result.exit_code == 2
    assert "configuration" not in result.output
    assert message in result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit


def test_a_bad_config_is_a_clear_error(root, tmp_path):
    config = tmp_path / "site.toml"
    config.write_text("[kiosk]\nscale = 3\nthanks_seconds = 1\n")
    result = invoke(root, "--config", str(config), "kiosk")
    assert result.exit_code == 1
    assert "kiosk.scale" in result.output and "kiosk.thanks_seconds" in result.output
    assert "Traceback" not in result.output


# -- the real thing, in a terminal ----------------------------------------------------------


class Terminal:
    """A process on a pseudo-terminal of its own (its controlling terminal)."""

    def __init__(self, argv: list[str], env: dict[str, str], size: tuple[int, int]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            columns, rows = size
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            os.execvpe(argv[0], argv, env)
        self.output = b""
        self.status: int | None = None

    def read_until(self, marker: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or not self.alive():
                raise AssertionError(
                    f"{marker!r} never appeared; output ends {self.output[-400:]!r}"
                )
            self.drain(min(left, 0.1))

    def drain(self, seconds: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], seconds)
        if ready:
            with contextlib.suppress(OSError):
                self.output += os.read(self.fd, 65536)

    def send(self, data: bytes, settle: float = 0.3) -> None:
        os.write(self.fd, data)
        end = time.monotonic() + settle
        while time.monotonic() < end:
            self.drain(0.05)

    def alive(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is None

    def wait(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                raise AssertionError("the kiosk did not exit")
            self.drain(0.05)
        assert self.status is not None
        return os.waitstatus_to_exitcode(self.status)

    def close(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def ratings(data_dir: Path) -> list[int]:
    with Store(data_dir) as store:
        return [r.score for r in store.ratings.query()]


def test_the_kiosk_runs_in_a_terminal_ignores_signal_keys_and_exits_only_via_staff(tmp_path):
    data_dir, log_file = tmp_path / "data", tmp_path / "kiosk.log"
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "SERVICECYCLE_LOAD_PLUGINS": "hotel",
        "TEXTUAL_ALLOW_SIGNALS": "1",  # the kiosk must drop it
    }
    env.pop("SERVICECYCLE_CONFIG", None)
    argv = [sys.executable, "-m", "servicecycle.cli.kiosk", "--data-dir", str(data_dir)]
    term = Terminal([*argv, "kiosk", "--log-file", str(log_file)], env, (80, 24))
    try:
        term.read_until(QUESTION.encode())
        for key in (b"\x03", b"\x1a", b"\x1c", b"\x11", b"\x10", b"\x1b"):
            term.send(key, settle=0.15)  # ctrl+c, ctrl+z, ctrl+\, ctrl+q, ctrl+p, escape
            assert term.alive(), f"{key!r} ended the kiosk"
        term.send(b"3", settle=0.5)
        assert ratings(data_dir) == [3]
        with pytest.raises(Exception, match="already in use by kiosk kiosk-1"):
            Store(data_dir, owner="kiosk intruder")  # it owns the folder
        term.send(b"\x0b\x0b\x0b")  # the staff chord: ctrl+k three times
        term.read_until(b"Staff PIN")
        term.send(b"0000\r")
        term.read_until(b"Staff menu")
        term.send(b"\t\r", settle=0.4)  # to "Exit kiosk", then press it...
        assert term.alive()
        term.send(b"\r", settle=0.1)  # ...and again to confirm
        assert term.wait() == 0
    finally:
        term.close()
    Store(data_dir, owner="kiosk next").close()  # the owner lock was released
    log = log_file.read_text()
    assert "kiosk kiosk-1 starting on hotel-guest/pickup-welcome" in log
    assert "closed from the staff menu" in log


def test_sigterm_stops_the_kiosk_cleanly(tmp_path):
    data_dir = tmp_path / "data"
    env = {**os.environ, "TERM": "xterm-256color", "SERVICECYCLE_LOAD_PLUGINS": "hotel"}
    argv = [sys.executable, "-m", "servicecycle.cli.kiosk", "--data-dir", str(data_dir)]
    term = Terminal([*argv, "kiosk", "--log-file", str(tmp_path / "k.log")], env, (80, 24))
    try:
        term.read_until(QUESTION.encode())
        os.kill(term.pid, signal.SIGTERM)
        assert term.wait() == 0
    finally:
        term.close()
    Store(data_dir, owner="kiosk next").close()


def sgr_codes(output: bytes) -> list[tuple[int, ...]]:
    """The parameters of every SGR (colour and style) sequence the kiosk wrote."""
    import re

    found = re.findall(rb"\x1b\[([0-9;]*)m", output)
    return [tuple(int(p) for p in params.split(b";") if p) for params in found]


def test_on_the_linux_console_the_faces_get_colours_the_console_has(tmp_path):
    """TERM=linux, as in the documented systemd unit: 16 colours, and the console draws
    a bright background (SGR 100-107) as the dark one. The faces are drawn in plain
    red and green backgrounds and bright red, yellow and green text and borders."""
    data_dir, log_file = tmp_path / "data", tmp_path / "kiosk.log"
    env = {**os.environ, "TERM": "linux", "SERVICECYCLE_LOAD_PLUGINS": "hotel"}
    for name in ("COLORTERM", "NO_COLOR", "SERVICECYCLE_CONFIG"):
        env.pop(name, None)
    argv = [sys.executable, "-m", "servicecycle.cli.kiosk", "--data-dir", str(data_dir)]
    term = Terminal([*argv, "kiosk", "--log-file", str(log_file)], env, (80, 24))
    try:
        term.read_until(QUESTION.encode())
        term.read_until(b"Very good")
        term.send(b"", settle=0.5)
        codes = sgr_codes(term.output)
    finally:
        term.close()
    assert not any(38 in c or 48 in c for c in codes), "only the 16 colours, no 256 or RGB"
    backgrounds = {p for c in codes for p in c if 40 <= p <= 47 or 100 <= p <= 107}
    foregrounds = {p for c in codes for p in c if 30 <= p <= 37 or 90 <= p <= 97}
    assert {41, 42} <= backgrounds  # very bad: red; very good: green
    assert {91, 93, 92} <= foregrounds  # bad, okay, good: bright red, yellow, green
    # No bright red, green or yellow background (the console would draw a dark one): the
    # faces' order holds. (Bright black, 100, is the header's panel: black on the console.)
    assert not backgrounds & {101, 102, 103}
    log = log_file.read_text()
    assert log.count("before relying on this kiosk: survey.url:") == 1
    assert log.count("before relying on this kiosk: notify.receivers:") == 1
