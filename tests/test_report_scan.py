"""The fast partition scan gives exactly what the record-by-record reader gives, or falls back."""

from __future__ import annotations

import json
import random
import zlib
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.core import StoreCorruption, StoreError
from servicecycle.core.reports import scan
from servicecycle.core.store import segment

from .test_report_support import ISTANBUL, rating, utc

DAY = utc(2026, 11, 22)


def _slow(path, data, cuts=()):
    return scan._slow(path, data, ISTANBUL, cuts)


def _same(a: scan.Summary, b: scan.Summary) -> None:
    assert a.records == b.records
    assert a.bins == b.bins
    assert a.cells == b.cells


@pytest.fixture
def used_fast(monkeypatch):
    """Counts how often the scan fell back to the slow path."""
    calls = {"slow": 0}
    real = scan._slow

    def counting(*args):
        calls["slow"] += 1
        return real(*args)

    monkeypatch.setattr(scan, "_slow", counting)
    return calls


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    size=st.integers(0, 60),
    shuffle=st.booleans(),
    torn=st.booleans(),
    cuts=st.lists(st.integers(0, 86_399), max_size=2),
)
def test_fast_scan_equals_the_reference(
    catalogue, tmp_path_factory, seed, size, shuffle, torn, cuts
):
    rng = random.Random(seed)
    lines = []
    for _ in range(size):
        at = DAY + timedelta(seconds=rng.randint(0, 86_399))
        scale = rng.choice((4, 5))
        r = rating(
            catalogue,
            at,
            rng.randint(1, scale),
            scale=scale,
            moment=rng.choice(("check-out-wait", "bill-accuracy")),
            language=rng.choice(("en", "tr")),
            suspect=rng.random() < 0.2,
        )
        lines.append(segment.encode(segment.DOCUMENT, r.to_record()))
        if rng.random() < 0.3:  # reasons added later, sometimes twice
            for _ in range(rng.choice((1, 1, 2))):
                reasons = rng.sample(
                    ["lost-time", "wrong-pace", "quick-service"], rng.randint(0, 2)
                )
                lines.append(
                    segment.encode(segment.PATCH, {"id": r.id, "set": {"reasons": reasons}})
                )
    if shuffle:
        rng.shuffle(lines)  # out of time order, patches before their documents
    data = b"".join(lines) + (b'0000abcd D {"id":"half' if torn else b"")
    path = tmp_path_factory.mktemp("p") / "2026-11-22.log"
    cut_texts = [(DAY + timedelta(seconds=c)).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for c in cuts]
    fast = scan.summarise(path, data, ISTANBUL, cut_texts)
    _same(fast, _slow(path, data, cut_texts))
    assert fast.records == size
    # Istanbul's midnight (21:00 UTC) splits the UTC day into two local days
    assert {b.day for b in fast.bins} <= {"2026-11-22", "2026-11-23"}


def test_canonical_partitions_take_the_fast_path(catalogue, tmp_path, used_fast):
    records = [
        rating(catalogue, DAY + timedelta(minutes=m), 1 + m % 5).to_record() for m in range(50)
    ]
    data = b"".join(segment.encode(segment.DOCUMENT, r) for r in records)
    data += segment.encode(
        segment.PATCH, {"id": records[3]["id"], "set": {"reasons": ["lost-time"]}}
    )
    summary = scan.summarise(tmp_path / "x.log", data, ISTANBUL)
    assert used_fast["slow"] == 0
    assert summary.records == 50
    assert sum(t.reasons.get("lost-time", 0) for t in summary.cells.values()) == 1


