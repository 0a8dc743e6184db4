"""The on-disk form of one partition: a log of checksummed lines.

Each record is one line, written with a single ``write`` and fsynced::

    <crc32, 8 lowercase hex digits> <kind> <payload JSON>\\n

The checksum covers everything after its own field and blank: the kind, the
blank after it and the payload (schema 3). ``kind`` is ``D`` (a document) or
``P`` (a patch to an earlier document of the same partition); each kind's
payload must have its own shape too, so a changed letter can never turn one
into the other. A line is data only when its checksum matches: a line changed
by hand, or by a bad disk, is reported with its byte offset and line number.

An unterminated last line is a write a crash cut short (or one still in
flight, which readers never wait for). If it is a complete, verified record
whose newline alone is missing, it is a record all the same: readers yield it
and ``store repair`` (or the next append) only adds the newline.

Schema 2 checksummed the payload alone. Its files are read with that rule
(``legacy=True``) only until the store is migrated, which every writable open
does once (see ``migrate.migrate_v2``).
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
    covered = b"%s %s" % (kind.encode("ascii"), _dumps(payload).encode("utf-8"))
    return b"%08x %s\n" % (zlib.crc32(covered), covered)


@dataclass(frozen=True)
class Damage:
    """Bytes of a partition that are not valid records."""

    path: Path
    offset: int  # byte position where the bad bytes start
    length: int
    line: int  # 1-based line number
    reason: str
    torn_tail: bool = False  # an unterminated last line: a write cut short
    #: The unterminated last line is a complete, verified record: only "\n" is missing.
    complete: bool = False

    def __str__(self) -> str:
        if self.complete:
            what = "last record lacks its newline (the record is kept)"
        elif self.torn_tail:
            what = "unfinished last write"
        else:
            what = self.reason
        return f"{self.path}: byte {self.offset} (line {self.line}, {self.length} bytes): {what}"


def decode(line: bytes, legacy: bool = False) -> tuple[str, dict[str, Any]]:
    """Parse one newline-stripped line; ``ValueError`` says what is wrong with it.

    ``legacy`` accepts schema-2 checksums (the payload only) instead.
    """
    if len(line) < 12 or line[8:9] != b" " or line[10:11] != b" ":
        raise ValueError("not a record line (expected '<crc> <kind> <json>')")
    stated = line[:8]
    if stated.strip(b"0123456789abcdef"):
        raise ValueError("checksum field is not 8 lowercase hexadecimal digits")
    covered = line[11:] if legacy else line[9:]
    if b"%08x" % zlib.crc32(covered) != stated:
        raise ValueError("checksum mismatch (the line was changed or damaged)")
    kind = line[9:10].decode("ascii", "replace")
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    try:
        payload = _loads(line[11:].decode("utf-8"))  # text: no encoding to guess
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"checksum matches but JSON is invalid: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError("record is not a JSON object")
    _check_shape(kind, payload)
    return kind, payload


def _check_shape(kind: str, payload: dict[str, Any]) -> None:
    """A document has its own id and time; a patch names a document and what it sets."""
    if not isinstance(payload.get("id"), str):
        raise ValueError("record has no string 'id'")
    if kind == DOCUMENT:
        if not isinstance(payload.get("at"), str):
            raise ValueError("document has no string 'at' (a patch marked as a document?)")
    elif not isinstance(payload.get("set"), dict) or "at" in payload:
        raise ValueError(
            "patch must have an object 'set' and no 'at' (a document marked as a patch?)"
        )


def scan(
    path: Path, data: bytes | None = None, only: str | None = None, legacy: bool = False
) -> Iterator[tuple[str, dict[str, Any]] | Damage]:
    """Every record of a partition in order, with damage reported in place.

    An unterminated final line is reported as a torn tail (``Damage.torn_tail``):
    it may be a write still in progress by another process, so readers skip it.
    When it is a complete record missing only its newline, the record is
    yielded first and the damage says ``complete``. With ``only`` (a kind),
    other lines are skipped unparsed.
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
            item = _tail(data[offset:], legacy)
            if item is not None and (only is None or item[0] == only):
                yield item
            yield Damage(
                path,
                offset,
                end - offset,
                number,
                "unterminated line",
                torn_tail=True,
                complete=item is not None,
            )
            return
        line = data[offset:newline]
        if only is not None and line[9:10] != only.encode():
            offset = newline + 1
            continue
        try:
            yield decode(line, legacy)
        except ValueError as exc:
            yield Damage(path, offset, newline + 1 - offset, number, str(exc))
        offset = newline + 1


def _tail(fragment: bytes, legacy: bool) -> tuple[str, dict[str, Any]] | None:
    """The record an unterminated last line holds, if it is whole and verified."""
    try:
        return decode(fragment, legacy)
    except ValueError:
        return None


def is_complete_line(fragment: bytes) -> bool:
    """Whether an unterminated fragment is a whole, verified record (only ``\\n`` missing)."""
    return _tail(fragment, legacy=False) is not None
