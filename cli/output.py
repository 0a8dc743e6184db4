"""Writing a command's output: to stdout, or to a file that is never left half written."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

T = TypeVar("T")


def write_output(output: Path | None, write: Callable[[TextIO], T]) -> T:
    """Call ``write`` on stdout, or on a temporary file beside ``output`` renamed into place."""
    if output is None:
        return write(sys.stdout)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w",
        dir=output.parent,
        prefix=f".{output.name}.",
        delete=False,
        encoding="utf-8",
        newline="",
    ) as tmp:
        try:
            result = write(tmp)
        except BaseException:
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, output)
    return result
