"""Writing a command's output: to stdout, or to a file that is never left half written.

What ``-o FILE`` names decides how it is written:

- a regular file, or nothing yet: a temporary file beside it is written,
  flushed to disk and renamed over it, so readers see the old or the new
  whole; an existing file keeps its permissions, a new one gets the umask's;
- a symbolic link: followed to the end, and what it points to is written
  by these same rules (the link itself stays);
- a character device (``/dev/null``, a terminal) or a FIFO: written through,
  as a shell's ``>`` would — a device is never replaced by a file;
- a directory, a socket or a block device: refused.

Missing folders on the way are created. Anything the system refuses (no
permission, a file in the way of a folder) is one line naming the path.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

import click

from servicecycle.core import printable

T = TypeVar("T")


#: What is said of a path that is neither a file nor a device one writes through.
_REFUSED = {stat.S_IFDIR: "a folder", stat.S_IFSOCK: "a socket", stat.S_IFBLK: "a block device"}


def write_output(output: Path | None, write: Callable[[TextIO], T]) -> T:
    """Call ``write`` on stdout, or on ``output`` as the module docstring describes."""
    if output is None:
        return write(sys.stdout)
    try:
        mode: int | None = os.stat(output).st_mode
    except FileNotFoundError:
        mode = None  # nothing there yet, or a link to nothing: created
    except OSError as exc:
        raise cannot_write(output, exc) from None
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        return _write_through(output, write)
    if mode is not None and not stat.S_ISREG(mode):
        what = _REFUSED.get(stat.S_IFMT(mode), "not a regular file")
        raise click.ClickException(f"cannot write {printable(output)}: it is {printable(what)}")
    return _replace(output, Path(os.path.realpath(output)), mode, write)


def cannot_write(path: Path, exc: OSError) -> click.ClickException:
    """One line for a path the system would not let us write: the path and the reason."""
    return click.ClickException(f"cannot write {printable(path)}: {printable(exc.strerror or exc)}")


def _write_through(output: Path, write: Callable[[TextIO], T]) -> T:
    try:
        handle = open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise cannot_write(output, exc) from None
    try:
        return write(handle)
    finally:
        try:
            handle.close()
        except OSError as exc:  # e.g. the reader of a FIFO went away
            raise cannot_write(output, exc) from None


def _replace(output: Path, target: Path, mode: int | None, write: Callable[[TextIO], T]) -> T:
    """Write a temporary file beside ``target`` (where ``output`` leads), rename it over."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never write into a file someone else made; 0o666 less the umask, as usual
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise cannot_write(output, exc) from None
    try:
        with open(fd, "w", encoding="utf-8", newline="") as handle:
            if mode is not None:
                os.chmod(fd, stat.S_IMODE(mode))
            result = write(handle)
            handle.flush()
            os.fsync(fd)
        os.replace(temporary, target)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (None, str(temporary), str(target)):
            raise cannot_write(output, exc) from None  # no space left, say
        raise
    return result