def _line(payload: dict, *, compact: bool = True) -> bytes:
    if compact:
        return segment.encode(segment.DOCUMENT, payload)
    body = json.dumps(payload).encode()  # spaces after separators: another writer
    return b"%08x D %s\n" % (zlib.crc32(b"D " + body), body)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: {**r, "id": "short-id"},  # an id of another length
        lambda r: {"at": r["at"], **{k: v for k, v in r.items() if k != "at"}},  # other order
        lambda r: {**r, "at": "2026-11-22T10:00:00Z"},  # a time without microseconds
        lambda r: dict(r, extra={"at": "x"}),  # a nested "at" later in the line
    ],
)
def test_other_layouts_fall_back_and_agree(catalogue, tmp_path, used_fast, change):
    good = rating(catalogue, DAY + timedelta(hours=10), 4).to_record()
    odd = change(rating(catalogue, DAY + timedelta(hours=11), 2).to_record())
    data = _line(good) + _line(odd)
    summary = scan.summarise(tmp_path / "x.log", data, ISTANBUL)
    assert summary.records == 2
    _same(summary, _slow(tmp_path / "x.log", data))
    assert used_fast["slow"] >= 1
    spaced = _line(good, compact=False)
    _same(scan.summarise(tmp_path / "y.log", spaced, ISTANBUL), _slow(tmp_path / "y.log", spaced))


def test_damage_raises_like_the_store(catalogue, tmp_path):
    line = _line(rating(catalogue, DAY, 4).to_record())
    flipped = line.replace(b'"score":4', b'"score":5')  # checksum no longer matches
    with pytest.raises(StoreCorruption, match="checksum mismatch"):
        scan.summarise(tmp_path / "x.log", line + flipped, ISTANBUL)
    broken = rating(catalogue, DAY, 4).to_record()
    broken["score"] = 9
    with pytest.raises(StoreError, match="malformed"):
        scan.summarise(tmp_path / "x.log", _line(broken), ISTANBUL)
    assert scan.summarise(tmp_path / "x.log", b"", ISTANBUL).records == 0


def _resealed(line: bytes, old: bytes, new: bytes) -> bytes:
    """``line`` with ``old`` replaced by ``new`` (same width) and a valid checksum again."""
    body = line[11:-1].replace(old, new, 1)
    assert len(body) == len(line) - 12
    return b"%08x %s %s\n" % (zlib.crc32(line[9:11] + body), line[9:10], body)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'{"id":', b'{"iD":'),  # a hex letter where the key's letter belongs
        (b'"at":"', b'"ab":"'),
        (b'"at":"', b'"Ft":"'),
        (b'"at":"2026', b'"at":"2a26'),  # a hex letter inside the time
        (b'"at":"2026-', b'"at":"2026/'),
    ],
)
def test_same_width_lines_with_another_meaning_leave_the_fast_path(
    catalogue, tmp_path, used_fast, old, new
):
    good = _line(rating(catalogue, DAY + timedelta(hours=9), 4).to_record())
    odd = _resealed(_line(rating(catalogue, DAY + timedelta(hours=10), 2).to_record()), old, new)
    data = good + odd
    try:
        expected = _slow(tmp_path / "x.log", data)
    except StoreError as exc:
        with pytest.raises(type(exc)):
            scan.summarise(tmp_path / "x.log", data, ISTANBUL)
    else:
        _same(scan.summarise(tmp_path / "x.log", data, ISTANBUL), expected)
    assert used_fast["slow"] >= 1


def test_a_patch_with_another_shape_leaves_the_fast_path(catalogue, tmp_path, used_fast):
    """A patch line without its "set" is no patch at all: the store's reader calls it damage."""
    record = rating(catalogue, DAY + timedelta(hours=9), 4).to_record()
    patch = segment.encode(segment.PATCH, {"id": record["id"], "set": {"reasons": ["lost-time"]}})
    odd = _resealed(patch, b'"set":', b'"sEt":')
    data = _line(record) + odd
    with pytest.raises(StoreCorruption, match=r"line 2.*patch must have an object 'set'"):
        scan.summarise(tmp_path / "x.log", data, ISTANBUL)
    assert used_fast["slow"] >= 1
