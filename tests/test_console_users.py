"""`servicecycle hub user ...` and the user book: clear refusals, argon2 hashes, no leaks."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicecycle.core import AccessError, UserBook
from tests.fleet import CLI

PASSWORD = "correct horse battery"


def run(data, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, "--data-dir", str(data), "hub", "user", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )


@pytest.fixture
def pw(tmp_path):
    path = tmp_path / "pw"
    path.write_text(PASSWORD + "\n")
    return str(path)


def test_users_are_added_listed_and_removed_and_only_a_hash_is_kept(tmp_path, pw):
    data = tmp_path / "data"
    done = run(
        data, "add", "Ana", "--role", "manager", "--site", "demo-site", "--password-file", pw
    )
    assert done.returncode == 0 and "added Ana: manager of site demo-site" in done.stdout
    typed = run(data, "add", "root", "--role", "admin", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert typed.returncode == 0, typed.stderr
    listed = json.loads(run(data, "list", "--json").stdout)
    assert listed == [
        {
            "name": "Ana",
            "role": "manager",
            "site": "demo-site",
            "region": None,
            "email": None,
            "language": "en",
        },
        {
            "name": "root",
            "role": "admin",
            "site": None,
            "region": None,
            "email": None,
            "language": "en",
        },
    ]
    raw = (data / "hub" / "console.sqlite").read_bytes()
    assert PASSWORD.encode() not in raw
    hashes = sqlite3.connect(data / "hub" / "console.sqlite").execute("SELECT hash FROM users")
    assert all(h.startswith("$argon2id$") for (h,) in hashes)
    assert (data / "hub" / "console.sqlite").stat().st_mode & 0o077 == 0
    assert run(data, "remove", "ana").returncode == 0  # names are case-insensitive
    assert [u["name"] for u in json.loads(run(data, "list", "--json").stdout)] == ["root"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x", "--role", "boss"], "'boss' is not one of 'admin', 'manager', 'staff'"),
        (["add", "x", "--role", "admin", "--site", "demo-site"], "an admin sees every site"),
        (["add", "x", "--role", "staff"], "staff belong to one site: give --site"),
        (["add", "x", "--role", "manager"], "give --site or --region"),
        (
            ["add", "x", "--role", "staff", "--site", "mars"],
            "'mars' is not one of this hub's sites",
        ),
        (
            ["add", "x", "--role", "manager", "--region", "asia"],
            "'asia' is not one of this hub's regions",
        ),
        (["add", "a b", "--role", "admin"], "user name 'a b' is not allowed"),
        (
            ["add", "x", "--role", "admin", "--password-file", "/nonexistent"],
            "cannot read /nonexistent",
        ),
        (["remove", "nobody"], "no user 'nobody'; the users: none yet"),
        (["passwd", "nobody"], "no user 'nobody'"),
    ],
)
def test_a_mistake_is_refused_naming_what_is_allowed(tmp_path, args, message):
    done = run(tmp_path / "data", *args, stdin="")
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_short_or_empty_password_and_a_second_user_of_a_name_are_refused(tmp_path, pw):
    data = tmp_path / "data"
    short = tmp_path / "short"
    short.write_text("tiny\n")
    empty = tmp_path / "empty"
    empty.write_text("")
    done = run(data, "add", "x", "--role", "admin", "--password-file", str(short))
    assert "at least 10 characters" in done.stderr
    done = run(data, "add", "x", "--role", "admin", "--password-file", str(empty))
    assert "is empty: put the password on its first line" in done.stderr
    assert run(data, "add", "x", "--role", "admin", "--password-file", pw).returncode == 0
    done = run(data, "add", "X", "--role", "admin", "--password-file", pw)
    assert "user 'X' exists already" in done.stderr
    mismatch = run(data, "passwd", "x", stdin="one long password\nanother long one\n")
    assert mismatch.returncode != 0 and "Traceback" not in mismatch.stderr


@settings(max_examples=60, deadline=None)
@given(name=st.text(max_size=80), password=st.text(max_size=40))
def test_any_name_and_password_is_taken_or_refused_clearly(tmp_path_factory, name, password):
    with UserBook(tmp_path_factory.mktemp("book")) as book:
        try:
            book.add(name, "admin", password)
        except AccessError as exc:
            assert str(exc)
            return
        assert book.verify(name, password).name == name
        with pytest.raises(AccessError, match="wrong name or password"):
            book.verify(name, password + "!")
