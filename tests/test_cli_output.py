"""`-o FILE` and the other writers: a file is replaced whole, anything else is written
through or refused, and what the system refuses is one line naming the path.

Devices are tested with a character device of the test's own (``mknod``, the
same device as /dev/null) so that a regression could never replace the system's.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import stat
import threading
from pathlib import Path

import click
import pytest

from servicecycle.cli.output import write_output

from .conftest import run_cli


def text(value: str):
    return lambda handle: handle.write(value)


def test_a_regular_file_is_replaced_whole_and_keeps_its_permissions(tmp_path):
    target = tmp_path / "card.txt"
    target.write_text("old")
    target.chmod(0o640)
    inode = target.stat().st_ino
    write_output(target, text("new"))
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # a new file renamed over the old one
    assert [p.name for p in tmp_path.iterdir()] == ["card.txt"]  # no temporary file left


def test_a_new_file_gets_the_umask_s_permissions_and_its_folders(tmp_path):
    mask = os.umask(0o022)
    try:
        target = tmp_path / "new" / "folder" / "card.txt"
        write_output(target, text("x"))
    finally:
        os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.read_text() == "x"


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "ratings.csv"
    target.write_text("kept")

    def fail(handle):
        handle.write("half")
        raise RuntimeError("the store broke mid-export")

    with pytest.raises(RuntimeError):
        write_output(target, fail)
    assert target.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["ratings.csv"]


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    real = tmp_path / "reports" / "card.html"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.html"
    link.symlink_to(real)
    write_output(link, text("new"))
    assert link.is_symlink() and real.read_text() == "new"
    dangling = tmp_path / "next.html"
    dangling.symlink_to(tmp_path / "reports" / "next-real.html")
    write_output(dangling, text("made"))
    assert dangling.is_symlink() and (tmp_path / "reports" / "next-real.html").read_text() == "made"


def test_a_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_output(fifo, text("through the pipe"))
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.fixture
def null_device(tmp_path) -> Path:
    """A character device of the test's own, the same device as /dev/null."""
    path = tmp_path / "null"
    null = os.stat("/dev/null")
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, null.st_rdev)
    except PermissionError:
        pytest.skip("making a device needs CAP_MKNOD")
    return path


def test_a_character_device_is_written_through_not_replaced(null_device, tmp_path):
    before = os.stat(null_device)
    write_output(null_device, text("gone"))
    link = tmp_path / "null-link"
    link.symlink_to(null_device)
    write_output(link, text("gone too"))
    after = os.stat(null_device)
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert link.is_symlink()


def test_the_export_command_writes_through_a_device(null_device, tmp_path):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    assert run_cli("record", "--score", "3", env=env).returncode == 0
    done = run_cli("export", "-o", str(null_device), env=env)
    assert done.returncode == 0, done.stderr
    assert "exported 1 ratings" in done.stderr
    assert stat.S_ISCHR(os.stat(null_device).st_mode)


@pytest.mark.parametrize("kind", ["folder", "socket"])
def test_what_cannot_be_written_is_refused_by_name(tmp_path, kind):
    path = tmp_path / "target"
    if kind == "folder":
        path.mkdir()
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    with pytest.raises(click.ClickException) as refused:
        write_output(path, text("x"))
    assert refused.value.message == f"cannot write {path}: it is a {kind}"


def test_no_permission_or_a_file_in_the_way_is_one_line(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    with pytest.raises(click.ClickException) as refused:
        write_output(blocker / "out" / "card.html", text("x"))
    assert refused.value.message.startswith(f"cannot write {blocker / 'out' / 'card.html'}: ")
    assert blocker.read_text() == "a file, not a folder"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(click.ClickException) as refused:
            write_output(locked / "card.html", text("x"))
        assert refused.value.message == f"cannot write {locked / 'card.html'}: Permission denied"


@pytest.mark.parametrize(
    "command",
    [
        ["export", "-o"],
        ["report", "--format", "csv", "-o"],
        ["plugin", "new", "restaurant", "--dir"],
        ["store", "backup"],
    ],
)
def test_every_writer_says_what_it_cannot_write_without_a_traceback(tmp_path, command):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    assert run_cli("record", "--score", "3", env=env).returncode == 0
    blocker = tmp_path / "file.txt"
    blocker.write_text("in the way")
    done = run_cli(*command, str(blocker / "sub" / "out"), env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("Error: ") and str(blocker) in line
    assert blocker.read_text() == "in the way"


def test_export_through_a_fifo_and_a_symlink_with_the_real_command(tmp_path):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    for score in ("2", "4"):
        assert run_cli("record", "--score", score, env=env).returncode == 0
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    done = run_cli("export", "-o", str(fifo), env=env)
    reader.join(timeout=30)
    assert done.returncode == 0, done.stderr
    assert [r["score"] for r in csv.DictReader(io.StringIO(received[0]))] == ["2", "4"]
    real = tmp_path / "ratings.csv"
    real.write_text("old")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    assert run_cli("export", "-o", str(link), env=env).returncode == 0
    assert link.is_symlink() and real.read_text().startswith("id,")
