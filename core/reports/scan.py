"""Read one ratings partition into a summary: answers per local day, moment, site, kiosk, language.

A report over a year reads a million lines; parsing each one with ``json.loads``
costs seconds. Yet the lines repeat themselves: apart from ``id`` and ``at``,
a busy kiosk writes the same few hundred distinct lines all year. So the fast
path here does per-line work only with C-level loops (``map``, ``Counter``,
``zlib.crc32``) and parses each *distinct* remainder once:

1. split the partition into lines; verify every checksum (as the store does);
2. take ``at`` and the remainder after it from fixed offsets — the store's own
   encoder writes ``{"id":"<32>","at":"<27>",...}``; the offsets are checked;
3. count identical (remainder, patch) pairs per local-day bin with ``Counter``;
4. parse each distinct pair once (a memo shared across partitions) and add its
   count to its cell's :class:`~.figures.Tally`.

Anything unusual — a damaged or unfinished line, a record written by another
tool in another layout, a patch that moves a record — sends the partition
through the slow path instead: :func:`~..store.table.read_partition` and a
plain loop, which raises the store's own errors. Both paths give identical
summaries (``tests/test_report_cache.py`` checks it).
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import compress, islice, pairwise
from operator import itemgetter, le
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import StoreError
from ..rating import parse_time
from ..store.table import read_partition
from .figures import Tally, slot
from .period import local_day, local_midnight, utc_text

#: (bin, cycle, moment, site, kiosk, language, suspect): one cell of a summary.
CellKey = tuple[int, str, str, str, str, str, bool]
#: (bin, local hour 0-23, cycle, site, kiosk, language, suspect): one hour of a bin,
#: all moments together (the hour-of-day x weekday heat map needs no more).
HourKey = tuple[int, int, str, str, str, str, bool]
#: What a record adds to a summary, parsed once per distinct line remainder:
#: ((cycle, moment, site, kiosk, language, suspect), tally slot, reasons).
Fields = tuple[tuple[str, str, str, str, str, bool], int, tuple[str, ...]]


@dataclass(frozen=True)
class Bin:
    """The records of one local day (or part of one, when a period edge cuts it)."""

    day: str  # local date, ISO
    first: str  # earliest stored time in the bin
    last: str  # latest stored time in the bin


@dataclass
class Summary:
    """One partition, counted: what the report needs, without the records."""

    bins: list[Bin] = field(default_factory=list)
    cells: dict[CellKey, Tally] = field(default_factory=dict)
    records: int = 0
    hours: dict[HourKey, Tally] = field(default_factory=dict)  # counts only, no reasons

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "bins": [[b.day, b.first, b.last] for b in self.bins],
            "cells": [[*key, *tally.to_json()] for key, tally in self.cells.items()],
            "hours": [[*key, tally.counts] for key, tally in self.hours.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        bins = [Bin(str(d), str(f), str(la)) for d, f, la in data["bins"]]
        cells: dict[CellKey, Tally] = {}
        for row in data["cells"]:
            b, cycle, moment, site, kiosk, language, suspect, counts, reasons = row
            if not 0 <= b < len(bins):
                raise ValueError("cell refers to a bin that does not exist")
            cells[(b, cycle, moment, site, kiosk, language, bool(suspect))] = Tally.from_json(
                [counts, reasons]
            )
        hours: dict[HourKey, Tally] = {}
        for row in data["hours"]:
            b, hour, cycle, site, kiosk, language, suspect, counts = row
            if not 0 <= b < len(bins) or not 0 <= hour < 24:
                raise ValueError("hour refers to a bin or an hour that does not exist")
            hours[(b, hour, cycle, site, kiosk, language, bool(suspect))] = Tally.from_json(
                [counts, {}]
            )
        return cls(bins, cells, int(data["records"]), hours)


class _Irregular(Exception):
    """The fast path cannot vouch for this partition; use the slow one."""


def summarise(
    path: Path,
    data: bytes,
    zone: ZoneInfo,
    cuts: Sequence[str] = (),
    memo: dict[Any, Fields] | None = None,
) -> Summary:
    """Count the ratings of one partition's bytes per local day of ``zone``.

    ``cuts`` are extra bin edges (UTC texts) — the report period's edges when
    they fall inside a day — so that no bin straddles an edge. ``memo`` keeps
    parsed line remainders between calls (they repeat across partitions).
    """
    try:
        return _fast(path, data, zone, cuts, memo if memo is not None else {})
    except _Irregular:
        return _slow(path, data, zone, cuts)


# -- edges of the bins ---------------------------------------------------------------


def _edges(first: str, last: str, zone: ZoneInfo, cuts: Iterable[str]) -> list[tuple[str, str]]:
    """Sorted (edge, local day) pairs: local midnights around [first, last] and the cuts."""
    try:
        start = local_day(parse_time(first), zone) - timedelta(days=1)
        end = local_day(parse_time(last), zone) + timedelta(days=2)
    except ValueError:
        raise _Irregular from None
    edges = {}
    day = start
    while day <= end:
        edges[utc_text(local_midnight(day, zone))] = day.isoformat()
        day += timedelta(days=1)
    low, high = min(edges), max(edges)
    for cut in cuts:
        if low < cut < high:
            edges.setdefault(cut, local_day(parse_time(cut), zone).isoformat())
    return sorted(edges.items())


# -- the fast path -------------------------------------------------------------------

_HEAD11 = itemgetter(slice(0, 11))  # "<crc32 hex> D "
_COVERED = itemgetter(slice(9, None))  # what the checksum covers: "D {...}"
_SHAPE = itemgetter(slice(11, 87))  # {"id":"<32>","at":"<27>",
_ID = itemgetter(slice(18, 50))
_AT = itemgetter(slice(58, 85))  # 2026-11-22T07:00:00.000000Z
_REST = itemgetter(slice(87, None))  # "site":...}
_PATCH_SHAPE = itemgetter(slice(11, 59))  # {"id":"<32>","set":{
_SET = itemgetter(slice(58, -1))  # {...}: the fields a patch sets
_TAIL = itemgetter(slice(-2, None))
_KINDS_AS_BLANKS = bytes.maketrans(b"DP", b"  ")
_DOC_MASK = bytes.maketrans(b"DP", b"\x01\x00")  # for itertools.compress: no call per line
_PATCH_MASK = bytes.maketrans(b"DP", b"\x00\x01")
_P = ord("P")
_BIG_ENDIAN = sys.byteorder == "big"
_HEX = b"0123456789abcdefABCDEF"
_HEAD_BYTES = b"0123456789abcdef DP"
_HEX_AS_H = bytes.maketrans(_HEX, b"h" * len(_HEX))
_DIGITS_AS_D = bytes.maketrans(b"0123456789", b"d" * 10)
_TIME = b"dddd-dd-ddTdd:dd:dd.ddddddZ"
#: The start of a document's body as the store's encoder writes it (76 bytes), with
#: every hex digit shown as ``h``; the two hex letters of the key names are checked apart.
_DOC_SHAPE = (b'{"id":"' + b"0" * 32 + b'","at":"' + _TIME + b'",').translate(_HEX_AS_H)
_DOC_LETTERS = ((3, b"d"), (42, b"a"))  # the "d" of "id", the "a" of "at"
_PATCH_SHAPE_TEXT = (b'{"id":"' + b"0" * 32 + b'","set":{').translate(_HEX_AS_H)
_PATCH_LETTERS = ((3, b"d"), (43, b"e"))  # the "d" of "id", the "e" of "set"


def _fits(joined: bytes, n: int, shape: bytes, letters: tuple[tuple[int, bytes], ...]) -> bool:
    """Whether ``n`` fixed-width slices (joined) all have ``shape``: a few passes, all in C."""
    width = len(shape)
    if len(joined) != width * n or joined.translate(_HEX_AS_H) != shape * n:
        return False
    return all(joined[at::width] == letter * n for at, letter in letters)


def _fast(
    path: Path, data: bytes, zone: ZoneInfo, cuts: Sequence[str], memo: dict[Any, Fields]
) -> Summary:
    end = data.rfind(b"\n") + 1
    if end != len(data):
        raise _Irregular  # an unterminated last line: the store's reader decides what it is
    lines = data[:end].split(b"\n")
    lines.pop()
    n = len(lines)
    if not n:
        return Summary()
    heads = b"".join(map(_HEAD11, lines))
    if len(heads) != 11 * n or heads[8::11] != b" " * n or heads[10::11] != b" " * n:
        raise _Irregular
    kinds = heads[9::11]
    if kinds.translate(None, b"DP") or heads.translate(None, _HEAD_BYTES):
        raise _Irregular  # another kind, or a checksum not in the encoder's lowercase
    if not _checksums_match(heads, lines):
        raise _Irregular  # damage: the slow path reports it as the store does
    if _P in kinds:
        docs = list(compress(lines, kinds.translate(_DOC_MASK)))
        patches = _patches(list(compress(lines, kinds.translate(_PATCH_MASK))))
    else:
        docs, patches = lines, {}
    n = len(docs)
    if not n:
        return Summary()
    shapes = list(map(_SHAPE, docs))
    if not _fits(b"".join(shapes), n, _DOC_SHAPE, _DOC_LETTERS):
        raise _Irregular
    del shapes
    rests = list(map(_REST, docs))
    ats = list(map(_AT, docs))
    if b"".join(ats).translate(_DIGITS_AS_D) != _TIME * n:
        raise _Irregular
    if patches:
        ids: list[bytes] = list(map(_ID, docs))
        hit = bytes(map(patches.__contains__, ids))
    else:
        ids, hit = [], b""
    edges = _edges(min(ats).decode(), max(ats).decode(), zone, cuts)
    marks = [edge.encode() for edge, _ in edges]
    summary = Summary(records=n)
    if not all(map(le, ats, islice(ats, 1, None))):  # out of order: put it in time order
        order = sorted(range(n), key=ats.__getitem__)
        ats = [ats[i] for i in order]
        rests = [rests[i] for i in order]
        if ids:
            ids = [ids[i] for i in order]
            hit = bytes(hit[i] for i in order)
    starts = [bisect_left(ats, mark) for mark in marks]
    for i, (lo, hi) in enumerate(pairwise(starts)):
        if lo < hi:
            bin_index = len(summary.bins)
            day = edges[i][1]
            summary.bins.append(Bin(day, ats[lo].decode(), ats[hi - 1].decode()))
            # the day counted hour by hour: each line is counted once, the day's cells
            # are the hours' counts added up (distinct remainders, not lines)
            bounds = [lo, *(bisect_left(ats, m, lo, hi) for m in _hour_marks(day, zone)), hi]
            whole: Counter[Any] = Counter()
            for hour, (a, b) in enumerate(pairwise(bounds)):
                if a < b:
                    counted = _counted(rests[a:b], ids[a:b], hit[a:b], patches)
                    _count_hours(summary, bin_index, hour, counted, memo)
                    whole.update(counted)
            _count(summary, bin_index, whole, memo)
    return summary


@lru_cache(maxsize=4096)
def _hour_marks(day: str, zone: ZoneInfo) -> tuple[bytes, ...]:
    """The stored times at which local hours 1..23 of ``day`` start (never decreasing)."""
    start = date.fromisoformat(day)
    marks: list[bytes] = []
    for hour in range(1, 24):
        mark = utc_text(datetime.combine(start, time(hour), tzinfo=zone)).encode()
        marks.append(max(mark, marks[-1]) if marks else mark)  # a skipped hour stays empty
    return tuple(marks)


def hour_of(at: str, day: str, zone: ZoneInfo) -> int:
    """The local hour (0-23) of the stored time ``at`` within its local ``day``."""
    return bisect_right(_hour_marks(day, zone), at.encode())


def _count_hours(
    summary: Summary, bin_index: int, hour: int, counted: Counter[Any], memo: dict[Any, Fields]
) -> None:
    """Add one hour's counted line remainders into the summary's hours (moments together)."""
    for key in counted.keys() - memo.keys():
        memo[key] = _parse(key)
    hours = summary.hours
    for key, times in counted.items():
        (cycle, _moment, site, kiosk, language, suspect), where, _reasons = memo[key]
        cell = (bin_index, hour, cycle, site, kiosk, language, suspect)
        tally = hours.get(cell)
        if tally is None:
            tally = hours[cell] = Tally()
        tally.counts[where] += times


def _counted(
    rests: list[bytes], ids: list[bytes], hit: bytes, patches: dict[bytes, bytes]
) -> Counter[Any]:
    """Identical line remainders counted; a patched record counts as (remainder, patch)."""
    counted: Counter[Any] = Counter(rests)
    if not patches or 1 not in hit:
        return counted
    changed = list(compress(rests, hit))
    counted.subtract(changed)
    counted.update(zip(changed, map(patches.__getitem__, compress(ids, hit)), strict=True))
    return +counted  # without the remainders every record of which was patched


def _checksums_match(heads: bytes, lines: list[bytes]) -> bool:
    """Every line's crc32 field against its kind and body, without a Python-level loop.

    ``heads`` is every line's first 11 bytes, joined: ``bytes.fromhex`` skips
    the blanks the kinds are turned into, leaving 4 bytes per line to compare
    with the computed crc32 values packed big-endian.
    """
    try:
        expected = bytes.fromhex(heads.translate(_KINDS_AS_BLANKS).decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return False
    actual = array("I", map(zlib.crc32, map(_COVERED, lines)))
    if actual.itemsize != 4:  # pragma: no cover - no such platform in use
        return False
    if not _BIG_ENDIAN:
        actual.byteswap()
    return actual.tobytes() == expected


def _patches(lines: list[bytes]) -> dict[bytes, bytes]:
    """Patch lines as {id: the fields they set (JSON)}; later patches win, as in the store."""
    n = len(lines)
    if not _fits(
        b"".join(map(_PATCH_SHAPE, lines)), n, _PATCH_SHAPE_TEXT, _PATCH_LETTERS
    ) or not _same(map(_TAIL, lines), b"}}", n):
        raise _Irregular
    ids = list(map(_ID, lines))
    sets = list(map(_SET, lines))
    patches = dict(zip(ids, sets, strict=True))
    if len(patches) != len(ids):  # one record patched twice: merge in file order
        merged: dict[bytes, dict[str, Any]] = {}
        for key, text in zip(ids, sets, strict=True):
            merged.setdefault(key, {}).update(_object(text))
        patches = {key: json.dumps(value).encode() for key, value in merged.items()}
    return patches


def _same(values: Iterable[bytes], expected: bytes, n: int) -> bool:
    """Whether every one of ``n`` byte strings equals ``expected`` (one C-level join)."""
    return b"".join(values) == expected * n


def _object(text: bytes) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise _Irregular from None
    if not isinstance(value, dict):
        raise _Irregular
    return value


def _count(
    summary: Summary, bin_index: int, counted: Counter[Any], memo: dict[Any, Fields]
) -> None:
    """Add one bin's counted line remainders into the summary's cells."""
    for key in counted.keys() - memo.keys():
        memo[key] = _parse(key)
    found: dict[tuple[Any, ...], Tally] = {}
    for key, times in counted.items():
        cell, where, reasons = memo[key]
        tally = found.get(cell)
        if tally is None:
            tally = found[cell] = Tally()
        tally.counts[where] += times
        if reasons:
            mine = tally.reasons
            for reason in reasons:
                mine[reason] = mine.get(reason, 0) + times
    cells = summary.cells
    for cell, tally in found.items():
        cells[(bin_index, *cell)] = tally  # type: ignore[index]


def _parse(key: bytes | tuple[bytes, bytes | None]) -> Fields:
    rest, change = (key, None) if isinstance(key, bytes) else key
    record = _object(b"{" + rest)
    if "id" in record or "at" in record:
        raise _Irregular  # a second id or time later in the line: let json decide
    if change is not None:
        update = _object(change)
        if "id" in update or "at" in update:
            raise _Irregular  # a patch that moves a record to another time
        record.update(update)
    try:
        return fields_of(record)
    except (KeyError, TypeError, ValueError):
        raise _Irregular from None


def fields_of(record: dict[str, Any]) -> Fields:
    """A record's cell, slot and reasons, converted exactly as :meth:`Rating.from_record` does."""
    flags = tuple(record.get("flags", ()))
    fields = (
        (
            record["cycle"],
            record["moment"],
            record["site"],
            record["kiosk"],
            record["language"],
            "suspect" in flags,
        ),
        slot(int(record["scale"]), int(record["score"])),
        tuple(record.get("reasons", ())),
    )
    hash(fields)  # a list where a name belongs: TypeError, like any malformed record
    return fields


