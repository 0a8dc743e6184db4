"""Ratings into the store from a file in the export's own columns (CSV or JSON Lines).

Paper cards typed into a spreadsheet, another site's export, a restored
backup's export: each line goes through :meth:`Catalogue.new_rating`, the one
validation path (the same as `servicecycle record` and the kiosk), so an
imported rating is exactly what recording it would have made. Nothing is
refused silently: a line that does not validate is reported (file, line,
field, value, what is allowed) and not recorded; the others are.

Importing is idempotent: the export carries each rating's id, and a rating is
filed by its time, so the one partition where a rating would be is read to
see whether its id is there already (a line identical to the stored rating is
skipped; the same id with other values is refused). The file is streamed, a
line at a time, and ratings are written in batches (one fsync per partition
touched per batch), so a file of millions of lines needs little memory.
"""

from __future__ import annotations

import csv
import json
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

from .catalogue import Catalogue
from .errors import RatingError, ServiceCycleError
from .export import COLUMNS, FORMATS, Format
from .rating import Rating, format_time, id_time
from .recorder import Recorder
from .store.contract import RatingStore
from .store.ratings import RatingFilter
from .text import shown

#: Columns a line must have; the others of the export's may be left out or empty.
REQUIRED = ("at", "site", "kiosk", "cycle", "moment", "score", "language")
#: Ratings written at once: one fsync per partition touched per batch.
BATCH = 2000
#: The longest line read; a longer one is reported, not loaded.
MAX_LINE = 1 << 20
#: Days of stored ids kept at hand while importing (a file is mostly in time order).
DAYS_KEPT = 16
#: How a file's format is told from its name with ``--format auto``.
SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

ImportFormat = Literal["auto", "csv", "jsonl"]
#: The value of a field a line does not have.
MISSING = "(missing)"


class ImportFileError(ServiceCycleError):
    """The file as a whole cannot be imported (no header, an unknown column...)."""


@dataclass(frozen=True)
class LineError:
    """One refused line: where, which field, the value as shown, and what is allowed."""

    file: str
    line: int
    field: str | None
    value: str
    allowed: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.field is None:  # the line as a whole
            return f"{where}: {self.value}; {self.allowed}"
        if self.value == MISSING:
            return f"{where}: field {self.field!r} is missing; {self.allowed}"
        return f"{where}: field {self.field!r}: {self.value} is not allowed; {self.allowed}"


@dataclass
class ImportResult:
    """What an import did: lines read, ratings recorded (or that would be, with dry_run)."""

    file: str
    format: Format
    dry_run: bool
    lines: int = 0
    recorded: int = 0
    already_recorded: int = 0
    refused: int = 0


def detect_format(path: Path | str, fmt: ImportFormat) -> Format:
    """The format ``fmt`` names, or (``auto``) the one the file's extension says."""
    if fmt != "auto":
        if fmt not in FORMATS:
            raise ImportFileError(f"unknown format {fmt!r}; use auto, {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportFileError(
            f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}"
            f"; name it .csv or .jsonl, or give --format csv or --format jsonl"
        )
    return SUFFIXES[suffix]


