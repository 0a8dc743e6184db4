"""Ratings out of the store, for spreadsheets and other tools."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Literal, TextIO

from .rating import Rating

FORMATS = ("csv", "jsonl")
Format = Literal["csv", "jsonl"]

#: Column order of the CSV export; lists are joined with ";".
COLUMNS = (
    "id",
    "at",
    "site",
    "kiosk",
    "cycle",
    "stage",
    "moment",
    "score",
    "scale",
    "language",
    "reasons",
    "flags",
)


def export(ratings: Iterable[Rating], out: TextIO, fmt: Format) -> int:
    """Write ``ratings`` to ``out`` as CSV (with header) or JSON Lines; return the count."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for rating in ratings:
            record = rating.to_record()
            record["reasons"] = ";".join(record["reasons"])
            record["flags"] = ";".join(record["flags"])
            writer.writerow(record)
            count += 1
    elif fmt == "jsonl":
        for rating in ratings:
            out.write(json.dumps(rating.to_record(), ensure_ascii=False) + "\n")
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    return count
