"""`servicecycle config init|check|show`, run as a user runs them: a real child process each.

The file `config init` writes must pass `config check` as written, and every
commented example in it must check too once uncommented, as a site would do it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from servicecycle.core import Runtime, load_config

from .conftest import BUILTIN, run_cli
from .test_plugin_loading import install

ROOT = Path(__file__).resolve().parent.parent
ONLY_BUILTIN = {"SERVICECYCLE_LOAD_PLUGINS": ",".join(sorted(BUILTIN))}


def init(tmp_path: Path, industry: str, *more: str, env: dict[str, str] | None = None) -> Path:
    target = tmp_path / f"{industry}.toml"
    done = run_cli("config", "init", "--industry", industry, "-o", str(target), *more, env=env)
    assert done.returncode == 0, done.stderr
    assert f"wrote {target}" in done.stderr
    return target


def check(path: Path, *more: str, env: dict[str, str] | None = None):
    return run_cli("config", "check", str(path), *more, env=env)


def check_json(path: Path, *more: str, env: dict[str, str] | None = None) -> dict:
    done = check(path, "--json", *more, env=env)
    data = json.loads(done.stdout)
    assert set(data) == {"file", "ok", "problems", "warnings"}
    assert data["ok"] is (done.returncode == 0)
    return data


def uncomment(text: str, receiver: str) -> str:
    """Remove the "# " of one commented receiver example, as a site would: from its
    ``# [notify.receivers.NAME]`` line to the end of that run of comment lines."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"# [notify.receivers.{receiver}]\n")
    end = start
    while end < len(lines) and lines[end].startswith("#"):
        lines[end] = lines[end].removeprefix("#").removeprefix(" ")
        end += 1
    return "".join(lines)


# -- init ------------------------------------------------------------------------------------