def import_ratings(
    recorder: Recorder,
    source: BinaryIO,
    name: str,
    fmt: Format,
    zone: ZoneInfo,
    *,
    dry_run: bool = False,
    on_error: Callable[[LineError], None] | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> ImportResult:
    """Validate and record every line of ``source`` (called ``name`` in messages).

    ``on_error`` hears each refused line as it is found; ``progress`` hears the
    bytes read so far. A time without a zone is taken as site time (``zone``).
    With ``dry_run`` nothing is written. Raises :class:`ImportFileError` when the
    file as a whole is unusable (before anything is written).
    """
    result = ImportResult(file=name, format=fmt, dry_run=dry_run)
    lines = _Lines(source, name, progress)
    records = _csv_records(lines, name) if fmt == "csv" else _jsonl_records(lines, name)
    pending: list[Rating] = []

    def flush() -> None:
        if pending:
            recorder.record_many(pending)
            pending.clear()

    known = KnownIds(recorder.store.ratings, before_forgetting=flush, remember_all=dry_run)

    def refuse(error: LineError) -> None:
        result.refused += 1
        if on_error is not None:
            on_error(error)

    for number, record in records:
        if isinstance(record, LineError):
            result.lines += 1
            refuse(record)
            continue
        result.lines += 1
        made = _rating(recorder.catalogue, record, zone, csv_text=fmt == "csv")
        if isinstance(made, tuple):
            field, value, allowed = made
            refuse(LineError(name, number, field, value, allowed))
            continue
        stored = known.find(made)
        if stored is not None:
            if stored == made.to_record():
                result.already_recorded += 1
            else:
                refuse(
                    LineError(
                        name,
                        number,
                        "id",
                        shown(made.id),
                        "this id is already recorded with other values; give the line a new "
                        "id (or none) to record it as another rating",
                    )
                )
            continue
        known.add(made)
        result.recorded += 1
        if not dry_run:
            pending.append(made)
            if len(pending) >= batch:
                flush()
    flush()
    return result


# -- reading lines ----------------------------------------------------------------------


class _Lines:
    """The file's lines as text, numbered, each read whole up to :data:`MAX_LINE` bytes.

    A line that is not UTF-8, or too long, becomes a :class:`LineError`; the
    bytes read so far are reported to ``progress``.
    """

    def __init__(self, source: BinaryIO, name: str, progress: Callable[[int], None] | None):
        self.source = source
        self.name = name
        self.progress = progress
        self.number = 0
        self.read = 0

    def __iter__(self) -> Iterator[str | LineError]:
        while True:
            raw = self.source.readline(MAX_LINE + 1)
            if not raw:
                return
            self.number += 1
            self.read += len(raw)
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest, never hold it
                    raw = self.source.readline(MAX_LINE)
                    self.read += len(raw)
                yield LineError(
                    self.name,
                    self.number,
                    None,
                    f"a line of more than {MAX_LINE:,} bytes",
                    "a rating takes a few hundred",
                )
                continue
            if self.progress is not None:
                self.progress(self.read)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield LineError(
                    self.name,
                    self.number,
                    None,
                    f"byte {exc.start + 1} ({raw[exc.start : exc.start + 1]!r}) is not UTF-8",
                    "save the file as UTF-8 text",
                )
                continue
            if self.number == 1:
                text = text.removeprefix("\ufeff")  # spreadsheets begin UTF-8 with a BOM
            yield text


Record = dict[str, Any]


def _csv_records(lines: _Lines, name: str) -> Iterator[tuple[int, Record | LineError]]:
    """(line number, fields by column) per CSV record; the header names the columns."""
    errors: list[LineError] = []

    def texts() -> Iterator[str]:
        for line in lines:
            if isinstance(line, LineError):
                errors.append(line)
                yield "\n"  # keeps the csv reader's count of lines
            else:
                yield line

    reader = csv.reader(texts(), strict=True)
    header: list[str] | None = None
    while True:
        start = lines.number + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end = lines.number  # an unclosed quote takes in the lines after it: say which
            taken = f"; it takes in lines {start:d}-{end:d}, none recorded" if end > start else ""
            yield (
                start,
                LineError(
                    name,
                    start,
                    None,
                    f"not well-formed CSV ({exc}{taken})",
                    'a value with a comma or a quote in it is quoted ("..."), a quote in it doubled',
                ),
            )
            continue
        while errors:
            bad = errors.pop(0)
            yield bad.line, bad
        if not row or row == [""]:
            continue
        if header is None:
            header = _header(row, name, start)
            continue
        if len(row) != len(header):
            yield (
                start,
                LineError(
                    name,
                    start,
                    None,
                    f"{len(row):d} values for {len(header):d} columns",
                    "one value per column of the header (an empty one for a value left out)",
                ),
            )
            continue
        yield start, dict(zip(header, row, strict=True))
    while errors:
        bad = errors.pop(0)
        yield bad.line, bad
    if header is None:
        raise ImportFileError(
            f"{name}: no header line; the first line names the columns: {', '.join(COLUMNS)}"
        )


def _header(row: list[str], name: str, line: int) -> list[str]:
    header = [column.strip() for column in row]
    unknown = [column for column in header if column not in COLUMNS]
    if unknown:
        raise ImportFileError(
            f"{name}:{line}: {shown(unknown[0])} is not a column of the export; "
            f"columns: {', '.join(COLUMNS)}"
        )
    twice = [column for column in COLUMNS if header.count(column) > 1]
    if twice:
        raise ImportFileError(f"{name}:{line}: the column {twice[0]!r} is given twice")
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise ImportFileError(
            f"{name}:{line}: the header lacks {', '.join(missing)}; every line needs "
            f"{', '.join(REQUIRED)} (and may have {', '.join(c for c in COLUMNS if c not in REQUIRED)})"
        )
    return header


def _jsonl_records(lines: _Lines, name: str) -> Iterator[tuple[int, Record | LineError]]:
    """(line number, object) per non-blank line of JSON Lines."""
    for line in lines:
        if isinstance(line, LineError):
            yield line.line, line
            continue
        number = lines.number
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield (
                number,
                LineError(name, number, None, f"not JSON ({exc})", "one JSON object per line"),
            )
            continue
        if not isinstance(record, dict):
            yield (
                number,
                LineError(
                    name,
                    number,
                    None,
                    f"{shown(record)} is not a JSON object",
                    "one JSON object per line",
                ),
            )
            continue
        unknown = [key for key in record if key not in COLUMNS]
        if unknown:
            yield (
                number,
                LineError(
                    name,
                    number,
                    unknown[0],
                    shown(record[unknown[0]]),
                    f"no such field; the export's fields: {', '.join(COLUMNS)}",
                ),
            )
            continue
        yield number, record


# -- one line into a rating -------------------------------------------------------------

Problem = tuple[str, str, str]  # field, value as shown, what is allowed
TEXT_FIELDS = ("id", "site", "kiosk", "cycle", "stage", "moment", "language")


def _rating(
    catalogue: Catalogue, record: Record, zone: ZoneInfo, *, csv_text: bool
) -> Rating | Problem:
    """The rating a line describes, made by :meth:`Catalogue.new_rating`, or what is wrong."""
    for field in REQUIRED:
        if field not in record or record[field] is None:
            return field, MISSING, "every line needs " + ", ".join(REQUIRED)
    for field in TEXT_FIELDS:
        value = record.get(field)
        if value is not None and not isinstance(value, str):
            return field, shown(value), "a text"
    fields: dict[str, Any] = {
        field: record[field] for field in ("site", "kiosk", "cycle", "moment", "language")
    }
    fields["id"] = record.get("id") or None
    fields["stage"] = record.get("stage") or None
    at = _time(record["at"], zone)
    if isinstance(at, tuple):
        return at
    fields["at"] = at
    for field in ("score", "scale"):
        value = record.get(field)
        if csv_text and isinstance(value, str):
            text = value.strip()
            value = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else text
            value = None if value == "" else value
        fields[field] = value
    for field in ("reasons", "flags"):
        value = record.get(field)
        if value is None or (csv_text and isinstance(value, str)):
            fields[field] = tuple(p.strip() for p in (value or "").split(";") if p.strip())
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            fields[field] = tuple(value)
        else:
            return field, shown(value), "a list of ids (in CSV: ids joined with ';')"
    if csv_text and fields["score"] is None:
        return "score", MISSING, "every line needs " + ", ".join(REQUIRED)
    try:
        return catalogue.new_rating(**fields)
    except RatingError as exc:
        return exc.field, shown(exc.value), exc.allowed


def _time(value: object, zone: ZoneInfo) -> datetime | Problem:
    """A rating's time: ISO 8601 (``2026-11-22T07:00:00Z``); without a zone, site time."""
    allowed = (
        "an ISO 8601 time such as 2026-11-22T07:00:00Z or 2026-11-22 10:00 "
        "(without a zone: the site's time)"
    )
    if not isinstance(value, str):
        return "at", shown(value), allowed
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        at = at if at.tzinfo else at.replace(tzinfo=zone)
        return at.astimezone(UTC)
    except (ValueError, OverflowError):
        return "at", shown(value), allowed


# -- ids already stored -----------------------------------------------------------------


class KnownIds:
    """The ids stored (and imported so far) in the partitions an import touches.

    A rating is filed by its time, so its id can only be in that day's
    partition (or, for an id that carries another time, that time's). Each
    day's records are read once and kept while the file stays near that day;
    before a day is forgotten, ``before_forgetting`` writes what is pending, so
    reading it again finds them. A dry run writes nothing, so it remembers the
    ids it accepted (``remember_all``).
    """

    def __init__(
        self,
        ratings: RatingStore,
        *,
        before_forgetting: Callable[[], None] = lambda: None,
        remember_all: bool = False,
    ) -> None:
        self.ratings = ratings
        self.before_forgetting = before_forgetting
        self.days: OrderedDict[str, dict[str, Record]] = OrderedDict()
        self.accepted: dict[str, dict[str, Record]] | None = {} if remember_all else None

    def _day(self, day: str) -> dict[str, Record]:
        if day in self.days:
            self.days.move_to_end(day)
            return self.days[day]
        if len(self.days) >= DAYS_KEPT:
            self.before_forgetting()
            self.days.popitem(last=False)
        found: dict[str, Record] = {}
        for record in self._filed_on(day):
            try:
                found[record["id"]] = Rating.from_record(record).to_record()
            except (KeyError, TypeError, ValueError):  # a record the store reads but cannot be
                found[str(record.get("id"))] = record  # a rating: its id is taken all the same
        if self.accepted is not None:
            found.update(self.accepted.get(day, {}))
        self.days[day] = found
        return found

    def _filed_on(self, day: str) -> Iterator[Record]:
        """The records filed in one UTC day: the folder's partition as it is (even a record
        that is not a rating keeps its id), else the contract's query of that day."""
        filed_on = getattr(self.ratings, "filed_on", None)
        if filed_on is not None:
            yield from filed_on(day)
            return
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        where = RatingFilter(since=start, until=start + timedelta(days=1), include_suspect=True)
        for rating in self.ratings.query(where):
            yield rating.to_record()

    def _where(self, rating: Rating) -> list[str]:
        days = [format_time(rating.at)[:10]]
        carried = id_time(rating.id)
        if carried is not None and format_time(carried)[:10] not in days:
            days.append(format_time(carried)[:10])
        return days

    def find(self, rating: Rating) -> Record | None:
        for day in self._where(rating):
            found = self._day(day).get(rating.id)
            if found is not None:
                return found
        return None

    def add(self, rating: Rating) -> None:
        day = self._where(rating)[0]
        record = rating.to_record()
        self._day(day)[rating.id] = record
        if self.accepted is not None:
            self.accepted.setdefault(day, {})[rating.id] = record
