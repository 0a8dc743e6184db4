"""Choosing a store engine by the target's scheme, with engines found by entry point.

Engines other than the data folder are planted as real installed
distributions (a ``.dist-info`` folder on ``sys.path``), the way pip leaves them.
"""

from __future__ import annotations

import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from servicecycle.core import StoreError
from servicecycle.core.store import contract
from servicecycle.core.store.engines import (
    GROUP,
    engine_for,
    installed_engines,
    load_engine,
    open_store,
)
from servicecycle.core.store.folder import FolderEngine, FolderStore

from .test_store import T0, rating

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """Install a distribution whose entry points (and module) the test writes."""

    def plant(entry_points: str, module: str = "") -> None:
        info = tmp_path / "site" / "planted_engines-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: planted-engines\nVersion: 1.0\n"
        )
        (info / "entry_points.txt").write_text(f"[{GROUP}]\n{textwrap.dedent(entry_points)}")
        (tmp_path / "site" / "planted_engine.py").write_text(textwrap.dedent(module))
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
        monkeypatch.delitem(sys.modules, "planted_engine", raising=False)

    return plant


@pytest.mark.parametrize(
    ("target", "engine"),
    [
        ("/var/lib/servicecycle", "folder"),
        ("relative/data", "folder"),
        ("odd:name", "folder"),  # a colon alone does not make a URL
        ("file:///var/lib/servicecycle", "folder"),
        ("FILE:data", "folder"),
        ("postgresql://kiosk@db/servicecycle", "postgresql"),
        ("postgres://db/servicecycle", "postgresql"),
        ("PostgreSQL://db/x", "postgresql"),
        ("mysql://db/x", "mysql"),
    ],
)
def test_the_scheme_picks_the_engine(target, engine):
    assert engine_for(target) == engine


def test_a_path_object_is_a_folder():
    assert engine_for(Path("postgresql://looks-like-a-url")) == "folder"


def test_the_folder_engine_is_registered_in_pyproject():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared[GROUP]["folder"] == "servicecycle.core.store.folder:FolderEngine"
    assert installed_engines()["folder"].load() is FolderEngine


@pytest.mark.parametrize("form", ["path", "text", "url"])
def test_open_store_opens_a_data_folder(tmp_path, form):
    folder = tmp_path / "data"
    target = {"path": folder, "text": str(folder), "url": folder.as_uri()}[form]
    store = open_store(target)
    try:
        assert isinstance(store, FolderStore) and isinstance(store, contract.SiteStore)
        store.ratings.add(rating(T0))
    finally:
        store.close()
    with open_store(str(folder), read_only=True) as again:
        assert again.ratings.count() == 1


def test_postgresql_is_installed_and_a_host_that_does_not_resolve_is_one_line():
    assert set(installed_engines()) >= {"folder", "postgresql"}
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://kiosk:secret@db.invalid/servicecycle")
    message = str(caught.value)
    assert message.startswith("cannot reach PostgreSQL at db.invalid:5432")
    assert "secret" not in message and "\n" not in message


def test_an_unknown_scheme_lists_the_installed_engines(planted):
    planted("memory = planted_engine:Engine\n", "class Engine:\n    name = 'memory'\n")
    with pytest.raises(
        StoreError, match=r"no store engine for mysql:// .*installed: folder, memory"
    ):
        open_store("mysql://db/x")


def test_an_installed_engine_is_used_for_its_scheme(planted, tmp_path):
    planted(
        "memory = planted_engine:Engine\n",
        f"""
        from servicecycle.core.store.folder import FolderStore

        class Engine:
            name = "memory"

            def open(self, target, *, read_only=False, zone="UTC"):
                self.target = target
                return FolderStore.open({str(tmp_path / "pg")!r}, read_only=read_only)
        """,
    )
    with open_store("memory://db/servicecycle") as store:
        assert isinstance(store, contract.SiteStore)
    assert isinstance(load_engine("memory"), contract.StoreEngine)


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        ("import no_such_driver\n", "ModuleNotFoundError: No module named 'no_such_driver'"),
        ("raise RuntimeError('half installed')\n", "RuntimeError: half installed"),
        ("Engine = 42\n", "is not a store engine"),
    ],
)
def test_an_engine_that_does_not_load_is_named_without_a_traceback(planted, module, reason):
    planted("memory = planted_engine:Engine\n", module)
    with pytest.raises(StoreError) as caught:
        open_store("memory://db/x")
    assert "store engine 'memory' (planted_engine:Engine)" in str(caught.value)
    assert reason in str(caught.value)
    assert caught.value.__cause__ is None  # the CLI shows one line, not a chain


def test_an_engine_that_fails_to_open_is_one_line_without_the_password(planted):
    planted(
        "memory = planted_engine:Engine\n",
        """
        class Engine:
            name = "memory"

            def open(self, target, *, read_only=False, zone="UTC"):
                raise ConnectionRefusedError("connection refused")
        """,
    )
    with pytest.raises(StoreError) as caught:
        open_store("memory://kiosk:hunter2@db:5432/x")
    assert str(caught.value) == (
        "store engine 'memory' cannot open memory://kiosk:***@db:5432/x: "
        "ConnectionRefusedError: connection refused"
    )


def test_a_missing_folder_parent_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create data folder"):
        open_store(blocker / "data")
