"""Atomic file writing, for every file Pneumonet writes: readers see the old file or the
complete new one, never a part, and a crash or a cancel leaves nothing half-written.

Temporary files are hidden (``.NAME.PID.xxxx.partial``). A process killed outright
(SIGKILL, power loss) cannot remove its own, so the first write into a folder by a
process removes the ones left there by processes that no longer run (by their PID in the
name; older ones without a PID when untouched for an hour).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

#: A temporary file without a PID in its name is stale after this long untouched.
STALE_AFTER_S = 3600
#: ``.NAME.PID.RANDOM.partial...``: mkstemp's random part is 8 characters without a dot.
_PARTIAL_NAME = re.compile(r"^\..+\.(\d{1,10})\.[a-z0-9_]{8}\.partial")
_cleaned: set[str] = set()
_cleaned_lock = threading.Lock()


def _default_mode() -> int:
    # mkstemp makes 0600 files; outputs should get the permissions a plain open() gives.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _default_mode()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # someone else's process, or cannot tell: leave its file alone
    return True


def remove_stale_partials(folder: str | Path, force: bool = False) -> list[Path]:
    """Remove the temporary files that dead processes left in ``folder`` (once per process
    and folder unless ``force``); return those removed."""
    folder = Path(folder)
    with _cleaned_lock:
        if str(folder) in _cleaned and not force:
            return []
        _cleaned.add(str(folder))
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or ".partial" not in name:
            continue
        match = _PARTIAL_NAME.match(name)
        pid = int(match.group(1)) if match else None
        try:
            stale = not _alive(pid) if pid is not None else time.time() - entry.stat(
                follow_symlinks=False).st_mtime > STALE_AFTER_S
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _temporary(path: Path, suffix: str = "") -> tuple[int, str]:
    remove_stale_partials(path.parent)
    return tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".partial" + suffix, dir=path.parent)


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
    fd, tmp = _temporary(path, suffix)
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
        fd, tmp = _temporary(self.path)
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

    def __enter__(self) -> AppendingFile:
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