@pytest.mark.parametrize("industry", ["banking", "health", "hotel"])
def test_init_writes_a_commented_file_that_checks(tmp_path, host, industry):
    path = init(tmp_path, industry)
    text = path.read_text(encoding="utf-8")
    done = check(path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{path}: ok"
    # what is left to do is said, one line each, in the order to fix it
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert [w.split(":")[1].strip() for w in warnings] == ["survey.url", "notify.receivers"]
    for needed in (
        "servicecycle kiosk hash-pin",
        "# pin_hash = ",
        "guest Wi-Fi",
        'url = "http://127.0.0.1:8765/s/{token}"',
        "[site.opening_hours]",
        "# [notify.receivers.ops-webhook]",
        "# [notify.receivers.duty-manager]",
    ):
        assert needed in text
    config = load_config(path)
    runtime = Runtime.open(plugins=host)
    cycle, _, moment = runtime.kiosk_moment(config.kiosk.cycle)
    assert cycle.industry == industry
    assert config.kiosk.moment == moment.id and moment.critical  # the kiosk's own default
    assert config.site.opening_hours  # the hours are written out, not left to a default
    for _, listed in cycle.moments():
        assert f" {listed.id} " in text  # every moment a site could choose is listed


@pytest.mark.parametrize(
    "receivers", [["ops-webhook"], ["duty-manager"], ["ops-webhook", "duty-manager"]]
)
def test_each_commented_receiver_checks_once_uncommented(tmp_path, receivers):
    path = init(tmp_path, "hotel")
    text = path.read_text(encoding="utf-8")
    for receiver in receivers:
        text = uncomment(text, receiver)
    path.write_text(text, encoding="utf-8")
    data = check_json(path)
    assert data["ok"] and data["problems"] == []
    assert [w["key"] for w in data["warnings"]] == ["survey.url"]  # a receiver is set now
    notify = load_config(path).notify
    assert sorted(notify.receivers) == sorted(receivers)
    assert [r.receiver for r in notify.routes] == ["log", *receivers]  # the log route kept
    kinds = {"ops-webhook": "webhook", "duty-manager": "email"}
    assert {n: r.type for n, r in notify.receivers.items()} == {n: kinds[n] for n in receivers}


def test_a_ready_file_has_no_warning_and_passes_strict(tmp_path):
    path = init(tmp_path, "banking")
    text = uncomment(path.read_text(encoding="utf-8"), "duty-manager")
    text = text.replace(
        'url = "http://127.0.0.1:8765/s/{token}"', 'url = "http://192.168.1.20:8765/s/{token}"'
    )
    path.write_text(text, encoding="utf-8")
    done = check(path, "--strict")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert check_json(path, "--strict") == {
        "file": str(path),
        "ok": True,
        "problems": [],
        "warnings": [],
    }


def test_init_writes_the_data_folder_when_asked(tmp_path):
    path = init(tmp_path, "health", "--data-dir", "/var/lib/servicecycle/data")
    assert load_config(path).data_dir == Path("/var/lib/servicecycle/data")
    assert load_config(init(tmp_path / "other", "health")).data_dir is None  # a comment


def test_init_keeps_an_existing_file_unless_forced(tmp_path):
    target = tmp_path / "site.toml"
    target.write_text("# ours\n", encoding="utf-8")
    done = run_cli("config", "init", "--industry", "hotel", "-o", str(target))
    assert done.returncode == 1
    assert f"{target} already exists; nothing was written (--force replaces it)" in done.stderr
    assert target.read_text(encoding="utf-8") == "# ours\n"
    forced = run_cli("config", "init", "--industry", "hotel", "-o", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "[kiosk]" in target.read_text(encoding="utf-8")
    printed = run_cli("config", "init", "--industry", "hotel")  # no -o: stdout
    assert printed.returncode == 0 and printed.stdout == target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--industry", "spa"],
            {},
            "Invalid value for '--industry': 'spa' is not an industry of the installed "
            "plugins; industries: banking, health, hotel",
        ),
        (  # the choices are the installed plugins' industries
            ["--industry", "hotel"],
            {"SERVICECYCLE_LOAD_PLUGINS": "banking"},
            "'hotel' is not an industry of the installed plugins; industries: banking",
        ),
        ([], {}, "give --industry (the site file) or --systemd DIR (the units)"),
        (["-o", "x.toml"], {}, "-o/--output and --data-dir are for the site file"),
    ],
)
def test_init_refuses_bad_options_with_exit_2(tmp_path, args, env, message):
    done = run_cli("config", "init", *args, env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_for_an_outside_plugins_industry_with_hostile_texts(tmp_path):
    """A plugin's texts go into comments: a newline or a quote in them cannot add a key."""
    site = tmp_path / "site"
    site.mkdir()
    install(site, "servicecycle-cafe", "sc_cafe", CAFE, entry="cafe")
    env = {"PYTHONPATH": str(site), "SERVICECYCLE_LOAD_PLUGINS": "cafe"}
    path = init(tmp_path, "cafe", env=env)
    text = path.read_text(encoding="utf-8")
    assert "\x1b" not in text and "\u202e" not in text
    assert '\\x0a[kiosk]\\x0aid = "pwned"' in text  # shown as the escapes it is
    assert load_config(path).kiosk.id == "kiosk-1"
    assert check(path, env=env).returncode == 0


CAFE = r"""
from servicecycle.core import hookimpl

@hookimpl
def register_cycles(register):
    register({
        "id": "cafe-visit", "industry": "cafe", "languages": ["en"],
        "name": {"en": "Cafe \u202e visit\n[kiosk]\nid = \"pwned\""},
        "stages": [{"id": "order", "name": {"en": "Ordering"}, "moments": [
            {"id": "order-wait", "question": {"en": "Wait?\x1b[2J\n[kiosk]\nid = \"pwned\""},
             "critical": True, "target": 4.2}]}],
    })
"""


def test_init_systemd_writes_the_units_each_checking_the_config_first(tmp_path):
    units = tmp_path / "units"
    done = run_cli("config", "init", "--systemd", str(units))
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in units.iterdir())
    assert names == [
        "servicecycle-alerts.service",
        "servicecycle-console.service",
        "servicecycle-hub.service",
        "servicecycle-kiosk@.service",
        "servicecycle-survey.service",
    ]
    for name in names:
        text = (units / name).read_text(encoding="utf-8")
        assert text == (ROOT / "deploy" / "systemd" / name).read_text(encoding="utf-8")
        assert re.search(r"^ExecStartPre=\S+/servicecycle config check \S+site\.toml$", text, re.M)
    again = run_cli("config", "init", "--systemd", str(units))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_the_example_is_what_init_writes_for_a_hotel(tmp_path):
    """examples/site.toml is kept as `config init` writes it (regenerate after a change
    to the template with `servicecycle config init --industry hotel --force -o
    examples/site.toml`)."""
    written = init(tmp_path, "hotel", env=ONLY_BUILTIN).read_text(encoding="utf-8")
    assert (ROOT / "examples" / "site.toml").read_text(encoding="utf-8") == written
    assert check(ROOT / "examples" / "site.toml").returncode == 0


