"""Plugins found through entry points, including broken ones and outside packages.

Plugins are "installed" into a temporary folder as real distributions (a
``*.dist-info`` with ``entry_points.txt``) and the real CLI runs in a child
process with that folder on ``PYTHONPATH``, exactly as a pip install would be seen.
Each test names the outside plugins it loads (``with_plugins``): a plugin installed
beside servicecycle is never loaded by a test that did not ask for it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from .conftest import pip_install, run_cli, with_plugins

GOOD_CAFE = """
from servicecycle.core import hookimpl

CYCLE = {
    "id": "cafe-visit", "industry": "cafe", "languages": ["en"],
    "name": {"en": "Cafe visit"},
    "stages": [{"id": "order", "name": {"en": "Ordering"}, "moments": [
        {"id": "order-wait", "question": {"en": "How was the wait?"},
         "critical": True, "target": 4.2, "reasons": ["lost-time"]}]}],
}

@hookimpl
def register_cycles(register):
    register(CYCLE)
"""


def install(site: Path, dist: str, module: str, code: str, entry: str | None = None) -> None:
    """Write ``module`` and a dist-info declaring it in the ``servicecycle`` group."""
    (site / f"{module}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n")
    (info / "entry_points.txt").write_text(f"[servicecycle]\n{entry or dist} = {module}\n")


def plugins_json(site: Path, *names: str, **env: str) -> dict:
    result = run_cli("plugins", "--json", env={**with_plugins(site, *names), **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_builtin_plugins_load_through_entry_points():
    result = run_cli("plugins", "--json")
    data = json.loads(result.stdout)
    names = {p["name"]: p for p in data["plugins"]}
    assert {"hotel", "health", "banking"} <= set(names)
    assert names["hotel"]["distribution"] == "servicecycle"
    assert names["hotel"]["registered"]["cycles"] == ["hotel-guest"]
    assert "hotel.bill-dispute" in names["hotel"]["registered"]["rules"]
    assert data["problems"] == []


def test_outside_plugin_and_broken_plugins_side_by_side(tmp_path):
    install(tmp_path, "servicecycle-cafe", "sc_cafe", GOOD_CAFE, entry="cafe")
    install(tmp_path, "servicecycle-broken", "sc_broken", "import does_not_exist\n", "broken")
    install(
        tmp_path,
        "servicecycle-baddata",
        "sc_baddata",
        """
        from servicecycle.core import hookimpl

        @hookimpl
        def register_cycles(register):
            register({"id": "x", "industry": "x", "languages": ["en"], "name": {"en": "X"},
                      "stages": [{"id": "s", "name": {"en": "S"}, "moments": [
                          {"id": "m", "question": {"en": "Q?"}, "target": 9}]}]})
        """,
        "baddata",
    )
    install(
        tmp_path,
        "servicecycle-raises",
        "sc_raises",
        """
        from servicecycle.core import hookimpl

        @hookimpl
        def register_cycles(register):
            raise RuntimeError("database unreachable")
        """,
        "raises",
    )
    outside = ("cafe", "broken", "baddata", "raises")
    data = plugins_json(tmp_path, *outside)
    names = {p["name"]: p for p in data["plugins"]}
    assert names["cafe"]["version"] == "0.3.1"
    assert names["cafe"]["registered"] == {"cycles": ["cafe-visit"]}
    assert {"hotel", "health", "banking"} <= set(names)
    problems = {p["plugin"]: p for p in data["problems"]}
    assert set(problems) == {"broken", "baddata", "raises"}
    assert problems["broken"]["stage"] == "load"
    assert "No module named 'does_not_exist'" in problems["broken"]["message"]
    assert "target = 9" in problems["baddata"]["message"]
    assert "between 1 and 5" in problems["baddata"]["message"]
    assert "database unreachable" in problems["raises"]["message"]

    # The human listing names each broken plugin too, and the good cycles still work.
    listing = run_cli("plugins", env=with_plugins(tmp_path, *outside))
    assert "Plugins with problems" in listing.stdout
    for name in ("broken", "baddata", "raises"):
        assert name in listing.stdout
    cafe = run_cli("cycles", "cafe", env=with_plugins(tmp_path, *outside))
    assert cafe.returncode == 0
    assert "order-wait" in cafe.stdout
    assert "Traceback" not in cafe.stderr


def test_load_plugins_environment_variable_limits_plugins(tmp_path):
    install(tmp_path, "servicecycle-cafe", "sc_cafe", GOOD_CAFE, entry="cafe")
    data = plugins_json(tmp_path, SERVICECYCLE_LOAD_PLUGINS="cafe, health")
    assert sorted(p["name"] for p in data["plugins"]) == ["cafe", "health"]
    assert plugins_json(tmp_path, SERVICECYCLE_LOAD_PLUGINS="")["plugins"] == []


def test_unknown_hook_name_is_reported(tmp_path):
    install(
        tmp_path,
        "servicecycle-typo",
        "sc_typo",
        """
        from servicecycle.core import hookimpl

        @hookimpl
        def register_cyles(register):
            pass
        """,
        "typo",
    )
    data = plugins_json(tmp_path, "typo")
    [problem] = data["problems"]
    assert problem["plugin"] == "typo"
    assert "unknown hook 'register_cyles'" in problem["message"]
    assert "register_cycles" in problem["message"]


@pytest.mark.slow
def test_outside_package_built_and_installed_with_pip(tmp_path):
    """A plugin in its own project, built by pip, works without touching servicecycle."""
    project = tmp_path / "servicecycle-cafe"
    (project / "servicecycle_cafe").mkdir(parents=True)
    (project / "servicecycle_cafe" / "__init__.py").write_text(GOOD_CAFE)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "servicecycle-cafe"
            version = "1.2.0"

            [project.entry-points.servicecycle]
            cafe = "servicecycle_cafe"
            """
        )
    )
    target = tmp_path / "site"
    pip_install(project, target)
    data = plugins_json(target, "cafe")
    cafe = next(p for p in data["plugins"] if p["name"] == "cafe")
    assert cafe["version"] == "1.2.0"
    assert cafe["distribution"] == "servicecycle-cafe"
    recorded = run_cli(
        "record",
        "--cycle",
        "cafe-visit",
        "--moment",
        "order-wait",
        "--score",
        "2",
        "--reason",
        "lost-time",
        "--json",
        env=with_plugins(target, "cafe"),
    )
    assert recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout)["cycle"] == "cafe-visit"


def test_a_plugin_installed_beside_servicecycle_is_not_loaded_unless_a_test_asks(tmp_path):
    """The suite's own processes load the built-in plugins only (conftest), so an
    outside plugin installed in the environment can never make a test fail."""
    install(tmp_path, "servicecycle-cafe", "sc_cafe", GOOD_CAFE, entry="cafe")
    install(tmp_path, "servicecycle-broken", "sc_broken", "import does_not_exist\n", "broken")
    unasked = run_cli("plugins", "--json", env={"PYTHONPATH": str(tmp_path)})
    data = json.loads(unasked.stdout)
    assert {p["name"] for p in data["plugins"]} == {"hotel", "health", "banking"}
    assert data["problems"] == []
    asked = plugins_json(tmp_path, "cafe")
    assert "cafe" in {p["name"] for p in asked["plugins"]} and asked["problems"] == []
