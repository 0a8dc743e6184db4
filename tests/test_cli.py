"""The `servicecycle` command as a user runs it: a real child process each time."""

from __future__ import annotations

import csv
import io
import json

import pytest

from .conftest import run_cli


def test_cycles_hotel_draws_the_map():
    result = run_cli("cycles", "hotel")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    order = [text.index(s) for s in ("Reservation", "Arrival transfer", "Check-in", "Check-out")]
    assert order == sorted(order)
    assert "★ critical stage" in text
    assert "★ bill-accuracy" in text
    assert "banking" not in text.split("industry")[0]


def test_cycles_in_another_language():
    result = run_cli("cycles", "health", "--lang", "ru")
    assert result.returncode == 0
    assert "Вызов скорой помощи" in result.stdout or "скор" in result.stdout


def test_unknown_industry_is_a_clear_error():
    result = run_cli("cycles", "spa")
    assert result.returncode == 2
    assert "Invalid value for 'INDUSTRY': no industry or cycle named 'spa'" in result.stderr
    assert "banking, health, hotel" in result.stderr
    assert "Traceback" not in result.stderr


def test_record_and_export(tmp_path):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    first = run_cli(
        "record",
        "--cycle",
        "banking-branch",
        "--moment",
        "wait-time",
        "--score",
        "1",
        "--reason",
        "lost-time",
        "--lang",
        "tr",
        "--at",
        "2026-11-20T10:00:00+03:00",
        "--json",
        env=env,
    )
    assert first.returncode == 0, first.stderr
    stored = json.loads(first.stdout)
    assert stored["at"] == "2026-11-20T07:00:00.000000Z"
    assert stored["stage"] == "waiting"
    second = run_cli("record", "--score", "4", env=env)  # kiosk defaults from the config
    assert second.returncode == 0, second.stderr
    second_id = second.stdout.strip()

    out = run_cli("export", "--format", "csv", env=env)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["id"] for r in rows] == [stored["id"], second_id]
    assert rows[0]["reasons"] == "lost-time"
    assert rows[1]["cycle"] == "hotel-guest"
    assert rows[1]["site"] == "demo-site"

    target = tmp_path / "out" / "ratings.jsonl"
    out = run_cli(
        "export", "--format", "jsonl", "-o", str(target), "--since", "2026-11-21T00:00:00Z", env=env
    )
    assert out.returncode == 0, out.stderr
    assert "exported 1 ratings" in out.stderr
    [line] = target.read_text().splitlines()
    assert json.loads(line)["id"] == second_id


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--score", "9"],
            "Invalid value for '--score': 9 is not allowed; a whole number from 1 to 5",
        ),
        (["--score", "2", "--reason", "rude"], "Invalid value for '--reason': 'rude'"),
        (
            ["--score", "2", "--moment", "nap"],
            "Invalid value for '--moment': 'nap' is not a moment",
        ),
        (["--score", "2", "--cycle", "nope"], "Invalid value for '--cycle': 'nope' is not a known"),
        (["--score", "2", "--lang", "xx"], "Invalid value for '--lang': 'xx'"),
        (["--score", "2", "--at", "yesterday"], "not an ISO 8601 time"),
        (["--score", "2", "--at", "2026-01-01T10:00"], "has no time zone"),
        (["--score", "2", "--at", "2999-01-01T10:00Z"], "it is in the future"),
        (["--score", "x"], "'x' is not a whole number written in digits 0-9"),
        (["--score", "\u0663"], "is not a whole number written in digits 0-9"),
    ],
)
def test_record_refuses_bad_input_without_a_traceback(tmp_path, args, message):
    result = run_cli("record", *args, env={"SERVICECYCLE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_config_file_is_named_with_the_key(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[kiosk]\nscale = 3\nmoment = "nap"\n[site]\ntimezone = "Nowhere"\n')
    result = run_cli("--config", str(config), "record", "--score", "1")
    assert result.returncode == 1
    assert f"bad configuration in {config}" in result.stderr
    assert "kiosk.scale = 3" in result.stderr
    assert "site.timezone = 'Nowhere'" in result.stderr
    assert "Traceback" not in result.stderr
    checked = run_cli("config", "check", str(config))
    assert checked.returncode == 1
    assert "kiosk.scale" in checked.stderr


def test_config_show_and_check(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[site]\nid = "grand-kl"\ntimezone = "Asia/Kuala_Lumpur"\n')
    assert run_cli("config", "check", str(config)).stdout.strip() == f"{config}: ok"
    shown = run_cli("--config", str(config), "config", "show")
    body = json.loads(shown.stdout)  # JSON only; where it came from is said on stderr
    assert body["site"]["id"] == "grand-kl"
    assert shown.stderr.startswith(f"# from {config}")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["plugins"],
        ["cycles"],
        ["record"],
        ["export"],
        ["config"],
        ["config", "check"],
        ["store"],
        ["store", "check"],
        ["store", "repair"],
        ["store", "compact"],
        ["store", "stats"],
        ["store", "backup"],
        ["report"],
        ["rules"],
        ["alerts"],
        ["plugin"],
        ["survey"],
    ],
)
def test_help_everywhere(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "Usage: servicecycle" in result.stdout


def test_store_commands_on_a_damaged_store(tmp_path):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path)}
    for score in ("1", "2", "3"):
        assert run_cli("record", "--score", score, env=env).returncode == 0
    stats = run_cli("store", "stats", env=env)
    assert stats.returncode == 0
    assert "ratings" in stats.stdout and "│       3 │" in stats.stdout
    assert run_cli("store", "check", env=env).returncode == 0

    [path] = (tmp_path / "tables" / "ratings").glob("*.log")
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"score":2', b'"score":4')
    path.write_bytes(b"\n".join(lines))
    offset = len(lines[0]) + 1

    exported = run_cli("export", env=env)
    assert exported.returncode == 1
    assert f"{path}: byte {offset} (line 2" in exported.stderr
    assert "Traceback" not in exported.stderr

    checked = run_cli("store", "check", env=env)
    assert checked.returncode == 1
    assert f"byte {offset}, line 2" in checked.stdout
    assert "checksum mismatch" in checked.stdout

    repaired = run_cli("store", "repair", env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert "kept 2 records" in repaired.stdout
    assert run_cli("store", "check", env=env).returncode == 0
    assert [line.split(",")[7] for line in run_cli("export", env=env).stdout.split()[1:]] == [
        "1",
        "3",
    ]
    compacted = run_cli("store", "compact", env=env)
    assert compacted.returncode == 0 and "Compacted" in compacted.stdout
