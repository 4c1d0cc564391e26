"""Only regular files are scans: FIFOs, devices and sockets are refused before they are opened.

Opening a FIFO blocks until a writer comes, and reading ``/dev/zero`` never ends, so a
batch that opens whatever it is given can hang forever. :func:`regular_file_problem`
refuses those from ``stat`` alone; :func:`open_regular` opens without blocking and checks
the opened descriptor again, so a file swapped for a FIFO in between is refused too.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_problem(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is not read as a scan, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a scan file"
    for test, name in _KINDS:
        if test(mode):
            return f"{name}: not a regular file"
    return "not a regular file"


def os_problem(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return exc.strerror or str(exc)


def regular_file_problem(path: str | os.PathLike) -> str | None:
    """None when ``path`` is a regular file (after symlinks), else the one-line reason."""
    try:
        return kind_problem(os.stat(path).st_mode)
    except OSError as exc:
        return os_problem(exc)
    except ValueError as exc:  # an embedded NUL in the name
        return str(exc)


class NotRegularFile(OSError):
    """Raised by :func:`open_regular` for anything but a regular file; ``str()`` is the reason."""


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for reading in binary mode, refusing (never blocking on) non-regular files."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        problem = kind_problem(os.fstat(fd).st_mode)
        if problem:
            raise NotRegularFile(errno.EINVAL, problem, str(path))
        if getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_regular_file(path: str | os.PathLike) -> bool:
    return regular_file_problem(path) is None
