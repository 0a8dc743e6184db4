"""`servicecycle plugin new` and `plugin check` as a plugin author runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import pip_install, run_cli, with_plugins


@pytest.mark.slow
def test_new_plugin_installs_shows_up_and_its_tests_pass(tmp_path):
    made = run_cli("plugin", "new", "pharmacy", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    project = tmp_path / "servicecycle-pharmacy"
    assert (project / "src" / "servicecycle_pharmacy" / "cycle.toml").exists()
    site = tmp_path / "site"
    pip_install(project, site)
    env = with_plugins(site, "pharmacy")
    listed = json.loads(run_cli("plugins", "--json", env=env).stdout)
    pharmacy = next(p for p in listed["plugins"] if p["name"] == "pharmacy")
    assert pharmacy["registered"] == {
        "cycles": ["pharmacy"],
        "rules": ["pharmacy.slow-service", "pharmacy.critical-drift"],
    }
    assert "service-wait" in run_cli("cycles", "pharmacy", env=env).stdout
    checked = run_cli("plugin", "check", "pharmacy", "--strict", env=env)
    assert checked.returncode == 0, checked.stdout
    assert "pharmacy: 1 cycle(s), 2 rule(s), 3 rule test(s)" in checked.stdout
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Pharmacy", "use a Python identifier in lowercase"),
        ("my-pharmacy", "use a Python identifier in lowercase"),
        ("class", "use a Python identifier in lowercase"),
        ("hotel", "'hotel' is already the name of an installed plugin"),
    ],
)
def test_bad_names_are_refused(tmp_path, name, message):
    result = run_cli("plugin", "new", name, "--dir", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "servicecycle-pharmacy").mkdir()
    (tmp_path / "servicecycle-pharmacy" / "keep.txt").write_text("mine")
    result = run_cli("plugin", "new", "pharmacy", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert "already exists; nothing was written" in result.stderr
    assert [p.name for p in (tmp_path / "servicecycle-pharmacy").iterdir()] == ["keep.txt"]


def test_check_names_precise_problems(tmp_path):
    made = run_cli("plugin", "new", "pharmacy", "--dir", str(tmp_path))
    assert made.returncode == 0
    package = tmp_path / "servicecycle-pharmacy" / "src" / "servicecycle_pharmacy"
    cycle = (package / "cycle.toml").read_text()
    (package / "cycle.toml").write_text(
        cycle.replace('languages = ["en"]', 'languages = ["en", "ms"]')
    )
    tests = (package / "rules_test.toml").read_text()
    (package / "rules_test.toml").write_text(tests.replace('at = "5m"', 'at = "2m"'))
    site = tmp_path / "site"
    pip_install(tmp_path / "servicecycle-pharmacy", site)
    result = run_cli("plugin", "check", "pharmacy", env=with_plugins(site, "pharmacy"))
    assert result.returncode == 1
    assert "warning cycle 'pharmacy': name has no text in ms" in result.stdout
    assert (
        "error rules_test.toml: three unhappy waits within 15 minutes alert the shift lead: "
        "at 2m: expected firing ['pharmacy.slow-service'], got []"
    ) in result.stdout
    built_in = run_cli("plugin", "check")
    assert built_in.returncode == 0
    for name in ("hotel", "health", "banking"):
        assert f"✓ {name}: 1 cycle(s)" in built_in.stdout
    unknown = run_cli("plugin", "check", "nope")
    assert unknown.returncode == 1 and "no plugin named 'nope'" in unknown.stderr


@pytest.mark.slow
def test_two_new_plugins_clash_with_nothing(tmp_path):
    """Ids are made from the plugin's name: two plugins made here never share one, nor
    share one with the built-in plugins."""
    site = tmp_path / "site"
    for name in ("restaurant", "spa"):
        assert run_cli("plugin", "new", name, "--dir", str(tmp_path)).returncode == 0
        pip_install(tmp_path / f"servicecycle-{name}", site)
    env = with_plugins(site, "restaurant", "spa")
    listed = json.loads(run_cli("plugins", "--json", env=env).stdout)
    assert listed["problems"] == []
    assert {p["name"] for p in listed["plugins"]} == {
        "hotel",
        "health",
        "banking",
        "restaurant",
        "spa",
    }
    checked = run_cli("plugin", "check", "--strict", "--json", env=env)
    assert checked.returncode == 0, checked.stdout
    assert all(report["ok"] for report in json.loads(checked.stdout))
    cycles = json.loads(run_cli("cycles", "--json", env=env).stdout)
    owner: dict[str, str] = {}
    for cycle in cycles:
        ids = [cycle["id"]] + [m["id"] for stage in cycle["stages"] for m in stage["moments"]]
        for item in ids:
            assert item not in owner, f"{item!r} is both {owner[item]}'s and {cycle['id']}'s"
            owner[item] = cycle["id"]
    rules = [p["registered"].get("rules", []) for p in listed["plugins"]]
    flat = [rule for group in rules for rule in group]
    assert len(flat) == len(set(flat))
    assert {"restaurant.slow-service", "spa.slow-service"} <= set(flat)
    assert owner["spa-service-wait"] == "spa" and owner["restaurant-welcome"] == "restaurant"


def test_a_name_whose_ids_are_taken_is_refused(tmp_path):
    result = run_cli("plugin", "new", "hotel_guest", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "'hotel-guest' is already cycle 'hotel-guest' of plugin 'hotel'" in result.stderr
    assert list(tmp_path.iterdir()) == []
    too_long = run_cli("plugin", "new", "a" * 28, "--dir", str(tmp_path))
    assert too_long.returncode == 2 and "up to 27 characters" in too_long.stderr


def test_the_new_plugin_s_readme_installs_the_test_extra_before_pytest(tmp_path):
    assert run_cli("plugin", "new", "spa", "--dir", str(tmp_path)).returncode == 0
    readme = (tmp_path / "servicecycle-spa" / "README.md").read_text()
    assert readme.index("pip install -e '.[test]'") < readme.index("pytest")
    pyproject = (tmp_path / "servicecycle-spa" / "pyproject.toml").read_text()
    assert 'test = ["pytest>=8"]' in pyproject