# -- check -----------------------------------------------------------------------------------


def test_check_lists_every_problem_as_text_and_as_json(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[kiosk]\nscale = 3\n[site]\ntimezone = "Nowhere"\n', encoding="utf-8")
    done = check(path)
    assert done.returncode == 1
    assert f"bad configuration in {path}" in done.stderr
    assert "kiosk.scale = 3" in done.stderr and "site.timezone = 'Nowhere'" in done.stderr
    data = check_json(path)
    assert data["ok"] is False and data["file"] == str(path) and data["warnings"] == []
    assert [p.split(" = ")[0] for p in data["problems"]] == ["site.timezone", "kiosk.scale"]


def test_check_refuses_the_sites_own_rules_with_file_and_line(tmp_path):
    """[rules] files and [[rules.add]] are the site's: a bad one fails the check."""
    (tmp_path / "ours.toml").write_text(
        '[[rules]]\nid = "site.lobby"\nkind = "single"\nwhen = { score = 1 }\n'
        'summary = "{site:d}"\nresponse = "Act."\n',
        encoding="utf-8",
    )
    path = tmp_path / "site.toml"
    path.write_text(
        '[rules]\nfiles = ["ours.toml"]\n[[rules.add]]\nid = "site.bar"\nkind = "single"\n'
        'when = { score = 1 }\nsummary = "{nope}"\nresponse = "Act."\n',
        encoding="utf-8",
    )
    done = check(path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{tmp_path / 'ours.toml'}:5: rule 'site.lobby': summary: {{site:d}}" in done.stderr
    assert "rule 'site.bar': summary: unknown field {nope}" in done.stderr
    assert len(check_json(path)["problems"]) == 2


def test_check_knows_the_installed_cycles_and_moments(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[kiosk]\ncycle = "banking-branch"\nmoment = "nap"\n', encoding="utf-8")
    data = check_json(path)
    assert not data["ok"]
    assert data["problems"][0].startswith("kiosk.moment = 'nap': not a moment of 'banking-branch'")
    path.write_text('[kiosk]\ncycle = "banking-branch"\n', encoding="utf-8")
    assert check_json(path)["ok"]
    refused = check_json(path, env={"SERVICECYCLE_LOAD_PLUGINS": "hotel"})
    assert refused["problems"][0].startswith("kiosk.cycle = 'banking-branch': unknown")


def test_strict_turns_warnings_into_exit_1(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[site]\nid = "x"\n', encoding="utf-8")
    assert check(path).returncode == 0
    strict = check(path, "--strict")
    assert strict.returncode == 1
    assert "warning: survey.url: the QR code points at 127.0.0.1" in strict.stderr
    assert f"{path}: 2 warning(s), which --strict refuses" in strict.stderr
    assert strict.stdout == ""
    assert check_json(path, "--strict")["ok"] is False


def test_a_plugin_that_makes_survey_links_makes_the_address_warning_moot(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install(site, "servicecycle-links", "sc_links", LINKS, entry="links")
    path = tmp_path / "site.toml"
    path.write_text("", encoding="utf-8")
    plugins = ",".join(sorted(BUILTIN | {"links"}))
    with_plugin = check_json(
        path, env={"PYTHONPATH": str(site), "SERVICECYCLE_LOAD_PLUGINS": plugins}
    )
    assert [w["key"] for w in with_plugin["warnings"]] == ["notify.receivers"]
    assert [w["key"] for w in check_json(path)["warnings"]] == ["survey.url", "notify.receivers"]


LINKS = """
from servicecycle.core import hookimpl

@hookimpl
def survey_url(rating, token):
    return "https://survey.example/" + token
"""


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (lambda p: p.mkdir(), 2, "is a directory"),
        (lambda p: None, 1, "No such file or directory"),
        (lambda p: p.write_bytes(b"\xff\xfe"), 1, "not UTF-8 text"),
    ],
)
def test_check_refuses_what_is_not_a_config_file_without_a_traceback(tmp_path, make, code, message):
    path = tmp_path / "site.toml"
    make(path)
    done = check(path)
    assert done.returncode == code
    assert message in done.stderr
    assert "Traceback" not in done.stderr


# -- show ------------------------------------------------------------------------------------


def test_show_prints_what_the_kiosk_would_use_as_json(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(
        "[kiosk]\n"
        'cycle = "banking-branch"\n'
        "scale = 4\n"
        "repeat_gap = 0.25\n"
        "[survey]\n"
        'token_ttl = "36h"\n'
        "[notify.receivers.mail]\n"
        'type = "email"\n'
        'host = "smtp.example.com"\n'
        "starttls = true\n"
        'username = "kiosk"\n'
        'password = "hunter2"\n'
        'from = "kiosk@example.com"\n'
        'to = ["duty@example.com"]\n',
        encoding="utf-8",
    )
    data_dir = tmp_path / "elsewhere"
    done = run_cli(
        "--config", str(path), "config", "show", env={"SERVICECYCLE_DATA_DIR": str(data_dir)}
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"# from {path}")
    data = json.loads(done.stdout)  # stdout is JSON and nothing else
    kiosk = data["kiosk"]
    assert (kiosk["cycle"], kiosk["moment"]) == ("banking-branch", "wait-time")
    assert (kiosk["scale"], kiosk["high_threshold"], kiosk["low_threshold"]) == (4, 3, 2)
    assert kiosk["repeat_gap"] == "250ms" and data["survey"]["token_ttl"] == "1d12h"
    assert data["data_dir"] == str(data_dir)
    mail = data["notify"]["receivers"]["mail"]
    assert (mail["port"], mail["timeout"], mail["backoff_max"]) == (587, "10s", "1m")
    assert mail["password"] == "**********" and "hunter2" not in done.stdout
    log = data["notify"]["receivers"]["log"]
    assert log["path"] == str(data_dir / "alerts.jsonl")
    assert not re.search(r'"-?P(\d+D)?(T[\d.]+[HMS])*"', done.stdout)  # no ISO 8601 durations


def test_show_on_the_embedded_defaults_fills_in_every_default(tmp_path):
    done = run_cli("config", "show", env={"SERVICECYCLE_LOAD_PLUGINS": "hotel"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("# from embedded defaults")
    kiosk = json.loads(done.stdout)["kiosk"]
    assert (kiosk["cycle"], kiosk["moment"], kiosk["scale"], kiosk["high_threshold"]) == (
        "hotel-guest",
        "pickup-welcome",
        5,
        4,
    )
    assert [key for key, value in kiosk.items() if value is None] == ["pin_hash"]  # demo PIN


def test_show_refuses_a_moment_the_kiosk_could_not_ask(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[kiosk]\nmoment = "nap"\n', encoding="utf-8")
    done = run_cli("--config", str(path), "config", "show")
    assert done.returncode == 1
    assert f"bad configuration in {path}" in done.stderr and "kiosk.moment = 'nap'" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("command", ["init", "check", "show"])
def test_help(command):
    done = run_cli("config", command, "--help")
    assert done.returncode == 0 and f"Usage: servicecycle config {command}" in done.stdout


def test_show_masks_secret_headers_as_it_masks_passwords(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(
        '[notify.receivers.ops]\ntype = "webhook"\nurl = "https://ops.example.com/x"\n'
        'headers = { Authorization = "Bearer s3cret", X-Api-Key = "k3y", X-Team = "front" }\n'
        '[[notify.routes]]\nreceiver = "ops"\n',
        encoding="utf-8",
    )
    done = run_cli("--config", str(path), "config", "show")
    assert done.returncode == 0, done.stderr
    headers = json.loads(done.stdout)["notify"]["receivers"]["ops"]["headers"]
    assert headers == {"Authorization": "**********", "X-Api-Key": "**********", "X-Team": "front"}
    assert "s3cret" not in done.stdout and "k3y" not in done.stdout