# -- the slow path -------------------------------------------------------------------


def _slow(path: Path, data: bytes, zone: ZoneInfo, cuts: Sequence[str]) -> Summary:
    """Record by record through the store's reader: the reference, and the fallback."""
    rows: list[tuple[str, Fields]] = []
    for record in read_partition(path, data):  # raises StoreCorruption on damage
        try:
            at = record["at"]
            parse_time(at)
            record["id"]
            rows.append((at, fields_of(record)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(
                f"ratings: record {record.get('id')!r} in {path} is malformed: {exc}"
            ) from exc
    summary = Summary(records=len(rows))
    if not rows:
        return summary
    edges = _edges(min(at for at, _ in rows), max(at for at, _ in rows), zone, cuts)
    marks = [edge for edge, _ in edges]
    by_bin: dict[int, list[tuple[str, Fields]]] = {}
    for at, fields in rows:
        by_bin.setdefault(bisect_right(marks, at), []).append((at, fields))
    for i in sorted(by_bin):
        members = by_bin[i]
        bin_index = len(summary.bins)
        summary.bins.append(
            Bin(edges[i - 1][1], min(at for at, _ in members), max(at for at, _ in members))
        )
        counted: Counter[Any] = Counter(fields for _, fields in members)
        _count(summary, bin_index, counted, {f: f for f in counted})
        day = edges[i - 1][1]
        by_hour: dict[int, Counter[Any]] = {}
        for at, fields in members:
            by_hour.setdefault(hour_of(at, day, zone), Counter())[fields] += 1
        for hour in sorted(by_hour):
            hourly = by_hour[hour]
            _count_hours(summary, bin_index, hour, hourly, {f: f for f in hourly})
    return summary
