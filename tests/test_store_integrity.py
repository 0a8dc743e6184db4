"""The store never loses or moves a record silently.

Every byte of a stored line is covered: a changed byte is reported by
`store check` with file, byte and line; `check` changes nothing; a record
missing only its newline stays a record; schema-2 folders are migrated.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.core import Store, StoreError
from servicecycle.core.rules.follow import RatingFollower
from servicecycle.core.store import SCHEMA, maintenance, segment
from servicecycle.core.store.folder import FolderStore

from .conftest import run_cli
from .test_store import T0, partition_files, rating


def _filled(folder: Path) -> tuple[Path, bytes]:
    """Two documents and a patch in one partition; returns (file, bytes)."""
    with Store(folder) as store:
        first = rating(T0, score=2)
        store.ratings.add(first)
        store.ratings.set_reasons(first, ("lost-time",))
        store.ratings.add(rating(T0 + timedelta(minutes=5), score=4))
    [path] = partition_files(folder)
    return path, path.read_bytes()


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, bytes]:
    return _filled(tmp_path_factory.mktemp("stored"))


def _reported(path: Path, data: bytes, position: int) -> bool:
    """Whether a check of ``data`` reports damage covering byte ``position``."""
    path.write_bytes(data)
    report = maintenance.inspect(path)
    return any(d.offset <= position < d.offset + d.length for d in report.damage)


# -- every byte is covered -------------------------------------------------------------


def test_a_clean_partition_has_documents_and_patches(stored):
    path, data = stored
    report = maintenance.inspect(path)
    assert report.ok and (report.records, report.patches) == (2, 1)
    assert [line[9:10] for line in data.split(b"\n")[:-1]] == [b"D", b"P", b"D"]


@pytest.mark.parametrize("bit", [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80])
def test_flipping_any_bit_of_any_byte_is_reported(tmp_path, stored, bit):
    """Each of the ~700 bytes of the three lines (kind letters, blanks, newlines too)."""
    _, data = stored
    path = tmp_path / "2026-11-01.log"
    missed = [
        position
        for position in range(len(data))
        if not _reported(
            path, data[:position] + bytes([data[position] ^ bit]) + data[position + 1 :], position
        )
    ]
    assert missed == []


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_changed_byte_is_reported(tmp_path, stored, data):
    _, original = stored
    position = data.draw(st.integers(0, len(original) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]), label="byte")
    changed = original[:position] + bytes([value]) + original[position + 1 :]
    assert _reported(tmp_path / "2026-11-01.log", changed, position)


@pytest.mark.parametrize(("line", "letter"), [(0, b"P"), (1, b"D"), (2, b"X"), (0, b"d")])
def test_a_changed_kind_letter_never_makes_a_record_vanish(tmp_path, line, letter):
    """The case that used to pass check and repair as clean: the kind letter edited by hand."""
    path, data = _filled(tmp_path / "data")
    lines = data.split(b"\n")
    offset = sum(len(x) + 1 for x in lines[:line])
    lines[line] = lines[line][:9] + letter + lines[line][10:]
    path.write_bytes(b"\n".join(lines))
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    checked = run_cli("store", "check", env=env)
    assert checked.returncode == 1
    assert f"{path}: byte {offset}, line {line + 1}" in checked.stdout
    assert "checksum mismatch" in checked.stdout
    repaired = run_cli("store", "repair", env=env)
    assert repaired.returncode == 0 and "Nothing to repair" not in repaired.stdout
    [saved] = (tmp_path / "data" / "quarantine").glob("*.bad")
    assert saved.read_bytes() == lines[line] + b"\n"  # set aside, not lost


def test_an_uppercase_checksum_is_not_the_checksum(tmp_path, stored):
    """Hex digits a-f are written lowercase; 'A' for 'a' is one flipped bit."""
    _, data = stored
    position = next(i for i, c in enumerate(data[:8]) if chr(c) in "abcdef")
    changed = data[:position] + data[position : position + 1].upper() + data[position + 1 :]
    assert _reported(tmp_path / "x.log", changed, position)


def test_lines_have_their_kinds_shape():
    """A checksum that matches is not enough: a patch must look like a patch."""
    good = segment.encode(segment.DOCUMENT, {"id": "a", "at": "2026-11-01T08:00:00Z"})
    assert segment.decode(good[:-1])[0] == "D"
    for kind, payload, message in [
        ("D", {"id": "a", "set": {}}, "document has no string 'at'"),
        ("P", {"id": "a", "at": "2026-11-01T08:00:00Z"}, "patch must have"),
        ("P", {"id": "a", "set": []}, "patch must have"),
        ("D", {"at": "2026-11-01T08:00:00Z"}, "no string 'id'"),
    ]:
        with pytest.raises(ValueError, match=message):
            segment.decode(segment.encode(kind, payload)[:-1])


# -- check changes nothing ------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("cut", ["torn", "newline"])
def test_check_changes_nothing_and_reports_the_unterminated_line(tmp_path, cut):
    folder = tmp_path / "data"
    path, data = _filled(folder)
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last + 30] if cut == "torn" else data[:-1])
    before = _snapshot(folder)
    checked = run_cli("store", "check", env={"SERVICECYCLE_DATA_DIR": str(folder)})
    assert _snapshot(folder) == before
    assert not (folder / "quarantine").exists()
    assert checked.returncode == 1
    assert f"byte {last}, line 3" in checked.stdout
    if cut == "torn":
        assert "unfinished last write" in checked.stdout
        assert "1 file, 1 record," in checked.stdout
    else:
        assert "lacks its newline" in checked.stdout and "kept" in checked.stdout
        assert "1 file, 2 records," in checked.stdout


def test_a_record_missing_only_its_newline_is_a_record(tmp_path):
    folder = tmp_path / "data"
    path, data = _filled(folder)
    path.write_bytes(data[:-1])
    with Store(folder) as store:
        assert [r.score for r in store.ratings.query()] == [2, 4]  # readers keep it
        result = maintenance.repair(store)
    assert (result.files, result.set_aside, result.damaged_bytes) == (1, [], 0)
    assert path.read_bytes() == data
    assert not (folder / "quarantine").exists()
    with Store(folder) as store:
        assert all(r.ok for r in maintenance.check(store))


def test_an_append_after_a_record_missing_its_newline_keeps_both(tmp_path):
    folder = tmp_path / "data"
    path, data = _filled(folder)
    path.write_bytes(data[:-1])
    with Store(folder) as store:  # not the owner: opening changes nothing
        assert path.read_bytes() == data[:-1]
        store.ratings.add(rating(T0 + timedelta(minutes=9), score=5))
        assert [r.score for r in store.ratings.query()] == [2, 4, 5]
    assert not (folder / "quarantine").exists()


def test_a_reader_or_writer_open_does_not_set_bytes_aside(tmp_path):
    folder = tmp_path / "data"
    path, data = _filled(folder)
    path.write_bytes(data + data[:40])
    with Store(folder) as store:
        assert len(list(store.ratings.query())) == 2
    assert path.read_bytes() == data + data[:40]
    with Store(folder, owner="kiosk lobby") as store:  # the owner's open recovers
        assert len(list(store.ratings.query())) == 2
    assert path.read_bytes() == data
    [saved] = (folder / "quarantine").glob("*.bad")
    assert saved.read_bytes() == data[:40]


def test_compaction_sets_a_torn_tail_aside_instead_of_dropping_it(tmp_path):
    folder = tmp_path / "data"
    with Store(folder) as store:
        store.ratings.add(rating(T0 - timedelta(days=40), score=1))  # a closed month
    [path] = partition_files(folder)
    data = path.read_bytes()
    path.write_bytes(data + b'0000abcd D {"id":')
    with Store(folder) as store:
        maintenance.compact(store)
        assert [r.score for r in store.ratings.query()] == [1]
    [saved] = (folder / "quarantine").glob("*.bad")
    assert saved.read_bytes() == b'0000abcd D {"id":'


# -- schema 2 ------------------------------------------------------------------------


def _as_schema_2(folder: Path) -> None:
    """Rewrite a folder as schema 2 wrote it: checksums of the payload alone."""
    for path in (folder / "tables").rglob("*.log"):
        lines = path.read_bytes().split(b"\n")
        tail = lines.pop()
        old = [b"%08x %s" % (zlib.crc32(line[11:]), line[9:]) for line in lines]
        path.write_bytes(b"".join(line + b"\n" for line in old) + tail)
    meta = folder / "store.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "schema": 2}))


def test_a_schema_2_folder_is_checked_read_only_then_migrated(tmp_path, caplog):
    folder = tmp_path / "data"
    path, data = _filled(folder)
    with Store(folder) as store:
        store.ratings.add(rating(T0 + timedelta(days=3), score=1))
        before = [r.to_record() for r in store.ratings.query()]
    _as_schema_2(folder)
    legacy = _snapshot(folder)
    env = {"SERVICECYCLE_DATA_DIR": str(folder)}
    checked = run_cli("store", "check", env=env)
    assert checked.returncode == 0, checked.stdout
    assert "2 files, 3 records, 0 damaged" in checked.stdout
    assert _snapshot(folder) == legacy  # check migrates nothing either

    with caplog.at_level(logging.WARNING), Store(folder) as store:
        assert store.meta["schema"] == SCHEMA == 3
        assert [r.to_record() for r in store.ratings.query()] == before
        assert all(r.ok for r in maintenance.check(store))
    assert "migrated to store schema 3" in caplog.text
    assert path.read_bytes() == data  # exactly what schema 3 writes


def test_an_interrupted_schema_2_migration_finishes(tmp_path):
    folder = tmp_path / "data"
    with Store(folder) as store:
        for day in range(3):
            store.ratings.add(rating(T0 + timedelta(days=day), score=day + 1))
    current = {p: p.read_bytes() for p in partition_files(folder)}
    _as_schema_2(folder)
    first = partition_files(folder)[0]
    first.write_bytes(current[first])  # this file was migrated before the stop
    with Store(folder) as store:
        assert [r.score for r in store.ratings.query()] == [1, 2, 3]
    assert {p: p.read_bytes() for p in partition_files(folder)} == current


def test_a_damaged_schema_2_line_stays_reported_after_migration(tmp_path):
    folder = tmp_path / "data"
    path, _ = _filled(folder)
    _as_schema_2(folder)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"score":4', b'"score":5')  # changed under schema 2
    path.write_bytes(b"\n".join(lines))
    with Store(folder) as store:
        [report] = maintenance.check(store)
    assert [d.line for d in report.damage] == [3]


# -- one damaged line never stops the rules ----------------------------------------------


def test_the_rules_follower_passes_over_a_damaged_line_and_says_so_once(tmp_path, caplog):
    folder = tmp_path / "data"
    with Store(folder) as store:
        for minute in range(3):
            store.ratings.add(rating(T0 + timedelta(minutes=minute), score=minute + 1))
        [path] = partition_files(folder)
        lines = path.read_bytes().split(b"\n")
        lines[1] = lines[1].replace(b'"score":2', b'"score":5')
        path.write_bytes(b"\n".join(lines))
        follower = RatingFollower(FolderStore(store).changes, T0 - timedelta(hours=1))
        with caplog.at_level(logging.ERROR):
            assert [r.score for _, r in follower.poll()] == [1, 3]
            store.ratings.add(rating(T0 + timedelta(minutes=9), score=4))
            assert [r.score for _, r in follower.poll()] == [4]
            assert [r.score for _, r in follower.poll()] == []
    assert caplog.text.count("checksum mismatch") == 1


def test_a_read_only_store_refuses_writes(tmp_path):
    folder = tmp_path / "data"
    _filled(folder)
    with Store(folder, read_only=True) as store, pytest.raises(StoreError, match="read-only"):
        store.ratings.add(rating(T0, score=1))
    assert not os.path.exists(folder / "quarantine")
