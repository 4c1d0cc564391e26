"""Atomic file writing, for every file Pneumonet writes: readers see the old file or the
complete new one, never a part, and a crash or a cancel leaves nothing half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _default_mode() -> int:
    # mkstemp makes 0600 files; outputs should get the permissions a plain open() gives.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _default_mode()


@contextlib.contextmanager
def atomic_path(path: str | Path, mode: int | None = None, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    The temporary file lives in the same folder so ``os.replace`` is a rename on one file
    system; on any exception (a cancel included) it is removed and ``path`` is left as it
    was. ``mode`` sets the final permissions (default: what ``open()`` would give);
    ``suffix`` ends the temporary name, for writers that insist on one (Keras weights).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial" + suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with contextlib.suppress(OSError):
            os.chmod(tmp_path, _MODE if mode is None else mode)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    with atomic_path(path) as tmp:
        # newline="" keeps the caller's line endings (CSV writes \r\n itself).
        with open(tmp, "w", encoding=encoding, newline="") as fh:
            fh.write(text)
    return Path(path)


def copy_file_atomic(source: str | Path, path: str | Path) -> Path:
    """Copy ``source`` to ``path`` so that ``path`` appears only when complete."""
    import shutil

    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)
    return Path(path)


class AppendingFile:
    """A text file written row by row beside ``path`` and moved into place when closed.

    For outputs that grow during a long run (the batch CSV): rows go to a temporary
    ``.name.*.partial`` file in the same folder, each flushed as it is written, and
    :meth:`close` renames it to ``path`` in one step, so ``path`` only ever holds whole
    rows, also after a Ctrl-C or SIGTERM (the caller closes on its way out).
    :meth:`discard` removes the temporary file instead. Opening fails at once when the
    folder cannot be written, before any work is done.
    """

    def __init__(self, path: str | Path, mode: int | None = None, encoding: str = "utf-8"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        self.tmp_path = Path(tmp)
        self._mode = _MODE if mode is None else mode
        # newline="" keeps the caller's line endings (CSV writes \r\n itself).
        self._fh = os.fdopen(fd, "w", encoding=encoding, newline="")

    @property
    def closed(self) -> bool:
        return self._fh.closed

    def write(self, text: str) -> None:
        self._fh.write(text)
        self._fh.flush()

    def close(self) -> Path:
        """Move what was written into place (idempotent); return ``path``."""
        if not self._fh.closed:
            self._fh.close()
            with contextlib.suppress(OSError):
                os.chmod(self.tmp_path, self._mode)
            os.replace(self.tmp_path, self.path)
        return self.path

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        with contextlib.suppress(OSError):
            self.tmp_path.unlink()

    def __enter__(self) -> "AppendingFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_writable(path: str | Path) -> None:
    """Raise OSError now if ``path`` could not be written atomically later (folder missing
    and not creatable, not writable, or ``path`` is a folder)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "is a folder", str(path))
    for folder in path.parents:  # mkdir would only say "File exists" about a file on the way
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                raise NotADirectoryError(20, f"{folder} is a file, not a folder", str(path))
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
