"""The on-disk form of one partition: a log of checksummed lines.

Each record is one line, written with a single ``write`` and fsynced::

    <crc32 of payload, 8 hex digits> <kind> <payload JSON>\\n

``kind`` is ``D`` (a document) or ``P`` (a patch to an earlier document of the
same partition). A line is data only when it ends in a newline *and* its
checksum matches: a write cut short by a crash has no newline and is never
parsed; a line changed by hand fails its checksum and is reported with its
byte offset.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCUMENT = "D"
PATCH = "P"
KINDS = (DOCUMENT, PATCH)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads


def encode(kind: str, payload: dict[str, Any]) -> bytes:
    """One complete line for ``payload``."""
    body = _dumps(payload).encode("utf-8")
    return b"%08x %s %s\n" % (zlib.crc32(body), kind.encode("ascii"), body)


@dataclass(frozen=True)
class Damage:
    """Bytes of a partition that are not valid records."""

    path: Path
    offset: int  # byte position where the bad bytes start
    length: int
    line: int  # 1-based line number
    reason: str
    torn_tail: bool = False  # an unterminated last line: a write cut short

    def __str__(self) -> str:
        what = "unfinished last write" if self.torn_tail else self.reason
        return f"{self.path}: byte {self.offset} (line {self.line}, {self.length} bytes): {what}"


def decode(line: bytes) -> tuple[str, dict[str, Any]]:
    """Parse one newline-stripped line; ``ValueError`` says what is wrong with it."""
    if len(line) < 12 or line[8:9] != b" " or line[10:11] != b" ":
        raise ValueError("not a record line (expected '<crc> <kind> <json>')")
    kind = line[9:10].decode("ascii", "replace")
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    body = line[11:]
    try:
        expected = int(line[:8], 16)
    except ValueError:
        raise ValueError("checksum field is not hexadecimal") from None
    if zlib.crc32(body) != expected:
        raise ValueError("checksum mismatch (the line was changed or damaged)")
    try:
        payload = _loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"checksum matches but JSON is invalid: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError("record is not a JSON object")
    return kind, payload


def scan(
    path: Path, data: bytes | None = None, only: str | None = None
) -> Iterator[tuple[str, dict[str, Any]] | Damage]:
    """Every record of a partition in order, with damage reported in place.

    An unterminated final line is reported as a torn tail (``Damage.torn_tail``):
    it may be a write still in progress by another process, so readers skip it.
    With ``only`` (a kind), other lines are skipped unparsed.
    """
    if data is None:
        data = path.read_bytes()
    offset = 0
    number = 0
    end = len(data)
    while offset < end:
        number += 1
        newline = data.find(b"\n", offset)
        if newline == -1:
            yield Damage(path, offset, end - offset, number, "unterminated line", torn_tail=True)
            return
        line = data[offset:newline]
        if only is not None and line[9:10] != only.encode():
            offset = newline + 1
            continue
        try:
            yield decode(line)
        except ValueError as exc:
            yield Damage(path, offset, newline + 1 - offset, number, str(exc))
        offset = newline + 1


def valid_prefix_end(data: bytes) -> int:
    """Length of ``data`` up to and including its last newline."""
    return data.rfind(b"\n") + 1
