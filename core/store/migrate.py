"""Bringing older data folders up to the current layout.

Schema 1 (servicecycle 0.1) kept every rating in one TinyDB JSON file,
``ratings.json``. Migration copies its records into partitions, then keeps
the old file under ``migrated/`` as a backup. It runs under the write lock and
is safe to interrupt: partitions are built in a staging folder that becomes
``tables/`` with a single rename.

Schema 2 checksummed each line's payload but not its kind letter. Migration
rewrites each line's checksum to cover the kind as well, file by file with an
atomic rename; payload bytes are kept as they are, and a line that does not
verify is kept as it is (``store check`` goes on reporting it). A file
interrupted half way is safe: lines already converted verify as schema 3.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import StoreError
from . import segment
from .partitions import partition_key
from .table import fsync_dir

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)


def migrate_v1(store: Store) -> int:
    """Move schema-1 ``ratings.json`` into partitions; return how many records moved."""
    from .store import V1_FILE

    source = store.data_dir / V1_FILE
    staging = store.data_dir / ".tables.migrating"
    if store.tables_dir.exists():
        # An earlier migration renamed staging into place and stopped before
        # writing store.json: the partitions are complete.
        log.warning("%s: finishing an interrupted migration", store.data_dir)
        _retire(store, source)
        return 0
    try:
        data = json.loads(source.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"{source}: cannot migrate this schema-1 store: {exc}. Nothing was changed."
        ) from exc
    if staging.exists():
        shutil.rmtree(staging)
    count = 0
    for table_name, records in (data or {}).items():
        if not isinstance(records, dict):
            raise StoreError(f"{source}: table {table_name!r} is not a JSON object")
        lines: dict[str, list[bytes]] = {}
        for doc_id in sorted(records, key=lambda k: int(k) if str(k).isdigit() else 0):
            record = records[doc_id]
            try:
                day = partition_key(record["at"])
            except (KeyError, TypeError, ValueError) as exc:
                raise StoreError(
                    f"{source}: record {doc_id} of table {table_name!r} has no usable 'at': {exc}"
                ) from None
            lines.setdefault(day, []).append(segment.encode(segment.DOCUMENT, record))
            count += 1
        folder = staging / table_name
        folder.mkdir(parents=True)
        for day, chunk in lines.items():
            with open(folder / f"{day}.log", "wb") as handle:
                handle.write(b"".join(chunk))
                handle.flush()
                os.fsync(handle.fileno())
        fsync_dir(folder)
    staging.mkdir(exist_ok=True)
    fsync_dir(staging)
    staging.rename(store.tables_dir)
    fsync_dir(store.data_dir)
    _retire(store, source)
    log.warning("%s: migrated %d records from schema 1 (%s)", store.data_dir, count, V1_FILE)
    return count


def _retire(store: Store, source: Path) -> None:
    if source.exists():
        backup = store.data_dir / "migrated"
        backup.mkdir(exist_ok=True)
        source.rename(backup / f"{source.name}.schema1")
        fsync_dir(backup)
        fsync_dir(store.data_dir)


def migrate_v2(store: Store) -> int:
    """Re-checksum every line of every partition to cover its kind; return lines changed."""
    from .store import write_atomic

    if not store.tables_dir.is_dir():
        return 0
    changed = files = 0
    for folder in sorted(p for p in store.tables_dir.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.log")):
            data = path.read_bytes()
            converted, count = _reseal(data)
            if count:
                write_atomic(path, converted)
                changed += count
                files += 1
    if changed:
        log.warning(
            "%s: migrated to store schema 3 (%d lines in %d files now checksum their kind)",
            store.data_dir,
            changed,
            files,
        )
    return changed


def _reseal(data: bytes) -> tuple[bytes, int]:
    """``data`` with every schema-2 line's checksum made schema 3, and how many changed."""
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends in a newline
    changed = 0
    for index, line in enumerate(lines):
        new = _resealed(line)
        if new is not None:
            lines[index] = new
            changed += 1
    out = b"\n".join(lines) + b"\n" if lines else b""
    if tail:
        new = _resealed(tail)
        # a whole record whose newline alone was missing gets it; a torn write stays as it is
        out += tail if new is None else new + b"\n"
        changed += new is not None
    return out, changed


def _resealed(line: bytes) -> bytes | None:
    """The schema-3 form of a schema-2 line whose checksum verifies, else ``None``."""
    if len(line) < 12 or line[8:9] != b" " or line[10:11] != b" ":
        return None
    stated = line[:8]
    if b"%08x" % zlib.crc32(line[9:]) == stated:
        return None  # schema 3 already (a migration interrupted after this file)
    if b"%08x" % zlib.crc32(line[11:]) != stated:
        return None
    return b"%08x %s" % (zlib.crc32(line[9:]), line[9:])
